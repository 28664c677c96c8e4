"""A loopback plugin: brings ``lo`` up in the container's namespace.

Inside a chain it passes ``prevResult`` through unchanged (spec 1.1.0 section 2 ADD: a plugin
that changes nothing returns what it was given).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from reference_impl.cni import netlink, results, skel
from reference_impl.cni.skel import Invocation, fail


def _set_lo(netns: str, state: str) -> list[str]:
    ipr = netlink.iproute(netns)
    try:
        index = netlink.link_index(ipr, "lo")
        try:
            ipr.link("set", index=index, state=state)
        except netlink.netlink_error() as err:
            fail(skel.NETLINK_FAILURE, f"failed to set lo {state} in {netns}: {err}")
        return [
            f"{netlink.attr(a, 'IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=index)
        ]
    finally:
        ipr.close()


def cmd_add(inv: Invocation) -> dict[str, Any]:
    """Bring ``lo`` up and report it with its addresses."""
    skel.reject_unknown_args(inv, set())
    addresses = _set_lo(inv.netns, "up")
    if "prevResult" in inv.config:
        return results.for_version(results.normalize(inv.config["prevResult"]), inv.version)
    result = {
        "interfaces": [{"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": inv.netns}],
        "ips": [{"address": a, "interface": 0} for a in addresses],
    }
    return results.for_version(result, inv.version)


def cmd_del(inv: Invocation) -> None:
    """Bring ``lo`` down when the namespace still exists; a gone namespace is success."""
    if inv.netns and os.path.exists(inv.netns):
        _set_lo(inv.netns, "down")
    return None


def cmd_check(inv: Invocation) -> None:
    """Fail unless ``lo`` is up."""
    ipr = netlink.iproute(inv.netns)
    try:
        link = ipr.get_links(netlink.link_index(ipr, "lo"))[0]
    finally:
        ipr.close()
    if netlink.attr(link, "IFLA_OPERSTATE") == "DOWN" or not link["flags"] & 1:
        fail(skel.CHECK_FAILED, f"lo is down in {inv.netns}")
    return None


def _nothing(inv: Invocation) -> None:
    return None


HANDLERS = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "STATUS": _nothing, "GC": _nothing}


def main() -> None:
    """Console entry point ``cni-ref-loopback``."""
    sys.exit(skel.run(HANDLERS))


if __name__ == "__main__":
    main()
