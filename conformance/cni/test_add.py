"""ADD (CNI spec 1.1.0 section 2 "ADD", section 5 "Success")."""

from __future__ import annotations

import contextvars
import ipaddress
from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance.cni.checks import (
    check_result_format,
    expect_error,
    expect_ok,
    ips_of,
    sandbox_interface,
    since,
)
from conformance.cni.lab import DNS, SINGLE_ADDRESS, Lab
from conformance.cni.runner import SPEC
from conformance.core import check, check_equal, not_applicable

pytestmark = pytest.mark.usefixtures("main_plugin")
CONCURRENT_ADDS = 6


@pytest.mark.requirement("add-result-format", "result-version", "stdout-single-document")
def test_add_result_has_the_format_of_its_version(lab: Lab, cni_version: str) -> None:
    """ADD prints one result in the shape of the requested version, carrying that version."""
    call, _, _ = lab.add(cni_version)
    expect_ok(call, "ADD")
    result = call.json("ADD stdout")
    check_result_format(result, cni_version, "ADD result")
    check_equal(result.get("cniVersion"), cni_version, "ADD result/cniVersion")


@pytest.mark.requirement("add-interface-state")
def test_add_creates_the_reported_interface_in_the_namespace(lab: Lab, cni_version: str) -> None:
    """CNI_IFNAME exists in CNI_NETNS with the MAC, addresses and sandbox the result names."""
    call, ns, _ = lab.add(cni_version)
    expect_ok(call, "ADD")
    result = call.json()
    index, iface = sandbox_interface(result, "eth0")
    check_equal(iface["sandbox"], ns.path, f"result/interfaces/{index}/sandbox")
    link = ns.links().get("eth0")
    check(link is not None, f"{ns.name}: eth0", "the interface ADD reported", "no such link")
    assert link is not None
    if iface.get("mac"):
        check_equal(link.mac, iface["mac"].lower(), f"{ns.name}: eth0 MAC")
    wanted = ips_of(result, index)
    check(wanted, f"result/ips (interface {index})", "at least one address", result.get("ips"))
    have = ns.addresses("eth0")
    check(
        wanted <= have,
        f"{ns.name}: eth0 addresses",
        f"to include {sorted(wanted)}",
        sorted(have),
        SPEC + "#add-add-container-to-network-or-apply-modifications",
    )


@pytest.mark.requirement("add-routes-state")
def test_add_installs_the_reported_routes(lab: Lab, cni_version: str) -> None:
    """Every route of the result is present in the container's main routing table."""
    call, ns, _ = lab.add(cni_version)
    expect_ok(call, "ADD")
    routes = call.json().get("routes") or []
    if not routes:
        not_applicable("the result reports no routes")
    present = ns.routes()
    for i, route in enumerate(routes):
        dst = str(ipaddress.ip_network(route["dst"], strict=False))
        match = [r for r in present if r["dst"] == dst]
        check(match, f"{ns.name}: route {dst}", f"result/routes/{i} installed", present)
        if route.get("gw"):
            check(
                any(r["gw"] == route["gw"] for r in match),
                f"{ns.name}: route {dst} gw",
                route["gw"],
                [r["gw"] for r in match],
            )


@since("1.1.0")
@pytest.mark.requirement("add-mtu-state")
def test_add_reports_the_mtu_the_kernel_shows(lab: Lab, cni_version: str) -> None:
    """An interface mtu in the result equals the MTU of that link in the namespace."""
    call, ns, _ = lab.add(cni_version)
    expect_ok(call, "ADD")
    index, iface = sandbox_interface(call.json(), "eth0")
    if "mtu" not in iface:
        not_applicable("the result reports no mtu for the container interface")
    check_equal(
        ns.links()["eth0"].mtu,
        iface["mtu"],
        f"{ns.name}: eth0 MTU vs result/interfaces/{index}/mtu",
    )


@pytest.mark.requirement("add-dns-result")
def test_add_reports_configured_dns(lab: Lab, cni_version: str) -> None:
    """The dns object of the configuration comes back in the result."""
    call, _, _ = lab.add(cni_version)
    expect_ok(call, "ADD")
    dns = call.json().get("dns") or {}
    check_equal(dns.get("nameservers"), DNS["nameservers"], "result/dns/nameservers")


@pytest.mark.requirement("add-interface-exists", "error-object")
def test_add_fails_when_the_interface_already_exists(lab: Lab, cni_version: str) -> None:
    """ADD into a namespace that already has CNI_IFNAME fails and leaves that link alone."""
    ns = lab.container()
    ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
    before = ns.links()["eth0"]
    call, _, _ = lab.add(cni_version, ns)
    expect_error(call, "ADD with an existing eth0")
    after = ns.links().get("eth0")
    check_equal(after.index if after else None, before.index, f"{ns.name}: eth0 ifindex")


@pytest.mark.requirement("add-interface-exists", "error-object")
def test_duplicate_add_fails_and_keeps_the_first_attachment(lab: Lab, cni_version: str) -> None:
    """A second ADD of the same container and ifname fails; the first attachment survives."""
    first, ns, cid = lab.add(cni_version)
    expect_ok(first, "first ADD")
    addresses = ips_of(first.json())
    second, _, _ = lab.add(cni_version, ns, cid)
    expect_error(second, "second ADD of the same attachment")
    check(
        addresses <= ns.addresses("eth0"),
        f"{ns.name}: eth0 addresses after second ADD",
        sorted(addresses),
        sorted(ns.addresses("eth0")),
    )


def _failing_after_ipam(lab: Lab, version: str) -> dict:
    # A route through a gateway that is not on-link makes the kernel refuse it, so the
    # plugin fails after IPAM handed out the address.
    config = lab.config(version, single=True)
    config["ipam"]["routes"] = [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]
    return config


@pytest.mark.requirement("add-failure-releases")
def test_failed_add_releases_its_address(lab: Lab, cni_version: str) -> None:
    """An ADD failing after IPAM leaves the address free for the next container."""
    failed, _, _ = lab.add(cni_version, config=_failing_after_ipam(lab, cni_version))
    expect_error(failed, "ADD with an unreachable route gateway")
    retry, _, _ = lab.add(cni_version, config=lab.config(cni_version, single=True))
    expect_ok(retry, f"ADD of another container into the one-address range {SINGLE_ADDRESS}")


@pytest.mark.requirement("add-concurrent")
def test_concurrent_adds_get_distinct_addresses(lab: Lab, cni_version: str) -> None:
    """Parallel ADDs of different containers all succeed and never share an address."""
    namespaces = [lab.container() for _ in range(CONCURRENT_ADDS)]
    config = lab.config(cni_version)

    def one(ns):
        return lab.add(cni_version, ns, config=config)[0]

    with ThreadPoolExecutor(CONCURRENT_ADDS) as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, ns) for ns in namespaces]
        calls = [f.result() for f in futures]
    for i, call in enumerate(calls):
        expect_ok(call, f"concurrent ADD #{i}")
    addresses = [a for call in calls for a in ips_of(call.json())]
    check_equal(len(set(addresses)), len(addresses), "addresses of concurrent ADDs (distinct)")
