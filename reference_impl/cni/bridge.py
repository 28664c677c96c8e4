"""A bridge plugin: a veth pair from a host bridge into the container, addresses from IPAM.

Configuration fields besides the common ones (spec 1.1.0 section 1)::

    {"type": "bridge", "bridge": "cni-ref0", "isGateway": true, "mtu": 1500,
     "ipam": {"type": "host-local", ...}, "dns": {...}}

The host side of every attachment is named ``veth`` plus a hash of (network, container id,
ifname) and carries the alias ``cni-ref:<network>:<container id>:<ifname>``, so DEL can find
it without a stored result and GC can find attachments nobody listed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import ipaddress
import os
import sys
from collections.abc import Iterator
from typing import Any

from reference_impl.cni import delegate, netlink, results, skel
from reference_impl.cni.skel import CniError, Invocation, fail

DEFAULT_BRIDGE = "cni-ref0"
ALIAS_PREFIX = "cni-ref:"
UNSUPPORTED = ("ipMasq", "vlan", "vlanTrunk", "hairpinMode", "promiscMode")


class Conf:
    """The validated plugin-specific fields of one request."""

    def __init__(self, inv: Invocation) -> None:
        cfg = inv.config
        self.bridge = cfg.get("bridge", DEFAULT_BRIDGE)
        if not isinstance(self.bridge, str) or not 0 < len(self.bridge) <= 15:
            fail(skel.INVALID_CONFIG, f"bridge name {self.bridge!r} is not a valid link name")
        self.is_gateway = bool(cfg.get("isGateway", False))
        self.mtu = cfg.get("mtu")
        if self.mtu is not None and (not isinstance(self.mtu, int) or not 68 <= self.mtu <= 65535):
            fail(skel.INVALID_CONFIG, f"mtu {self.mtu!r} is not a number between 68 and 65535")
        for key in UNSUPPORTED:
            if cfg.get(key):
                fail(skel.UNSUPPORTED_FIELD, f"field {key}={cfg[key]!r} is not supported")
        ipam = cfg.get("ipam")
        if not isinstance(ipam, dict) or not isinstance(ipam.get("type"), str):
            fail(skel.INVALID_CONFIG, "ipam.type is required")
        self.ipam_type = ipam["type"]
        self.dns = cfg.get("dns") or {}
        key = f"{cfg['name']}\0{inv.container_id}\0{inv.ifname}".encode()
        self.host_veth = "veth" + hashlib.sha256(key).hexdigest()[:8]
        self.alias = f"{ALIAS_PREFIX}{cfg['name']}:{inv.container_id}:{inv.ifname}"


@contextlib.contextmanager
def _netlink_step(what: str) -> Iterator[None]:
    """Map a netlink failure to a plugin error naming the step."""
    try:
        yield
    except netlink.netlink_error() as err:
        fail(skel.NETLINK_FAILURE, f"failed to {what}: {err}")


@contextlib.contextmanager
def _exists_ok() -> Iterator[None]:
    """Tolerate EEXIST: a concurrent ADD made the same shared object first."""
    try:
        yield
    except netlink.netlink_error() as err:
        if getattr(err, "code", None) != errno.EEXIST:
            raise


def _kind(ipr: Any, index: int) -> str:
    info = netlink.attr(ipr.get_links(index)[0], "IFLA_LINKINFO")
    return str(info.get_attr("IFLA_INFO_KIND") or "") if info is not None else ""


def _mac(ipr: Any, index: int) -> str:
    return str(netlink.attr(ipr.get_links(index)[0], "IFLA_ADDRESS"))


def _ensure_bridge(host: Any, conf: Conf, gateways: list[str]) -> int:
    index = netlink.link_index(host, conf.bridge)
    if index is None:
        # Parallel ADDs race to create the bridge; the loser finds it made (EEXIST).
        with _netlink_step(f"create bridge {conf.bridge}"), _exists_ok():
            host.link("add", ifname=conf.bridge, kind="bridge")
        index = netlink.link_index(host, conf.bridge)
    kind = _kind(host, index)
    if kind != "bridge":
        fail(
            skel.INVALID_CONFIG,
            f"link {conf.bridge} exists and is a {kind or 'device'}, not a bridge",
        )
    with _netlink_step(f"bring up bridge {conf.bridge}"):
        host.link("set", index=index, state="up", **({"mtu": conf.mtu} if conf.mtu else {}))
    present = {(netlink.attr(a, "IFA_ADDRESS"), a["prefixlen"]) for a in host.get_addr(index=index)}
    for cidr in gateways:
        iface = ipaddress.ip_interface(cidr)
        if (str(iface.ip), iface.network.prefixlen) not in present:
            with _netlink_step(f"add gateway {cidr} to {conf.bridge}"), _exists_ok():
                host.addr(
                    "add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen
                )
    return index


def _create_veth(host: Any, conf: Conf, bridge_index: int, netns: str) -> int:
    tmp = "tmp" + conf.host_veth[4:]
    with _netlink_step(f"create veth {conf.host_veth}"):
        host.link("add", ifname=conf.host_veth, kind="veth", peer=tmp)
    host_index = netlink.link_index(host, conf.host_veth)
    peer_index = netlink.link_index(host, tmp)
    extra = {"mtu": conf.mtu} if conf.mtu else {}
    with _netlink_step(f"attach {conf.host_veth} to {conf.bridge}"):
        host.link("set", index=host_index, master=bridge_index, ifalias=conf.alias, **extra)
        host.link("set", index=host_index, state="up")
    fd = os.open(netns, os.O_RDONLY)
    try:
        with _netlink_step(f"move {tmp} into {netns}"):
            host.link("set", index=peer_index, net_ns_fd=fd, **extra)
    finally:
        os.close(fd)
    return host_index


def _configure_container(ctr: Any, inv: Invocation, conf: Conf, ipam: dict[str, Any]) -> int:
    tmp_index = netlink.link_index(ctr, "tmp" + conf.host_veth[4:])
    with _netlink_step(f"rename the container interface to {inv.ifname}"):
        ctr.link("set", index=tmp_index, ifname=inv.ifname)
        ctr.link("set", index=tmp_index, state="up")
    for entry in ipam.get("ips", []):
        iface = ipaddress.ip_interface(entry["address"])
        with _netlink_step(f"add address {entry['address']} to {inv.ifname}"):
            ctr.addr(
                "add", index=tmp_index, address=str(iface.ip), prefixlen=iface.network.prefixlen
            )
    for route in ipam.get("routes", []):
        _add_route(ctr, tmp_index, route, ipam.get("ips", []))
    return tmp_index


def _add_route(ctr: Any, index: int, route: dict[str, Any], ips: list[dict[str, Any]]) -> None:
    dst = ipaddress.ip_network(route["dst"])
    gateway = route.get("gw")
    if gateway is None:
        # A route without gw goes through the gateway of the first address of its family.
        gateway = next(
            (
                ip.get("gateway")
                for ip in ips
                if ipaddress.ip_interface(ip["address"]).version == dst.version
            ),
            None,
        )
    spec: dict[str, Any] = {"dst": str(dst), "oif": index}
    if gateway:
        spec["gateway"] = gateway
    with _netlink_step(f"add route {dst}"):
        ctr.route("add", **spec)


def _attach(inv: Invocation, conf: Conf, ipam: dict[str, Any]) -> dict[str, Any]:
    gateways = []
    if conf.is_gateway:
        gateways = [
            f"{ip['gateway']}/{ipaddress.ip_interface(ip['address']).network.prefixlen}"
            for ip in ipam.get("ips", [])
            if ip.get("gateway")
        ]
    host = netlink.iproute()
    ctr = None
    try:
        bridge_index = _ensure_bridge(host, conf, gateways)
        host_index = _create_veth(host, conf, bridge_index, inv.netns)
        ctr = netlink.iproute(inv.netns)
        ctr_index = _configure_container(ctr, inv, conf, ipam)
        container_iface = {"name": inv.ifname, "mac": _mac(ctr, ctr_index), "sandbox": inv.netns}
        if inv.at_least_1_1:
            container_iface["mtu"] = int(netlink.attr(ctr.get_links(ctr_index)[0], "IFLA_MTU"))
        interfaces = [
            {"name": conf.bridge, "mac": _mac(host, bridge_index)},
            {"name": conf.host_veth, "mac": _mac(host, host_index)},
            container_iface,
        ]
    finally:
        host.close()
        if ctr is not None:
            ctr.close()
    ips = [dict(ip, interface=2) for ip in ipam.get("ips", [])]
    return {
        "interfaces": interfaces,
        "ips": ips,
        "routes": ipam.get("routes", []),
        "dns": conf.dns or ipam.get("dns", {}),
    }


def _remove_links(inv: Invocation, conf: Conf) -> None:
    """Delete the container interface and the host veth; gone already is fine."""
    if inv.netns and os.path.exists(inv.netns):
        ctr = netlink.iproute(inv.netns)
        try:
            index = netlink.link_index(ctr, inv.ifname)
            if index is not None:
                with _netlink_step(f"delete {inv.ifname} in {inv.netns}"):
                    ctr.link("del", index=index)
        finally:
            ctr.close()
    host = netlink.iproute()
    try:
        for name in (conf.host_veth, "tmp" + conf.host_veth[4:]):
            index = netlink.link_index(host, name)
            if index is not None:
                with _netlink_step(f"delete {name}"):
                    host.link("del", index=index)
    finally:
        host.close()


def cmd_add(inv: Invocation) -> dict[str, Any]:
    """Attach the container to the bridge and configure the addresses IPAM hands out."""
    conf = Conf(inv)
    skel.reject_unknown_args(inv, {"IP"})
    ctr = netlink.iproute(inv.netns)
    try:
        if netlink.link_index(ctr, inv.ifname) is not None:
            fail(skel.INTERFACE_EXISTS, f"interface {inv.ifname!r} already exists in {inv.netns}")
    finally:
        ctr.close()
    ipam = results.normalize(delegate.call(conf.ipam_type, inv))
    try:
        result = _attach(inv, conf, ipam)
    except (CniError, OSError):
        # Undo what this ADD made (spec section 4: release IPAM before failing).
        with contextlib.suppress(CniError, OSError):
            _remove_links(inv, conf)
        with contextlib.suppress(CniError):
            delegate.call(conf.ipam_type, inv, "DEL")
        raise
    return results.for_version(result, inv.version)


def cmd_del(inv: Invocation) -> None:
    """Release the address and remove the veth pair; every step tolerates missing state."""
    conf = Conf(inv)
    delegate.call(conf.ipam_type, inv, "DEL")
    _remove_links(inv, conf)
    return None


def _container_iface(inv: Invocation, prev: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    for i, iface in enumerate(prev.get("interfaces", [])):
        if iface.get("name") == inv.ifname and iface.get("sandbox"):
            if iface["sandbox"] != inv.netns:
                fail(
                    skel.CHECK_FAILED,
                    f"prevResult sandbox {iface['sandbox']!r} is not CNI_NETNS {inv.netns!r}",
                )
            return i, iface
    fail(skel.CHECK_FAILED, f"prevResult has no interface {inv.ifname!r} in a sandbox")


def _check_container(inv: Invocation, prev: dict[str, Any]) -> None:
    position, iface = _container_iface(inv, prev)
    ctr = netlink.iproute(inv.netns)
    try:
        index = netlink.link_index(ctr, inv.ifname)
        if index is None:
            fail(skel.CHECK_FAILED, f"interface {inv.ifname!r} is missing from {inv.netns}")
        mac = _mac(ctr, index)
        if iface.get("mac") and iface["mac"].lower() != mac.lower():
            fail(skel.CHECK_FAILED, f"{inv.ifname} has MAC {mac}, prevResult says {iface['mac']}")
        have = {
            f"{netlink.attr(a, 'IFA_ADDRESS')}/{a['prefixlen']}" for a in ctr.get_addr(index=index)
        }
    finally:
        ctr.close()
    for ip in prev.get("ips", []):
        if ip.get("interface") == position and ip["address"] not in have:
            fail(skel.CHECK_FAILED, f"address {ip['address']} is missing from {inv.ifname}")


def _check_host(conf: Conf) -> None:
    host = netlink.iproute()
    try:
        bridge = netlink.link_index(host, conf.bridge)
        veth = netlink.link_index(host, conf.host_veth)
        if bridge is None or veth is None:
            fail(skel.CHECK_FAILED, f"bridge {conf.bridge} or veth {conf.host_veth} is missing")
        if netlink.attr(host.get_links(veth)[0], "IFLA_MASTER") != bridge:
            fail(skel.CHECK_FAILED, f"{conf.host_veth} is not attached to {conf.bridge}")
    finally:
        host.close()


def cmd_check(inv: Invocation) -> None:
    """Compare the attachment with prevResult; delegate to IPAM CHECK."""
    conf = Conf(inv)
    if "prevResult" not in inv.config:
        fail(skel.INVALID_CONFIG, "CHECK needs prevResult")
    prev = results.normalize(inv.config["prevResult"])
    _check_container(inv, prev)
    _check_host(conf)
    delegate.call(conf.ipam_type, inv, "CHECK")
    return None


def cmd_status(inv: Invocation) -> None:
    """Ready when the IPAM delegate is (spec section 2 STATUS: delegates are asked too)."""
    conf = Conf(inv)
    delegate.call(conf.ipam_type, inv, "STATUS")
    return None


def cmd_gc(inv: Invocation) -> None:
    """Remove host veths of this network whose attachment is not listed; then IPAM GC."""
    from reference_impl.cni.hostlocal import valid_attachments

    keep = valid_attachments(inv.config)
    conf = Conf(inv)
    prefix = f"{ALIAS_PREFIX}{inv.config['name']}:"
    errors = []
    host = netlink.iproute()
    try:
        for link in host.get_links():
            alias = netlink.attr(link, "IFLA_IFALIAS") or ""
            if not alias.startswith(prefix):
                continue
            cid, _, ifname = alias[len(prefix) :].rpartition(":")
            if (cid, ifname) not in keep:
                try:
                    host.link("del", index=link["index"])
                except netlink.netlink_error() as err:
                    errors.append(f"{alias}: {err}")
    finally:
        host.close()
    # GC continues past failures and reports them all (spec section 2 GC).
    try:
        delegate.call(conf.ipam_type, inv, "GC")
    except CniError as err:
        errors.append(f"ipam: {err.msg}")
    if errors:
        fail(skel.INTERNAL, "garbage collection left stale resources", "; ".join(errors))
    return None


HANDLERS = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "STATUS": cmd_status, "GC": cmd_gc}


def main() -> None:
    """Console entry point ``cni-ref-bridge``."""
    sys.exit(skel.run(HANDLERS))


if __name__ == "__main__":
    main()
