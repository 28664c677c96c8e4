"""The loopback plugin (the runtime's usual first plugin; CNI spec 1.1.0 sections 2 and 5)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import check_result_format, expect_ok, expect_silent_ok, since
from conformance.cni.lab import Lab
from conformance.cni.netns import Netns
from conformance.core import check, check_equal, not_applicable

ROLE = "loopback"


@pytest.fixture
def loopback(lab: Lab) -> str:
    """The loopback plugin's type; not applicable when it is not on the path."""
    plugin = lab.target.roles["loopback"]
    if not lab.runner.has(plugin):
        not_applicable(f"loopback plugin {plugin!r} is not on the CNI path")
    return plugin


def _config(lab: Lab, plugin: str, version: str) -> dict:
    return {"cniVersion": version, "name": lab.network, "type": plugin}


@pytest.mark.requirement("add-result-format", "add-interface-state", "result-version")
def test_loopback_add_brings_lo_up_as_reported(lab: Lab, loopback: str, cni_version: str) -> None:
    """ADD brings lo up and reports it with its addresses in the shape of the version."""
    ns = lab.container()
    call = lab.call(
        "ADD", _config(lab, loopback, cni_version), ns, lab.container_id(), "lo", plugin=loopback
    )
    expect_ok(call, "loopback ADD")
    result = call.json()
    check_result_format(result, cni_version, "loopback result")
    check_equal(result.get("cniVersion"), cni_version, "loopback result/cniVersion")
    check(ns.links()["lo"].up, f"{ns.name}: lo", "up", "down")
    reported = {ip["address"] for ip in result.get("ips", [])}
    check(
        reported <= ns.addresses("lo"),
        f"{ns.name}: lo addresses",
        sorted(reported),
        sorted(ns.addresses("lo")),
    )


@pytest.mark.requirement("del-repeated", "del-netns-gone")
def test_loopback_del_is_idempotent(lab: Lab, loopback: str, cni_version: str) -> None:
    """DEL succeeds repeatedly and after the namespace is gone."""
    ns = lab.container()
    cid = lab.container_id()
    config = _config(lab, loopback, cni_version)
    expect_ok(lab.call("ADD", config, ns, cid, "lo", plugin=loopback), "loopback ADD")
    for i in range(2):
        expect_ok(lab.call("DEL", config, ns, cid, "lo", plugin=loopback), f"DEL #{i + 1}")
    ns.remove()
    expect_ok(
        lab.call("DEL", config, Netns(ns.name), cid, "lo", plugin=loopback),
        "DEL after the namespace is gone",
    )


@since("0.4.0")
@pytest.mark.requirement("check-ok")
def test_loopback_check_after_add_succeeds(lab: Lab, loopback: str, cni_version: str) -> None:
    """CHECK after ADD succeeds silently."""
    ns = lab.container()
    cid = lab.container_id()
    config = _config(lab, loopback, cni_version)
    add = lab.call("ADD", config, ns, cid, "lo", plugin=loopback)
    expect_ok(add, "loopback ADD")
    call = lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid, "lo", plugin=loopback)
    expect_silent_ok(call, "loopback CHECK")
