"""The cni suite against Debian's containernetworking-plugins (real peers).

Every failure must be explained: a declared deviation (known-deviation outcome) or a warning
below the chosen level. The runs happen in subprocesses exactly as a user would start them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.cni.selftest import outcomes, run_suite

DEBIAN = Path("/usr/lib/cni")
pytestmark = [
    pytest.mark.peer,
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        not (DEBIAN / "bridge").exists(), reason="containernetworking-plugins is not installed"
    ),
]
UNEXPLAINED = {"failed", "error"}


def _unexplained(document: dict) -> dict[str, str]:
    return {t: o for t, o in outcomes(document).items() if o in UNEXPLAINED}


def test_debian_bridge_and_host_local_have_no_unexplained_failure(tmp_path: Path) -> None:
    """bridge + host-local + loopback, every claimed version: only declared deviations."""
    proc, document = run_suite(
        tmp_path, f"--cni-path={DEBIAN}", "--cni-plugin", "bridge", "-n", "2"
    )
    assert document["target"]["name"] == "containernetworking-plugins"
    assert not _unexplained(document), proc.stdout[-4000:]
    assert document["summary"]["known_deviations"] >= 1


@pytest.mark.parametrize("plugin", ["ptp", "macvlan"])
def test_debian_interface_plugins_have_no_unexplained_failure(tmp_path: Path, plugin: str) -> None:
    """ptp and macvlan (on a veth master inside the lab) at CNI 1.0.0: only known deviations."""
    proc, document = run_suite(
        tmp_path,
        f"--cni-path={DEBIAN}",
        "--cni-plugin",
        plugin,
        "--cni-versions",
        "1.0.0",
        "-n",
        "2",
        "-k",
        "test_add or test_del or test_check or test_chain",
    )
    assert document["summary"]["passed"] > 10, proc.stdout[-4000:]
    assert not _unexplained(document), proc.stdout[-4000:]


def test_debian_portmap_chain_has_no_unexplained_failure(tmp_path: Path) -> None:
    """bridge followed by portmap in a list: portmap's CHECK bug is a declared deviation."""
    proc, document = run_suite(
        tmp_path,
        f"--cni-path={DEBIAN}",
        "--cni-chained",
        "portmap",
        "--cni-versions",
        "1.0.0",
        "-k",
        "test_chain",
    )
    assert document["summary"]["passed"] >= 1, proc.stdout[-4000:]
    assert not _unexplained(document), proc.stdout[-4000:]
