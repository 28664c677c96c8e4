"""Network namespaces the suite creates, what it observes in them, and the clean-up sweep.

Every namespace is named ``cnit-<session token>-<n>``: the token is unique per pytest process,
so a sweep at session end (or at interpreter exit after Ctrl-C) removes exactly what this
process made, even under pytest-xdist. Everything a plugin creates on the "host" side lives in
a namespace that plays the host, so removing the namespaces removes the bridges, veths and
iptables rules too; the real host is never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.core import EnvironmentProblem

log = logging.getLogger(__name__)

PREFIX = "cnit-"
CLONE_NEWNET = 0x40000000
RUN_DIR = Path("/run/netns")
TOKEN_ENV = "CONFORMANCE_CNI_TOKEN"
TOKEN = os.environ.get(TOKEN_ENV) or secrets.token_hex(3)
"""Six hex digits unique to this process; a test may set it to find a subprocess's objects."""
_counter = itertools.count(1)
_created: set[str] = set()


def unique(kind: str, width: int = 15) -> str:
    """A short unique name (links: at most IFNAMSIZ - 1 = 15 bytes)."""
    name = f"{kind}{TOKEN}{next(_counter):x}"
    if len(name) > width:
        raise ValueError(f"name {name!r} longer than {width}")
    return name


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class Link:
    """A link as observed through netlink."""

    name: str
    index: int
    mac: str
    mtu: int
    kind: str
    master: int | None
    up: bool


class Netns:
    """One network namespace made by the suite."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = str(RUN_DIR / name)

    @classmethod
    def create(cls, role: str = "c") -> Netns:
        """Create a fresh namespace (``ip netns add``); removed by :meth:`remove` or the sweep."""
        name = f"{PREFIX}{TOKEN}-{role}{next(_counter)}"
        proc = _ip("netns", "add", name)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"failed to create netns {name}: {proc.stderr.strip()}")
        _created.add(name)
        return cls(name)

    def exists(self) -> bool:
        """True while the namespace's bind mount is present."""
        return os.path.exists(self.path)

    def remove(self) -> None:
        """Delete the namespace (gone already is fine)."""
        if self.exists():
            proc = _ip("netns", "delete", self.name)
            if proc.returncode != 0 and self.exists():
                log.warning("failed to delete netns %s: %s", self.name, proc.stderr.strip())
        _created.discard(self.name)

    def ip(self, *args: str) -> None:
        """Run ``ip -n <ns> ...`` to change state in the namespace (tampering, setup)."""
        proc = _ip("-n", self.name, *args)
        if proc.returncode != 0:
            raise EnvironmentProblem(f"ip -n {self.name} {' '.join(args)}: {proc.stderr.strip()}")

    def _iproute(self) -> Any:
        # pyroute2's IPRoute(netns=...) forks a helper per socket (~90 ms); a netlink socket
        # belongs to the namespace it is created in, so entering the namespace only for the
        # socket's creation (this thread only) gives the same view for the price of a setns.
        from pyroute2 import IPRoute

        with _entered(self.path):
            return IPRoute()

    def links(self) -> dict[str, Link]:
        """Every link in the namespace by name."""
        with self._iproute() as ipr:
            found = {}
            for msg in ipr.get_links():
                info = msg.get_attr("IFLA_LINKINFO")
                kind = info.get_attr("IFLA_INFO_KIND") if info is not None else ""
                name = msg.get_attr("IFLA_IFNAME")
                found[name] = Link(
                    name=name,
                    index=msg["index"],
                    mac=str(msg.get_attr("IFLA_ADDRESS") or "").lower(),
                    mtu=int(msg.get_attr("IFLA_MTU") or 0),
                    kind=kind or "",
                    master=msg.get_attr("IFLA_MASTER"),
                    up=bool(msg["flags"] & 1),
                )
            return found

    def addresses(self, ifname: str | None = None) -> set[str]:
        """Addresses in CIDR notation, of one link or all, link-local IPv6 excluded."""
        with self._iproute() as ipr:
            kwargs = {}
            if ifname is not None:
                found = ipr.link_lookup(ifname=ifname)
                if not found:
                    return set()
                kwargs["index"] = found[0]
            return {
                f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                for a in ipr.get_addr(**kwargs)
                if not str(a.get_attr("IFA_ADDRESS")).startswith("fe80:")
            }

    def routes(self) -> list[dict[str, Any]]:
        """Routes of the main table as ``{dst, gw, oif}`` (dst in CIDR; default as 0/0)."""
        found = []
        with self._iproute() as ipr:
            for family, default in ((2, "0.0.0.0/0"), (10, "::/0")):
                for r in ipr.get_routes(family=family, table=254):
                    dst = r.get_attr("RTA_DST")
                    found.append(
                        {
                            "dst": f"{dst}/{r['dst_len']}" if dst else default,
                            "gw": r.get_attr("RTA_GATEWAY"),
                            "oif": r.get_attr("RTA_OIF"),
                        }
                    )
        return found


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise EnvironmentProblem(f"failed to enter network namespace: {os.strerror(err)}")


@contextlib.contextmanager
def _entered(path: str) -> Iterator[None]:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
    except OSError as err:
        os.close(home)
        raise EnvironmentProblem(f"failed to open netns {path}: {err}") from err
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def sweep() -> list[str]:
    """Delete every namespace this process created and still holds; returns their names."""
    left = (
        sorted(n for n in os.listdir(RUN_DIR) if n.startswith(f"{PREFIX}{TOKEN}-"))
        if (RUN_DIR.is_dir())
        else []
    )
    for name in left:
        Netns(name).remove()
    _created.clear()
    return left


def leftovers(prefix: str = PREFIX) -> list[str]:
    """Namespaces of any run of the suite (the name prefix) that still exist."""
    if not RUN_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(RUN_DIR) if n.startswith(prefix))


def sweep_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so the ``atexit`` sweep runs (xdist stops workers so)."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@atexit.register
def _sweep_at_exit() -> None:
    # Ctrl-C can skip fixture finalizers; the interpreter's exit still runs this.
    with contextlib.suppress(OSError):
        if _created:
            sweep()
