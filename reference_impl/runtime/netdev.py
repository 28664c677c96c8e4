"""``linux.netDevices`` (config-linux.md "Network Devices", v1.3.0) over raw rtnetlink.

For each entry the creating process, still in the runtime's network namespace:

1. finds the link by name and records its permanent, global-scope addresses: a move across
   network namespaces makes the kernel drop every address of the device (the in_device and
   inet6_dev are torn down as on unregister), so the runtime puts them back itself;
2. moves it with one RTM_NEWLINK carrying IFLA_NET_NS_FD and IFLA_IFNAME (the kernel renames
   it in the target namespace, expanding a ``%d`` template);
3. re-adds the addresses and sets the link up, through a netlink socket opened inside the
   container's network namespace (a socket stays bound to the namespace it was created in).

Nothing is moved back on ``delete`` (the spec forbids it: the namespace's end decides); a
*failed* create moves back what it moved, before the init dies (runtime.md#errors).
"""

from __future__ import annotations

import _socket
import os
import struct

from . import linux as kernel
from ._log import get_logger
from .errors import ConfigError, HostError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 1, 4, 0x200, 0x400, 0x300
IFLA_ADDRESS, IFLA_IFNAME, IFLA_NET_NS_FD = 1, 3, 28
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 3, 4, 8
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0
IFF_UP = 1
IFNAMSIZ = 16

_KEPT_FLAGS = 0x02 | 0x10 | 0x100 | 0x200 | 0x400
"""Address flags worth re-applying: NODAD, HOMEADDRESS, MANAGETEMPADDR, NOPREFIXROUTE,
MCAUTOJOIN (PERMANENT follows from adding it by hand)."""

_NLMSG = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBi")
_RTA = struct.Struct("=HH")

_moved: list[tuple[str, str, list[tuple[int, int, int, dict[int, bytes]]]]] = []
"""What this create moved: (host name, name in the container, addresses)."""


def preflight(devices: dict[str, Any], netns_path: str | None) -> None:
    """Checks made before any step: each device exists in the runtime's network namespace and
    its name is free in the container's (a new namespace holds only ``lo``)."""
    with _Netlink() as nl:
        for host_name in devices:
            if nl.link_by_name(host_name) is None:
                raise ConfigError(
                    f"linux.netDevices.{host_name}",
                    "no network device of that name in the runtime's network namespace",
                )
    taken = {"lo"}
    if netns_path:
        ns_fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with _Netlink(ns_fd) as inner:
                taken = {name for _, name, _ in inner.links()}
        finally:
            os.close(ns_fd)
    for host_name, entry in devices.items():
        name = (entry or {}).get("name") or host_name
        if "%d" not in name and name in taken:
            field = f"linux.netDevices.{host_name}" + (".name" if "name" in entry else "")
            raise ConfigError(field, f"{name!r} already exists in the container namespace")


def move_all(devices: dict[str, Any], pid: int) -> None:
    """Move every entry into the network namespace of ``pid`` (the container's init).

    Raises:
        ConfigError: the name is taken in the container's namespace (config-linux.md).
        HostError: the kernel refused a step.
    """
    ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _Netlink() as host, _Netlink(ns_fd) as inner:
            for host_name, entry in devices.items():
                _move_one(host, inner, ns_fd, host_name, (entry or {}).get("name") or host_name)
    finally:
        os.close(ns_fd)


def _move_one(host: _Netlink, inner: _Netlink, ns_fd: int, host_name: str, name: str) -> None:
    field = f"linux.netDevices.{host_name}"
    link = host.link_by_name(host_name)
    if link is None:
        raise ConfigError(field, "no network device of that name in the runtime's namespace")
    index, mac = link
    if "%d" not in name and inner.link_by_name(name) is not None:
        raise ConfigError(f"{field}.name", f"{name!r} already exists in the container namespace")
    addrs = host.permanent_global_addresses(index)
    log.debug("moving network device %s into the container as %s", host_name, name)
    try:
        host.request(RTM_NEWLINK, _ifinfo(index) + _attr(IFLA_NET_NS_FD, struct.pack("=I", ns_fd))
                     + _attr(IFLA_IFNAME, name.encode() + b"\0"))  # fmt: skip
    except OSError as err:
        # The kernel moves first and renames after: a refused rename leaves the device in the
        # container's namespace under its host name, for undo() to bring back.
        if inner.link_by_name(host_name) is not None:
            _moved.append((host_name, host_name, addrs))
        raise HostError(f"{field}: failed to move the network device: {err.strerror}") from err
    new_index, new_name = inner.link_by_mac(mac, name)
    _moved.append((host_name, new_name, addrs))
    log.debug("restoring %d addresses of %s and setting it up", len(addrs), new_name)
    try:
        for family, prefix, flags, attrs in addrs:
            inner.add_address(new_index, family, prefix, flags, attrs)
        inner.request(RTM_NEWLINK, _ifinfo(new_index, IFF_UP, IFF_UP))
    except OSError as err:
        raise HostError(f"{field}: failed to configure {new_name}: {err.strerror}") from err


def undo(pid: int) -> None:
    """Move back what a failed create moved, with its name and addresses (best effort).

    Runs in the creating process, which never left the runtime's network namespace.
    """
    if not _moved:
        return
    try:
        ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # the namespace is gone: the kernel already disposed of the devices
    host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with _Netlink() as host, _Netlink(ns_fd) as inner:
            while _moved:
                host_name, name, addrs = _moved.pop()
                try:
                    _move_back(host, inner, host_name, name, addrs, host_ns)
                except (OSError, HostError) as err:
                    log.warning("failed to move %s back to the host: %s", name, err)
    finally:
        os.close(host_ns)
        os.close(ns_fd)


def _move_back(
    host: _Netlink,
    inner: _Netlink,
    host_name: str,
    name: str,
    addrs: list[tuple[int, int, int, dict[int, bytes]]],
    host_ns: int,
) -> None:
    link = inner.link_by_name(name)
    if link is None:
        return
    index, mac = link
    log.debug("moving network device %s back to the host as %s", name, host_name)
    inner.request(RTM_NEWLINK, _ifinfo(index) + _attr(IFLA_NET_NS_FD, struct.pack("=I", host_ns))
                  + _attr(IFLA_IFNAME, host_name.encode() + b"\0"))  # fmt: skip
    host_index, _ = host.link_by_mac(mac, host_name)
    for family, prefix, flags, attrs in addrs:
        host.add_address(host_index, family, prefix, flags, attrs)


def _ifinfo(index: int, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(0, 0, index, flags, change)


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTA.size + len(payload)
    return _RTA.pack(length, kind) + payload + b"\0" * (-length % 4)


def _attrs(data: bytes) -> dict[int, bytes]:
    found = {}
    while len(data) >= _RTA.size:
        length, kind = _RTA.unpack_from(data)
        if length < _RTA.size:
            break
        found[kind & 0x3FFF] = data[_RTA.size : length]
        data = data[(length + 3) & ~3 :]
    return found


class _Netlink:
    """A NETLINK_ROUTE socket, opened in the network namespace ``ns_fd`` (else the current)."""

    def __init__(self, ns_fd: int | None = None) -> None:
        self.ns_fd = ns_fd
        self.seq = 0

    def __enter__(self) -> _Netlink:
        if self.ns_fd is None:
            self.sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_ROUTE)
            return self
        own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            kernel.setns(self.ns_fd, kernel.CLONE_NEWNET, "the container's network namespace")
            try:
                self.sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_ROUTE)
            finally:
                kernel.setns(own, kernel.CLONE_NEWNET, "the runtime's network namespace")
        finally:
            os.close(own)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        self.seq += 1
        header = _NLMSG.pack(_NLMSG.size + len(body), kind, flags | NLM_F_REQUEST, self.seq, 0)
        self.sock.sendto(header + body, (0, 0))
        return self.seq

    def _replies(self, seq: int) -> list[tuple[int, bytes]]:
        """Messages answering ``seq`` up to DONE or the ACK/error; raises OSError on an error."""
        out: list[tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(1 << 16)
            while len(data) >= _NLMSG.size:
                length, kind, _, mseq, _ = _NLMSG.unpack_from(data)
                body, data = data[_NLMSG.size : length], data[(length + 3) & ~3 :]
                if mseq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", body)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return out
                out.append((kind, body))

    def request(self, kind: int, body: bytes, flags: int = 0) -> None:
        """Send one request and wait for its ACK."""
        self._replies(self._send(kind, flags | NLM_F_ACK, body))

    def links(self) -> list[tuple[int, str, bytes]]:
        seq = self._send(RTM_GETLINK, NLM_F_DUMP, _ifinfo(0))
        links = []
        for _, body in self._replies(seq):
            _, _, index, _, _ = _IFINFO.unpack_from(body)
            attrs = _attrs(body[_IFINFO.size :])
            name = attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
            links.append((index, name, attrs.get(IFLA_ADDRESS, b"")))
        return links

    def link_by_name(self, name: str) -> tuple[int, bytes] | None:
        """(index, hardware address) of the link called ``name``, or None."""
        for index, seen, mac in self.links():
            if seen == name:
                return index, mac
        return None

    def link_by_mac(self, mac: bytes, name: str) -> tuple[int, str]:
        """(index, name) of the link just moved in: matched by name, or for a template (and
        devices without one name) by its hardware address and the template's prefix."""
        links = self.links()
        for index, seen, _ in links:
            if seen == name:
                return index, seen
        prefix = name.split("%d", 1)[0]
        for index, seen, addr in links:
            if addr == mac and seen.startswith(prefix):
                return index, seen
        raise HostError(f"network device {name} vanished after the move")

    def permanent_global_addresses(
        self, index: int
    ) -> list[tuple[int, int, int, dict[int, bytes]]]:
        """The addresses the spec says survive the move: permanent and of global scope."""
        seq = self._send(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(0, 0, 0, 0, 0))
        kept = []
        for _, body in self._replies(seq):
            family, prefix, flags, scope, owner = _IFADDR.unpack_from(body)
            attrs = _attrs(body[_IFADDR.size :])
            if IFA_FLAGS in attrs:
                (flags,) = struct.unpack_from("=I", attrs[IFA_FLAGS])
            if owner == index and scope == RT_SCOPE_UNIVERSE and flags & IFA_F_PERMANENT:
                kept.append((family, prefix, flags, attrs))
        return kept

    def add_address(
        self, index: int, family: int, prefix: int, flags: int, attrs: dict[int, bytes]
    ) -> None:
        body = _IFADDR.pack(family, prefix, 0, RT_SCOPE_UNIVERSE, index)
        for kind in (IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST):
            if kind in attrs:
                body += _attr(kind, attrs[kind])
        body += _attr(IFA_FLAGS, struct.pack("=I", flags & _KEPT_FLAGS))
        self.request(RTM_NEWADDR, body, NLM_F_CREATE | NLM_F_EXCL)
