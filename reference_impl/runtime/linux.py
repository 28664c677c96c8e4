"""Thin ctypes wrappers for the Linux syscalls Python 3.11 lacks (namespaces, mounts, openat2).

Every wrapper raises :class:`OSError` with errno and a message in the form
"failed to <verb> <object>", so callers can add the config field at fault.
"""

from __future__ import annotations

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

# x86-64 syscall numbers (unistd_64.h).
SYS_PIVOT_ROOT = 155
SYS_SETNS = 308
SYS_UNSHARE = 272
SYS_OPENAT2 = 437
SYS_PIDFD_OPEN = 434
SYS_SETDOMAINNAME = 171
SYS_SCHED_SETATTR = 314
SYS_IOPRIO_SET = 251
SYS_PERSONALITY = 135
SYS_SET_MEMPOLICY = 238
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "user": CLONE_NEWUSER,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}
# The names of /proc/<pid>/ns entries, by config namespace type.
NAMESPACE_PROC = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

O_PATH = 0o10000000

# The new mount API (open_tree(2), move_mount(2), mount_setattr(2); linux/mount.h).
OPEN_TREE_CLONE = 0x1
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_IDMAP = 0x100000


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"failed to {what}: {os.strerror(err)}")
    return result


def raw_syscall(number: int, *args: int | bytes) -> int:
    """syscall(2) with int or buffer arguments; raises OSError on failure."""
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return _check(_syscall(number, *conv), f"call syscall {number}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (``flags``: CLONE_NEW*)."""
    _check(_syscall(SYS_UNSHARE, ctypes.c_int(flags)), f"unshare namespaces {flags:#x}")


def setns(fd: int, nstype: int, what: str) -> None:
    """Join the namespace behind ``fd``; the kernel rejects a namespace of another type."""
    _check(_syscall(SYS_SETNS, ctypes.c_int(fd), ctypes.c_int(nstype)), f"join {what}")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    """mount(2) with text arguments."""
    res = _libc.mount(
        None if source is None else os.fsencode(source),
        os.fsencode(target),
        None if fstype is None else os.fsencode(fstype),
        ctypes.c_ulong(flags),
        None if not data else os.fsencode(data),
    )
    _check(res, f"mount {source} on {target} (type {fstype}, flags {flags:#x})")


def umount2(target: str, flags: int) -> None:
    """umount2(2)."""
    _check(_libc.umount2(os.fsencode(target), ctypes.c_int(flags)), f"unmount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    res = _syscall(SYS_PIVOT_ROOT, os.fsencode(new_root), os.fsencode(put_old))
    _check(res, f"pivot_root to {new_root}")


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` below ``dirfd`` under the RESOLVE_* restrictions."""
    how = struct.pack("QQQ", flags | os.O_CLOEXEC, mode, resolve)
    res = _syscall(SYS_OPENAT2, ctypes.c_int(dirfd), os.fsencode(path), how, len(how))
    return _check(res, f"open {path} inside the root")


def open_tree(path: str, flags: int) -> int:
    """open_tree(2) on an absolute path; returns the fd of a (cloned, detached) mount tree."""
    res = _syscall(SYS_OPEN_TREE, ctypes.c_int(-100), os.fsencode(path), ctypes.c_uint(flags))
    return _check(res, f"clone the mount tree of {path}")


def move_mount(tree_fd: int, target_fd: int, what: str) -> None:
    """move_mount(2) of the tree behind ``tree_fd`` onto the file behind ``target_fd``."""
    flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
    res = _syscall(
        SYS_MOVE_MOUNT,
        ctypes.c_int(tree_fd),
        b"",
        ctypes.c_int(target_fd),
        b"",
        ctypes.c_uint(flags),
    )
    _check(res, f"attach {what}")


def mount_setattr(
    fd: int, attr_set: int, attr_clr: int, *, recursive: bool, what: str, userns_fd: int = 0
) -> None:
    """mount_setattr(2) on the mount (tree) ``fd`` refers to."""
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, userns_fd)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    res = _syscall(SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(flags), attr, len(attr))
    _check(res, what)


def mount_setattr_idmap(tree_fd: int, userns_fd: int, recursive: bool) -> None:
    """mount_setattr(2) with MOUNT_ATTR_IDMAP: the tree shows ids through ``userns_fd``'s maps."""
    mount_setattr(
        tree_fd,
        MOUNT_ATTR_IDMAP,
        0,
        recursive=recursive,
        what="idmap the mount (mount_setattr MOUNT_ATTR_IDMAP)",
        userns_fd=userns_fd,
    )


def setdomainname(name: str) -> None:
    """setdomainname(2)."""
    raw = os.fsencode(name)
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), f"set domainname {name}")


def sethostname(name: str) -> None:
    """sethostname(2)."""
    raw = os.fsencode(name)
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), f"set hostname {name}")


def prctl(option: int, arg2: int = 0) -> None:
    """prctl(2) with one argument."""
    res = _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), 0, 0, 0)
    _check(res, f"prctl option {option}")


PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
