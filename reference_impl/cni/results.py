"""Result documents in the shape each CNI version expects (spec 1.1.0 section 5).

Plugins build results in the 1.1.0 shape and convert on output: 0.3.x and 0.4.0 carry a
``version`` in every ``ips`` entry; versions before 1.1.0 lack the interface ``mtu``,
``socketPath`` and ``pciID`` fields and the route attributes added in 1.1.0.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from reference_impl.cni.skel import version_tuple

_ROUTE_FIELDS_1_1 = ("mtu", "advmss", "priority", "table", "scope")
_IFACE_FIELDS_1_1 = ("mtu", "socketPath", "pciID")


def ip_version(cidr: str) -> str:
    """``"4"`` or ``"6"`` for an address in CIDR notation."""
    return str(ipaddress.ip_interface(cidr).version)


def for_version(result: dict[str, Any], version: str) -> dict[str, Any]:
    """A copy of ``result`` converted to the shape of ``version``, with ``cniVersion`` set."""
    out = copy.deepcopy(result)
    out["cniVersion"] = version
    old = version_tuple(version) < (1, 1, 0)
    if old:
        for iface in out.get("interfaces", []):
            for key in _IFACE_FIELDS_1_1:
                iface.pop(key, None)
        for route in out.get("routes", []):
            for key in _ROUTE_FIELDS_1_1:
                route.pop(key, None)
    pre_1 = version_tuple(version) < (1, 0, 0)
    for ip in out.get("ips", []):
        if pre_1:
            ip["version"] = ip_version(ip["address"])
        else:
            ip.pop("version", None)
    if not out.get("dns"):
        out.pop("dns", None)
    return out


def normalize(result: Any) -> dict[str, Any]:
    """A previous result (any version from 0.3.0 on) in the 1.x shape; {} when absent."""
    if not isinstance(result, dict):
        return {}
    out = copy.deepcopy(result)
    for ip in out.get("ips", []):
        ip.pop("version", None)
    return out
