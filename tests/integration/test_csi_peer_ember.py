"""The CSI suite against ember-csi 0.9.1, a third-party CSI plugin (optional peer).

No CSI driver is packaged in Debian. ember-csi comes from PyPI and needs its own virtualenv
(it pins protobuf 3.20): build one and point ``CSI_EMBER_VENV`` at it::

    python3.11 -m venv /opt/ember && /opt/ember/bin/pip install ember-csi==0.9.1 \\
        fixtures 'protobuf==3.20.3'

ember-csi runs with cinder's fake backend, which can create, snapshot and clone volumes but
cannot attach them (no iSCSI target) or extend them; the tests that need those are
deselected here as environment limits, not counted as findings. Every other failure must be
a declared deviation in ``conformance/csi/deviations/ember-csi.yaml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite

# Tests that need the backend to attach (NodeStageVolume) or extend a volume.
NEEDS_ATTACH = (
    "stage_twice or stage_again or unstage_twice or publish_makes or readonly_refuses "
    "or same_target or publish_twice or without_staging_path or unpublish_twice "
    "or stats_at_unrelated or reports_usage or node_expand_after or has_the "
    "or controller_expand_grows or multi_writer or single_writer"
)


def ember_binary() -> Path:
    """The ember-csi executable of ``$CSI_EMBER_VENV``, or skip."""
    venv = os.environ.get("CSI_EMBER_VENV")
    if not venv:
        pytest.skip("set CSI_EMBER_VENV to a virtualenv with ember-csi 0.9.1")
    binary = Path(venv) / "bin" / "ember-csi"
    if not binary.exists():
        pytest.skip(f"{binary} does not exist")
    return binary


@pytest.fixture
def ember(tmp_path):
    """ember-csi serving every service on a temporary UNIX socket."""
    binary = ember_binary()
    socket = tmp_path / "ember.sock"
    (tmp_path / "state").mkdir()
    env = {
        **os.environ,
        "CSI_ENDPOINT": f"unix://{socket}",
        "CSI_MODE": "all",
        "X_CSI_SPEC_VERSION": "1.1.0",
        "X_CSI_NODE_ID": "ember-node",
        "X_CSI_PERSISTENCE_CONFIG": json.dumps({"storage": "memory"}),
        "X_CSI_EMBER_CONFIG": json.dumps(
            {"root_helper": "", "state_path": str(tmp_path / "state"), "plugin_name": "conf"}
        ),
        "X_CSI_BACKEND_CONFIG": json.dumps(
            {"name": "fake", "driver": "cinder.tests.fake_driver.FakeLoggingVolumeDriver"}
        ),
    }
    with open(tmp_path / "ember.log", "wb") as log:
        proc = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not socket.exists():
            assert proc.poll() is None, (tmp_path / "ember.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "ember-csi did not create its socket"
            time.sleep(0.2)
        yield f"unix://{socket}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.peer
@pytest.mark.slow
def test_suite_against_ember_csi_has_only_declared_deviations(ember, tmp_path):
    """Against ember-csi every test passes, skips by capability, or is a declared deviation."""
    run = run_suite(
        "csi",
        tmp_path / "report",
        "-n",
        "0",
        "--level=should",
        f"--csi-endpoint={ember}",
        f"--csi-volume-size={1 << 30}",
        "--implementation=ember-csi",
        "-k",
        f"not ({NEEDS_ATTACH})",
        timeout=600,
    )

    document = run.document
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in document["tests"]}
    assert document["target"]["name"] == "conf.ember-csi.io"
    bad = {n: o for n, o in outcomes.items() if o in ("failed", "error")}
    assert bad == {}
    deviations = {n for n, o in outcomes.items() if o == "known-deviation"}
    assert deviations == {
        "test_create_volume_with_incomplete_capability_is_invalid_argument[access_type]",
        "test_node_unpublish_of_unknown_volume_is_not_found_or_ok",
    }
