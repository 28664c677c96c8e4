"""What this host's kernel can do, probed by the harness itself (never through the runtime).

A test of an optional kernel feature first asks here; ``None`` means supported, a string is
the measured reason it is not, for a host skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import logging
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

from conformance.core.errors import EnvironmentProblem
from conformance.runtime.holder import holding
from conformance.runtime.observe import parse_mountinfo

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86-64 numbers and linux/mount.h constants.
_SYS_OPEN_TREE = 428
_SYS_MOUNT_SETATTR = 442
_OPEN_TREE_CLONE = 0x1
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_IDMAP = 0x100000


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def _userns_fd(uid_map: str, gid_map: str) -> int:
    """An fd of a new user namespace with the given map lines, made by a short-lived holder.

    The holder is unshare(1), not a fork of the harness: a forked copy of a worker that has
    used gRPC (the CRI and CSI suites run in the same xdist workers) carries gRPC's threads,
    and unshare(CLONE_NEWUSER) refuses a multithreaded caller with EINVAL.
    """
    try:
        with holding("--user", id_maps=(uid_map, gid_map)) as pid:
            return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except EnvironmentProblem as err:
        raise OSError(errno.EPERM, str(err)) from err


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
    for mount in parse_mountinfo(Path("/proc/self/mountinfo").read_text()):
        point = mount.point
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, mount.fstype
    return kind


# -- the kernel log: seccomp audit records ----------------------------------------------------

AUDIT_SECCOMP = "type=1326"
"""The audit record type of a logged seccomp action (AUDIT_SECCOMP, linux/audit.h)."""

GETPPID_NR = 110
"""getppid's x86-64 syscall number, the call the probes and filters here use."""

_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_RET_LOG = 0x7FFC0000
_SECCOMP_RET_ALLOW = 0x7FFF0000


class KernelLog:
    """Records appended to ``/dev/kmsg`` after the log was opened (root only).

    Use as a context manager; :meth:`wait_for` polls the log until a record matches or the
    deadline passes (kauditd writes records asynchronously, so there is no fixed wait).
    """

    def __init__(self) -> None:
        self.fd = -1
        self.seen: list[str] = []

    def __enter__(self) -> KernelLog:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.lseek(self.fd, 0, os.SEEK_END)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def _drain(self) -> None:
        while True:
            try:
                record = os.read(self.fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:
                continue  # records were overwritten before we read them; go on with the next
            self.seen.append(record.decode(errors="replace").rstrip("\n"))

    def wait_for(self, needles: tuple[str, ...], timeout: float) -> str | None:
        """The first record containing every string of ``needles``, or ``None``."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            for record in self.seen:
                if all(n in record for n in needles):
                    return record
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self.fd], [], [], left)


def _log_filter() -> bytes:
    """cBPF: getppid returns SECCOMP_RET_LOG, everything else is allowed."""
    ld_nr = struct.pack("HBBI", 0x20, 0, 0, 0)  # BPF_LD|BPF_W|BPF_ABS, seccomp_data.nr
    is_getppid = struct.pack("HBBI", 0x15, 0, 1, GETPPID_NR)  # BPF_JMP|BPF_JEQ|BPF_K
    ret_log = struct.pack("HBBI", 0x06, 0, 0, _SECCOMP_RET_LOG)  # BPF_RET|BPF_K
    ret_allow = struct.pack("HBBI", 0x06, 0, 0, _SECCOMP_RET_ALLOW)
    return ld_nr + is_getppid + ret_log + ret_allow


_LOG_CHILD = """
import ctypes, os, struct, sys
program = bytes.fromhex(sys.argv[1])
set_seccomp, mode_filter, nr = (int(a) for a in sys.argv[2:5])
libc = ctypes.CDLL(None, use_errno=True)
insns = ctypes.create_string_buffer(program, len(program))
fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(insns))
if libc.prctl(set_seccomp, mode_filter, fprog, 0, 0) != 0:
    sys.exit(1)
libc.syscall(nr)
print(os.getpid())
"""
"""Installs the filter given in hex, makes the logged call once and prints its pid."""


@functools.cache
def seccomp_log_unobservable() -> str | None:
    """Why logged seccomp actions do not reach ``/dev/kmsg`` here, or ``None``.

    A child installs a filter whose getppid action is SECCOMP_RET_LOG (always logged when
    ``log`` is in /proc/sys/kernel/seccomp/actions_logged) and calls it once.
    """
    if not os.access("/dev/kmsg", os.R_OK):
        return "/dev/kmsg is not readable"
    logged = Path("/proc/sys/kernel/seccomp/actions_logged")
    if logged.exists() and "log" not in logged.read_text().split():
        return f"{logged} does not contain 'log' ({logged.read_text().strip()!r})"
    with KernelLog() as klog:
        # A fresh interpreter, not a fork of the harness (which may carry gRPC's threads).
        child = subprocess.run(
            [sys.executable, "-S", "-c", _LOG_CHILD, _log_filter().hex(),
             str(_PR_SET_SECCOMP), str(_SECCOMP_MODE_FILTER), str(GETPPID_NR)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            return "a test filter could not be installed (prctl PR_SET_SECCOMP failed)"
        pid = int(child.stdout)
        record = klog.wait_for((AUDIT_SECCOMP, f" pid={pid} ", f" syscall={GETPPID_NR} "), 3.0)
    if record is None:
        return (
            "a call with action SECCOMP_RET_LOG left no audit type=1326 record in /dev/kmsg "
            "within 3 s (audit disabled, or an audit daemon takes the records)"
        )
    log.debug("kernel log shows seccomp records: %s", record)
    return None


SSB_MODE = Path("/sys/devices/system/cpu/vulnerabilities/spec_store_bypass")


def ssb_seccomp_mode_missing() -> str | None:
    """Why SECCOMP_FILTER_FLAG_SPEC_ALLOW has no visible effect here, or ``None``.

    Only when the kernel forces the Speculative Store Bypass mitigation on seccomp tasks
    (``spec_store_bypass_disable=seccomp``, the default where the CPU is affected) does the
    flag change what ``/proc/<pid>/status`` reports.
    """
    mode = SSB_MODE.read_text().strip() if SSB_MODE.exists() else "(no such file)"
    if "seccomp" in mode.lower():
        return None
    own = ""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Speculation_Store_Bypass:"):
            own = line.split(":", 1)[1].strip()
    return (
        f"{SSB_MODE} reads {mode!r} and this process' Speculation_Store_Bypass is {own!r}: the "
        "kernel does not mitigate SSB for seccomp tasks, so the flag changes nothing visible"
    )
