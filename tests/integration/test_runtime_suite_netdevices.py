"""The netDevices tests fail against a reference runtime broken on purpose, and skip on cue.

A wrapper (``--runtime-wrapper``) around the bundled reference runtime misbehaves in one of
three ways, chosen by ``NETDEV_BREAK``:

* ``ignore``: drops ``linux.netDevices`` from config.json before ``create`` (what a runtime
  older than spec 1.3 does): every netDevices test must fail;
* ``half``: lets the move happen, then flushes the device's addresses and sets it down in the
  container's network namespace: only the addresses and up tests must fail;
* ``features-off``: reports ``linux.netDevices.enabled: false`` in ``features``: every
  netDevices test must be a capability skip.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite

pytestmark = [pytest.mark.peer, pytest.mark.slow]

WRAPPER = textwrap.dedent(
    """\
    import json, os, subprocess, sys

    MODE = os.environ["NETDEV_BREAK"]
    argv = sys.argv[1:]
    if MODE == "features-off" and "features" in argv:
        doc = json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
        doc.setdefault("linux", {})["netDevices"] = {"enabled": False}
        print(json.dumps(doc))
        sys.exit(0)
    if "create" not in argv:
        os.execv(argv[0], argv)
    tail = argv[argv.index("create") + 1:]
    config = os.path.join(tail[tail.index("--bundle") + 1], "config.json")
    with open(config) as f:
        data = json.load(f)
    if MODE == "ignore":
        data.get("linux", {}).pop("netDevices", None)
        with open(config, "w") as f:
            json.dump(data, f)
        os.execv(argv[0], argv)
    rc = subprocess.run(argv).returncode
    if rc == 0 and MODE == "half":
        pid = open(tail[tail.index("--pid-file") + 1]).read().strip()
        for key, dev in data["linux"].get("netDevices", {}).items():
            name, net = dev.get("name", key), ["nsenter", f"--net=/proc/{pid}/ns/net", "ip"]
            subprocess.run([*net, "addr", "flush", "dev", name])
            subprocess.run([*net, "link", "set", name, "down"])
    sys.exit(rc)
    """
)

TESTS = (
    "test_net_device_is_moved_under_its_new_name",
    "test_net_device_without_name_keeps_its_host_name",
    "test_net_device_keeps_its_global_addresses",
    "test_net_device_is_up_in_the_container",
    "test_net_device_name_template_gets_a_free_name",
    "test_net_device_name_in_use_fails_create",
    "test_missing_net_device_fails_create",
    "test_net_device_is_not_moved_back_on_delete",
)

EXPECTED = {
    "ignore": dict.fromkeys(TESTS, "failed"),
    "half": {
        **dict.fromkeys(TESTS, "passed"),
        "test_net_device_keeps_its_global_addresses": "failed",
        "test_net_device_is_up_in_the_container": "failed",
    },
    "features-off": dict.fromkeys(TESTS, "skipped"),
}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_netdevice_tests_follow_the_breakage(tmp_path: Path, mode: str) -> None:
    """Each way of breaking netDevices fails (or skips) exactly the tests that check it."""
    if os.geteuid() != 0:
        pytest.skip("the runtime suite needs root")
    wrapper = tmp_path / "netdev_wrapper.py"
    wrapper.write_text(WRAPPER)

    run = run_suite(
        "runtime",
        tmp_path / "report",
        f"--runtime-wrapper={sys.executable} {wrapper}",
        f"--implementation=netdev-{mode}",
        f"--runtime-root={tmp_path / 'root'}",
        "-k",
        " or ".join(TESTS),
        env={"NETDEV_BREAK": mode},
        timeout=240,
    )

    outcomes = run.outcomes()
    if all(o == "skipped" for o in outcomes.values()) and mode != "features-off":
        pytest.skip("the host cannot make a virtual network device: " + run.stdout[-300:])
    assert outcomes == EXPECTED[mode], run.output_tail()
