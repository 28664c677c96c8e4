"""DEL (CNI spec 1.1.0 section 2 "DEL", section 3 on DEL after failures)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import expect_error, expect_ok
from conformance.cni.lab import SINGLE_ADDRESS, Lab
from conformance.cni.netns import Netns
from conformance.cni.test_add import _failing_after_ipam
from conformance.core import check

pytestmark = pytest.mark.usefixtures("main_plugin")


def _with_prev(config: dict, result: object) -> dict:
    return {**config, "prevResult": result}


def _host_leftovers(lab: Lab, before: set[str]) -> list[str]:
    # Bridges survive DEL by design (other containers may use them); anything else the
    # plugin created on the host side must be gone.
    return sorted(
        n for n, link in lab.host.links().items() if n not in before and link.kind != "bridge"
    )


def _address_is_free(lab: Lab, version: str) -> None:
    retry, _, _ = lab.add(version, config=lab.config(version, single=True))
    expect_ok(retry, f"ADD of another container into the one-address range {SINGLE_ADDRESS}")


@pytest.mark.requirement("del-cleans")
def test_del_removes_interface_links_and_address(lab: Lab, cni_version: str) -> None:
    """After DEL the interface and host links are gone and the address can be reused."""
    config = lab.config(cni_version, single=True)
    before = set(lab.host.links())
    add, ns, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    expect_ok(lab.call("DEL", _with_prev(config, add.json()), ns, cid), "DEL")
    check("eth0" not in ns.links(), f"{ns.name}: eth0", "removed by DEL", "still present")
    left = _host_leftovers(lab, before)
    check(not left, f"{lab.host.name} links", "no links left but bridges", left)
    _address_is_free(lab, cni_version)


@pytest.mark.requirement("del-no-prevresult")
def test_del_without_prev_result_succeeds(lab: Lab, cni_version: str) -> None:
    """DEL without prevResult succeeds after an ADD."""
    config = lab.config(cni_version)
    add, ns, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    expect_ok(lab.call("DEL", config, ns, cid), "DEL without prevResult")


@pytest.mark.requirement("del-repeated")
def test_repeated_del_succeeds(lab: Lab, cni_version: str) -> None:
    """DEL keeps succeeding when its resources are already gone, with or without prevResult."""
    config = lab.config(cni_version)
    add, ns, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    full = _with_prev(config, add.json())
    for i, cfg in enumerate((full, full, config)):
        expect_ok(lab.call("DEL", cfg, ns, cid), f"DEL #{i + 1}")


@pytest.mark.requirement("del-no-netns")
def test_del_without_netns_succeeds(lab: Lab, cni_version: str) -> None:
    """DEL without CNI_NETNS succeeds, for a never-added and for an added container."""
    config = lab.config(cni_version)
    expect_ok(lab.call("DEL", config, None, lab.container_id()), "DEL of an unknown container")
    add, _, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    expect_ok(lab.call("DEL", _with_prev(config, add.json()), None, cid), "DEL without netns")


@pytest.mark.requirement("del-netns-gone")
def test_del_after_namespace_removal_releases_address(lab: Lab, cni_version: str) -> None:
    """DEL naming a namespace that no longer exists succeeds and frees the address."""
    config = lab.config(cni_version, single=True)
    add, ns, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    ns.remove()
    expect_ok(
        lab.call("DEL", _with_prev(config, add.json()), Netns(ns.name), cid),
        "DEL after the namespace was removed",
    )
    _address_is_free(lab, cni_version)


@pytest.mark.requirement("del-after-failed-add")
def test_del_after_failed_add_leaves_nothing(lab: Lab, cni_version: str) -> None:
    """DEL following a failed ADD succeeds; no link, address or reservation of it is left."""
    config = _failing_after_ipam(lab, cni_version)
    before = set(lab.host.links())
    add, ns, cid = lab.add(cni_version, config=config)
    expect_error(add, "ADD with an unreachable route gateway")
    expect_ok(lab.call("DEL", config, ns, cid), "DEL after the failed ADD")
    check("eth0" not in ns.links(), f"{ns.name}: eth0", "absent", "still present")
    left = _host_leftovers(lab, before)
    check(not left, f"{lab.host.name} links", "no links left but bridges", left)
    _address_is_free(lab, cni_version)
