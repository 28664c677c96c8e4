"""CHECK (CNI spec 1.1.0 section 2 "CHECK"; configurations of version 0.4.0 and later)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import before, expect_error, expect_ok, expect_silent_ok, since
from conformance.cni.lab import Lab
from conformance.cni.netns import Netns
from conformance.cni.runner import Call

pytestmark = pytest.mark.usefixtures("main_plugin")


def _added(lab: Lab, version: str) -> tuple[dict, Call, Netns, str]:
    config = lab.config(version)
    add, ns, cid = lab.add(version, config=config)
    expect_ok(add, "ADD")
    return config, add, ns, cid


@since("0.4.0")
@pytest.mark.requirement("check-ok")
def test_check_right_after_add_succeeds(lab: Lab, cni_version: str) -> None:
    """CHECK with the ADD result as prevResult succeeds silently."""
    config, add, ns, cid = _added(lab, cni_version)
    call = lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid)
    expect_silent_ok(call, "CHECK")


@since("0.4.0")
@pytest.mark.requirement("check-prevresult-required", "error-object")
def test_check_without_prev_result_fails(lab: Lab, cni_version: str) -> None:
    """CHECK without prevResult fails."""
    config, _, ns, cid = _added(lab, cni_version)
    expect_error(lab.call("CHECK", config, ns, cid), "CHECK without prevResult")


@since("0.4.0")
@pytest.mark.requirement("check-tampered", "error-object")
@pytest.mark.parametrize("tamper", ["delete-interface", "flush-addresses"])
def test_check_detects_tampered_attachment(lab: Lab, cni_version: str, tamper: str) -> None:
    """CHECK fails once the interface or its addresses listed in prevResult are gone."""
    config, add, ns, cid = _added(lab, cni_version)
    if tamper == "delete-interface":
        ns.ip("link", "del", "eth0")
    else:
        ns.ip("addr", "flush", "dev", "eth0")
    call = lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid)
    expect_error(call, f"CHECK after {tamper}")


@since("0.4.0")
@pytest.mark.requirement("check-ipam")
def test_check_detects_released_reservation(lab: Lab, cni_version: str) -> None:
    """CHECK fails once the IPAM plugin no longer holds the attachment's address."""
    config, add, ns, cid = _added(lab, cni_version)
    release = lab.call("DEL", config, ns, cid, plugin=lab.target.roles["ipam"])
    expect_ok(release, "IPAM DEL behind the plugin's back")
    call = lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid)
    expect_error(call, "CHECK after the reservation was released")


@before("0.4.0")
@pytest.mark.requirement("check-version", "error-object")
def test_check_on_a_pre_0_4_configuration_is_refused(lab: Lab, cni_version: str) -> None:
    """CHECK does not exist before 0.4.0, so such a configuration is refused."""
    config, add, ns, cid = _added(lab, cni_version)
    call = lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid)
    expect_error(call, f"CHECK with cniVersion {cni_version}")
