"""A host-local-style IPAM plugin: address ranges, one reservation file per address.

State lives in ``<dataDir>/<network name>/``: a file named after each reserved address holds
``<container id>\\n<ifname>\\n``. Every operation holds an exclusive ``fcntl.flock`` on the
directory's ``lock`` file, and reservations are created with ``O_CREAT | O_EXCL``, so
concurrent ADDs never hand out one address twice (spec 1.1.0 section 3: plugins must cope
with parallel operations on different containers).

Configuration (the ``ipam`` object of the network configuration)::

    {"type": "host-local", "dataDir": "/var/lib/cni/ref-networks",
     "ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10",
                  "rangeEnd": "10.1.0.20", "gateway": "10.1.0.1"}]],
     "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.1.0.53"]}}

``subnet`` at the top level is a shorthand for a single range.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_impl.cni import results, skel
from reference_impl.cni.skel import CniError, Invocation, fail

DEFAULT_DATA_DIR = "/var/lib/cni/ref-networks"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Range:
    """One allocatable range of a subnet."""

    subnet: Network
    start: Address
    end: Address
    gateway: Address | None

    def __contains__(self, ip: Address) -> bool:
        return ip.version == self.start.version and self.start <= ip <= self.end

    def addresses(self) -> Iterator[Address]:
        """Every allocatable address, lowest first, skipping the gateway."""
        ip = self.start
        while ip <= self.end:
            if ip != self.gateway:
                yield ip
            ip += 1


def _address(text: Any, where: str) -> Address:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        fail(skel.INVALID_CONFIG, f"ipam: {where} is not an IP address: {text!r}")


def _range(data: Any, where: str) -> Range:
    if not isinstance(data, dict) or "subnet" not in data:
        fail(skel.INVALID_CONFIG, f"ipam: {where} needs a subnet")
    try:
        subnet = ipaddress.ip_network(str(data["subnet"]), strict=True)
    except ValueError as err:
        fail(skel.INVALID_CONFIG, f"ipam: {where}.subnet is invalid", str(err))
    hosts = [subnet.network_address + 1, subnet.broadcast_address - (subnet.version == 4)]
    gateway = _address(data["gateway"], where + ".gateway") if "gateway" in data else hosts[0]
    start = _address(data.get("rangeStart", hosts[0]), where + ".rangeStart")
    end = _address(data.get("rangeEnd", hosts[1]), where + ".rangeEnd")
    if start not in subnet or end not in subnet or start > end:
        fail(skel.INVALID_CONFIG, f"ipam: {where} range {start}-{end} is not inside {subnet}")
    return Range(subnet, start, end, gateway)


def range_sets(ipam: dict[str, Any]) -> list[list[Range]]:
    """The configured range sets; one address is allocated from each set."""
    raw = ipam.get("ranges")
    if raw is None and "subnet" in ipam:
        raw = [[{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}]]
    if not isinstance(raw, list) or not raw:
        fail(skel.INVALID_CONFIG, "ipam: no ranges configured")
    sets = []
    for i, rset in enumerate(raw):
        if not isinstance(rset, list) or not rset:
            fail(skel.INVALID_CONFIG, f"ipam: ranges[{i}] must be a non-empty list")
        sets.append([_range(r, f"ranges[{i}][{j}]") for j, r in enumerate(rset)])
    return sets


class Store:
    """The reservations of one network, guarded by an exclusive lock."""

    def __init__(self, data_dir: str, network: str) -> None:
        self.dir = Path(data_dir) / network

    @contextlib.contextmanager
    def locked(self) -> Iterator[Store]:
        """Hold the network's lock for the duration of the block."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)

    def reservations(self) -> dict[Address, tuple[str, str]]:
        """Every reserved address with its (container id, ifname)."""
        found = {}
        if not self.dir.is_dir():
            return found
        for path in self.dir.iterdir():
            try:
                ip = ipaddress.ip_address(path.name)
            except ValueError:
                continue
            lines = [*path.read_text().splitlines(), "", ""]
            found[ip] = (lines[0], lines[1])
        return found

    def reserve(self, ip: Address, owner: tuple[str, str]) -> bool:
        """Reserve ``ip`` for ``owner``; False when someone holds it already."""
        try:
            fd = os.open(self.dir / str(ip), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(f"{owner[0]}\n{owner[1]}\n")
        return True

    def release(self, ip: Address) -> None:
        """Drop the reservation of ``ip`` (gone already is fine)."""
        with contextlib.suppress(FileNotFoundError):
            (self.dir / str(ip)).unlink()


def _ipam(inv: Invocation) -> dict[str, Any]:
    ipam = inv.config.get("ipam")
    if not isinstance(ipam, dict):
        fail(skel.INVALID_CONFIG, "network configuration has no ipam object")
    return ipam


def _store(inv: Invocation) -> Store:
    data_dir = _ipam(inv).get("dataDir", DEFAULT_DATA_DIR)
    if not isinstance(data_dir, str) or not data_dir:
        fail(skel.INVALID_CONFIG, "ipam: dataDir must be a non-empty string")
    return Store(data_dir, inv.config["name"])


def requested_ips(inv: Invocation) -> list[Address]:
    """Addresses the runtime asked for, by precedence.

    ``runtimeConfig.ips`` (capability ``ips``), then ``args.cni.ips``; the legacy
    ``CNI_ARGS`` key ``IP`` only when neither is present (CONVENTIONS.md: a newer mechanism
    wins over ``CNI_ARGS``).
    """
    runtime = inv.config.get("runtimeConfig", {}) or {}
    args = (
        ((inv.config.get("args") or {}).get("cni") or {})
        if isinstance(inv.config.get("args"), dict)
        else {}
    )
    raw = runtime.get("ips") or args.get("ips")
    if raw is None and inv.args.get("IP"):
        raw = inv.args["IP"].split(",")
    skel.reject_unknown_args(inv, {"IP"})
    return [_address(str(r).split("/")[0], "requested ip") for r in raw or []]


def _allocate(
    store: Store,
    rset: list[Range],
    owner: tuple[str, str],
    wanted: list[Address],
    taken: set[Address],
) -> tuple[Address, Range]:
    for want in wanted:
        for rng in rset:
            if want in rng or want in rng.subnet:
                if want in taken or not store.reserve(want, owner):
                    fail(skel.INTERNAL, f"requested address {want} is already reserved")
                return want, rng
    for rng in rset:
        for ip in rng.addresses():
            if ip not in taken and store.reserve(ip, owner):
                return ip, rng
    fail(
        skel.ADDRESS_EXHAUSTED,
        "no free address left in the configured ranges",
        ", ".join(f"{r.start}-{r.end}" for r in rset),
    )


def cmd_add(inv: Invocation) -> dict[str, Any]:
    """Reserve one address per range set and report them (IPAM result: no interfaces)."""
    ipam = _ipam(inv)
    sets = range_sets(ipam)
    wanted = requested_ips(inv)
    owner = (inv.container_id, inv.ifname)
    made: list[Address] = []
    ips = []
    with _store(inv).locked() as store:
        held = store.reservations()
        if owner in held.values():
            fail(
                skel.INTERNAL,
                f"container {inv.container_id!r} interface {inv.ifname!r} "
                "already has an address on this network",
            )
        try:
            for rset in sets:
                ip, rng = _allocate(store, rset, owner, wanted, set(held))
                made.append(ip)
                entry = {"address": f"{ip}/{rng.subnet.prefixlen}"}
                if rng.gateway is not None:
                    entry["gateway"] = str(rng.gateway)
                ips.append(entry)
        except CniError:
            for ip in made:
                store.release(ip)
            raise
    result = {"ips": ips, "routes": list(ipam.get("routes", [])), "dns": ipam.get("dns", {})}
    return results.for_version(result, inv.version)


def cmd_del(inv: Invocation) -> None:
    """Release whatever this (container, ifname) holds; nothing held is success."""
    owner = (inv.container_id, inv.ifname)
    store = _store(inv)
    if not store.dir.is_dir():
        return None
    with store.locked():
        for ip, holder in store.reservations().items():
            if holder == owner:
                store.release(ip)
    return None


def cmd_check(inv: Invocation) -> None:
    """Fail unless this (container, ifname) still holds its reservations."""
    owner = (inv.container_id, inv.ifname)
    store = _store(inv)
    held = store.reservations() if store.dir.is_dir() else {}
    mine = {ip for ip, holder in held.items() if holder == owner}
    if not mine:
        fail(
            skel.UNKNOWN_CONTAINER,
            f"no address reserved for container {inv.container_id!r} interface {inv.ifname!r}",
        )
    prev = results.normalize(inv.config.get("prevResult"))
    for entry in prev.get("ips", []):
        ip = ipaddress.ip_interface(entry["address"]).ip
        if ip not in mine:
            fail(
                skel.CHECK_FAILED,
                f"address {ip} of prevResult is not reserved for container {inv.container_id!r}",
            )
    return None


def cmd_status(inv: Invocation) -> None:
    """Ready when the state directory can be created and written."""
    store = _store(inv)
    try:
        store.dir.mkdir(parents=True, exist_ok=True)
        probe = store.dir / f".status-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        fail(
            skel.NOT_AVAILABLE,
            f"IPAM state directory {store.dir} is not usable",
            os.strerror(err.errno or errno.EIO),
        )
    return None


def valid_attachments(config: dict[str, Any]) -> set[tuple[str, str]]:
    """The attachments GC must keep; both key spellings are accepted (1.1.0 tag vs main)."""
    raw = config.get("cni.dev/valid-attachments", config.get("cni.dev/attachments"))
    if not isinstance(raw, list):
        fail(skel.INVALID_CONFIG, "GC needs cni.dev/valid-attachments (a list)")
    keep = set()
    for item in raw:
        if not isinstance(item, dict) or "containerID" not in item or "ifname" not in item:
            fail(skel.INVALID_CONFIG, f"invalid attachment {item!r}")
        keep.add((str(item["containerID"]), str(item["ifname"])))
    return keep


def cmd_gc(inv: Invocation) -> None:
    """Release every reservation whose attachment is not in the valid list."""
    keep = valid_attachments(inv.config)
    store = _store(inv)
    if not store.dir.is_dir():
        return None
    with store.locked():
        for ip, holder in store.reservations().items():
            if holder not in keep:
                store.release(ip)
    return None


HANDLERS = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "STATUS": cmd_status, "GC": cmd_gc}


def main() -> None:
    """Console entry point ``cni-ref-host-local``."""
    sys.exit(skel.run(HANDLERS))


if __name__ == "__main__":
    main()
