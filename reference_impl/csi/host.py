"""Host operations: bind mounts and loop devices, through util-linux's own tools.

Each privileged step logs a debug line first; a failure raises :class:`HostError` with the
command's stderr so the caller can report it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)


class HostError(RuntimeError):
    """A mount or loop-device command failed."""


def _run(*argv: str) -> str:
    log.debug("exec %s", " ".join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HostError(f"failed to run {argv[0]} {' '.join(argv[1:])}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def mount_points() -> set[str]:
    """Every mount point in this mount namespace (from /proc/self/mountinfo)."""
    points = set()
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            raw = line.split()[4]
            points.add(raw.encode().decode("unicode_escape"))
    return points


def is_mounted(path: str) -> bool:
    """True when ``path`` is a mount point."""
    return path in mount_points()


def bind_mount(source: str, target: str, *, readonly: bool) -> None:
    """Bind ``source`` onto ``target``; a read-only bind needs a second remount step."""
    _run("mount", "--bind", source, target)
    if readonly:
        try:
            _run("mount", "-o", "remount,bind,ro", target)
        except HostError:
            unmount(target)
            raise


def unmount(target: str) -> None:
    """Unmount ``target`` when it is mounted (a no-op otherwise)."""
    while is_mounted(target):
        _run("umount", target)


def mount_is_readonly(target: str) -> bool:
    """True when the mount at ``target`` carries the ``ro`` option."""
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if fields[4].encode().decode("unicode_escape") == target:
                return "ro" in fields[5].split(",")
    return False


def loop_attach(backing: Path) -> str:
    """Attach ``backing`` to a free loop device and return the device path."""
    existing = loop_find(backing)
    if existing:
        return existing
    return _run("losetup", "--find", "--show", str(backing))


def loop_attach_readonly(backing: Path) -> str:
    """Attach ``backing`` to a new read-only loop device (bind mounts cannot make a device
    node read-only: the kernel checks the mount's ro flag only for regular files)."""
    return _run("losetup", "--read-only", "--find", "--show", str(backing))


def loop_find(backing: Path) -> str:
    """The loop device backed by ``backing``, or ``""``."""
    out = _run("losetup", "--noheadings", "--output", "NAME", "--associated", str(backing))
    return out.splitlines()[0].strip() if out else ""


def loop_detach(device: str) -> None:
    """Detach the loop device ``device``."""
    _run("losetup", "--detach", device)


def loop_refresh(device: str) -> None:
    """Make the loop device pick up its backing file's new size."""
    _run("losetup", "--set-capacity", device)


def block_size(device: str) -> int:
    """The size of a block device in bytes."""
    fd = os.open(device, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
