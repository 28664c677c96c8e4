"""pyroute2 access for the plugins: a fast import and netlink sockets inside a netns.

The ``pyroute2`` package's ``__init__`` imports every protocol family it knows (about 0.3 s
on a busy host), and a plugin is a fresh process per call. Only ``pyroute2.iproute.linux`` is
needed, so the package is registered as a bare namespace first and its submodules load on
their own; if that ever stops working the plain import is used.

A netlink socket belongs to the network namespace it was created in, so entering a
container's namespace only has to last while the socket is created.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000


def _iproute_class() -> Any:
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is not None and spec.submodule_search_locations:
            stub = types.ModuleType("pyroute2")
            stub.__path__ = list(spec.submodule_search_locations)
            stub.__spec__ = spec
            sys.modules["pyroute2"] = stub
    try:
        from pyroute2.iproute.linux import IPRoute
    except ImportError:
        sys.modules.pop("pyroute2", None)
        from pyroute2 import IPRoute
    return IPRoute


def netlink_error() -> type[Exception]:
    """The exception class pyroute2 raises for a failed netlink request."""
    from pyroute2.netlink.exceptions import NetlinkError

    return NetlinkError


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"failed to enter network namespace: {os.strerror(err)}")


@contextlib.contextmanager
def entered(netns_path: str) -> Iterator[None]:
    """Run the block in the network namespace at ``netns_path``, then return."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        log.debug("entering netns %s", netns_path)
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def iproute(netns_path: str | None = None) -> Any:
    """An ``IPRoute`` bound to ``netns_path``, or to the current namespace."""
    cls = _iproute_class()
    if netns_path is None:
        return cls()
    with entered(netns_path):
        return cls()


def link_index(ipr: Any, name: str) -> int | None:
    """Index of link ``name`` in the socket's namespace, or None."""
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def attr(msg: Any, name: str) -> Any:
    """One attribute of a netlink message."""
    return msg.get_attr(name)
