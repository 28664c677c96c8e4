"""What this host's kernel can do, probed by the harness itself (never through the runtime).

A test of an optional kernel feature first asks here; ``None`` means supported, a string is
the measured reason it is not, for a host skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86-64 numbers and linux/mount.h constants.
_SYS_UNSHARE = 272
_SYS_OPEN_TREE = 428
_SYS_MOUNT_SETATTR = 442
_CLONE_NEWUSER = 0x10000000
_OPEN_TREE_CLONE = 0x1
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_IDMAP = 0x100000


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def _userns_fd(uid_map: str, gid_map: str) -> int:
    """An fd of a new user namespace with the given map lines, made by a short-lived child."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            if _libc.syscall(_SYS_UNSHARE, ctypes.c_int(_CLONE_NEWUSER)) == 0:
                os.write(ready_w, b"u")
                os.read(done_r, 1)
                code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise OSError(errno.EPERM, "unshare(CLONE_NEWUSER) failed in the probe child")
        Path(f"/proc/{pid}/uid_map").write_text(uid_map)
        Path(f"/proc/{pid}/gid_map").write_text(gid_map)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def idmap_unsupported(path: Path, recursive: bool = False) -> str | None:
    """Why an idmapped clone of the mount tree at ``path`` cannot be made here, or ``None``.

    Clones the tree with open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE]) and applies
    mount_setattr(MOUNT_ATTR_IDMAP) with a throw-away user namespace; the clone is detached
    and vanishes when its fd is closed, so nothing is left on the host.
    """
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | (_AT_RECURSIVE if recursive else 0)
    tree = _libc.syscall(
        _SYS_OPEN_TREE, ctypes.c_int(-100), os.fsencode(path), ctypes.c_uint(flags)
    )
    if tree < 0:
        return str(_fail(f"open_tree({path}, OPEN_TREE_CLONE)"))
    try:
        userns = _userns_fd("0 100000 65536\n", "0 100000 65536\n")
    except OSError as err:
        os.close(tree)
        return f"cannot make a user namespace for the mapping: {err}"
    try:
        attr = struct.pack("QQQQ", _MOUNT_ATTR_IDMAP, 0, 0, userns)
        at = _AT_EMPTY_PATH | (_AT_RECURSIVE if recursive else 0)
        res = _libc.syscall(
            _SYS_MOUNT_SETATTR,
            ctypes.c_int(tree),
            b"",
            ctypes.c_uint(at),
            attr,
            ctypes.c_size_t(len(attr)),
        )
        if res < 0:
            fstype = _fstype(path)
            return str(_fail(f"mount_setattr(MOUNT_ATTR_IDMAP) on {path} ({fstype})"))
        return None
    finally:
        with contextlib.suppress(OSError):
            os.close(userns)
        os.close(tree)


def _fstype(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from /proc/self/mountinfo)."""
    best, kind = "", "unknown filesystem"
    target = str(path.resolve())
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        head, _, tail = line.partition(" - ")
        point = head.split()[4]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, tail.split()[0]
    return kind
