"""The IPAM plugin on its own (CNI spec 1.1.0 section 4 and section 5 "IPAM result")."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance.cni.checks import check_result_format, expect_ok, ips_of, since
from conformance.cni.lab import SINGLE_ADDRESS, Lab
from conformance.cni.runner import SPEC, Call
from conformance.core import check, check_equal, not_applicable

ROLE = "ipam"
CONCURRENT = 10


@pytest.fixture
def ipam_plugin(lab: Lab) -> str:
    """The IPAM plugin's type; not applicable when it is not on the path."""
    plugin = lab.target.roles["ipam"]
    if not lab.runner.has(plugin):
        not_applicable(f"IPAM plugin {plugin!r} is not on the CNI path")
    return plugin


def _ipam(lab: Lab, plugin: str, command: str, config: dict, cid: str) -> Call:
    # IPAM plugins get the caller's environment; the namespace is only named, never entered.
    ns = lab.containers[0] if lab.containers else lab.container()
    return lab.call(command, config, ns, cid, plugin=plugin)


@pytest.mark.requirement("ipam-result", "add-result-format", "result-version")
def test_ipam_add_returns_addresses_without_interfaces(
    lab: Lab, ipam_plugin: str, cni_version: str
) -> None:
    """IPAM ADD reports ips without interface indexes and no interfaces."""
    call = _ipam(lab, ipam_plugin, "ADD", lab.ipam_config(cni_version), lab.container_id())
    expect_ok(call, "IPAM ADD")
    result = call.json("IPAM ADD stdout")
    check_result_format(result, cni_version, "IPAM result", ipam=True)
    check_equal(result.get("cniVersion"), cni_version, "IPAM result/cniVersion")
    check(
        not result.get("interfaces"),
        "IPAM result/interfaces",
        "absent or empty",
        result.get("interfaces"),
        SPEC + "#ipam-success",
    )
    indexed = [ip for ip in result["ips"] if "interface" in ip]
    check(not indexed, "IPAM result/ips/*/interface", "absent", indexed, SPEC + "#ipam-success")


@pytest.mark.requirement("ipam-release")
def test_ipam_del_releases_the_address(lab: Lab, ipam_plugin: str, cni_version: str) -> None:
    """After IPAM DEL the single address of the range goes to the next container."""
    config = lab.ipam_config(cni_version, single=True)
    first = lab.container_id()
    expect_ok(_ipam(lab, ipam_plugin, "ADD", config, first), "IPAM ADD")
    expect_ok(_ipam(lab, ipam_plugin, "DEL", config, first), "IPAM DEL")
    again = _ipam(lab, ipam_plugin, "ADD", config, lab.container_id())
    expect_ok(again, f"IPAM ADD into the one-address range {SINGLE_ADDRESS}")


@pytest.mark.requirement("del-repeated")
def test_ipam_repeated_del_succeeds(lab: Lab, ipam_plugin: str, cni_version: str) -> None:
    """IPAM DEL of a released or never-known container succeeds."""
    config = lab.ipam_config(cni_version)
    cid = lab.container_id()
    expect_ok(_ipam(lab, ipam_plugin, "ADD", config, cid), "IPAM ADD")
    for i in range(2):
        expect_ok(_ipam(lab, ipam_plugin, "DEL", config, cid), f"IPAM DEL #{i + 1}")
    expect_ok(_ipam(lab, ipam_plugin, "DEL", config, lab.container_id()), "IPAM DEL unknown")


@pytest.mark.requirement("add-concurrent")
def test_ipam_concurrent_adds_get_distinct_addresses(
    lab: Lab, ipam_plugin: str, cni_version: str
) -> None:
    """Parallel IPAM ADDs for different containers never hand out one address twice."""
    config = lab.ipam_config(cni_version)
    lab.container()
    ids = [lab.container_id() for _ in range(CONCURRENT)]
    with ThreadPoolExecutor(CONCURRENT) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, _ipam, lab, ipam_plugin, "ADD", config, cid)
            for cid in ids
        ]
        calls = [f.result() for f in futures]
    for i, call in enumerate(calls):
        expect_ok(call, f"concurrent IPAM ADD #{i}")
    addresses = [a for call in calls for a in ips_of(call.json())]
    check_equal(len(set(addresses)), len(addresses), "addresses of concurrent IPAM ADDs")


@since("0.4.0")
@pytest.mark.requirement("check-ok")
def test_ipam_check_after_add_succeeds(lab: Lab, ipam_plugin: str, cni_version: str) -> None:
    """IPAM CHECK of a live reservation succeeds."""
    config = lab.ipam_config(cni_version)
    cid = lab.container_id()
    add = _ipam(lab, ipam_plugin, "ADD", config, cid)
    expect_ok(add, "IPAM ADD")
    expect_ok(
        _ipam(lab, ipam_plugin, "CHECK", {**config, "prevResult": add.json()}, cid), "IPAM CHECK"
    )


@since("1.1.0")
@pytest.mark.requirement("status-ready")
def test_ipam_status_succeeds(lab: Lab, ipam_plugin: str, cni_version: str) -> None:
    """IPAM STATUS with a usable configuration succeeds."""
    call = lab.runner.call(ipam_plugin, "STATUS", lab.ipam_config(cni_version))
    expect_ok(call, "IPAM STATUS")
