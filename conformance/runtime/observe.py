"""Read the probe's report: capability sets, mountinfo, status fields.

Only parsing lives here; the comparisons are in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]  # fmt: skip
"""Capability names by bit number (linux/capability.h)."""

STATUS_SETS = {
    "CapInh": "inheritable",
    "CapPrm": "permitted",
    "CapEff": "effective",
    "CapBnd": "bounding",
    "CapAmb": "ambient",
}


def status_fields(report: dict[str, Any]) -> dict[str, str]:
    """``/proc/self/status`` as a dict of field → value text."""
    fields = {}
    for line in (report.get("status") or "").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def capability_sets(report: dict[str, Any]) -> dict[str, set[str]]:
    """The five capability sets of the probe, by config name (``bounding``, ...)."""
    fields = status_fields(report)
    sets = {}
    for field, name in STATUS_SETS.items():
        mask = int(fields.get(field, "0"), 16)
        sets[name] = {cap for bit, cap in enumerate(CAPABILITIES) if mask >> bit & 1}
    return sets


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``."""

    mount_id: int
    parent_id: int
    root: str
    point: str
    options: frozenset[str]
    optional: tuple[str, ...]
    fstype: str
    source: str
    super_options: frozenset[str]


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def mountinfo(report: dict[str, Any]) -> list[Mount]:
    """The probe's mount table, in kernel order."""
    return parse_mountinfo(report.get("mountinfo") or "")


def parse_mountinfo(text: str) -> list[Mount]:
    """A ``/proc/<pid>/mountinfo`` text (the probe's or the host's), in kernel order."""
    mounts = []
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        parts = head.split()
        fstype, source, sopts = ([*tail.split(), "", "", ""])[:3]
        mounts.append(
            Mount(
                mount_id=int(parts[0]),
                parent_id=int(parts[1]),
                root=_unescape(parts[3]),
                point=_unescape(parts[4]),
                options=frozenset(parts[5].split(",")),
                optional=tuple(parts[6:]),
                fstype=fstype,
                source=source,
                super_options=frozenset(sopts.split(",")),
            )
        )
    return mounts


def mount_at(report: dict[str, Any], point: str) -> Mount | None:
    """The topmost mount at ``point`` (the last one listed), or ``None``."""
    found = [m for m in mountinfo(report) if m.point == point]
    return found[-1] if found else None


def env_map(report: dict[str, Any]) -> dict[str, str]:
    """The probe's environment as a dict."""
    out = {}
    for item in report.get("env", []):
        name, _, value = item.partition("=")
        out[name] = value
    return out


def id_map(text: str | None) -> list[tuple[int, int, int]]:
    """``/proc/self/uid_map`` rows as (inside, outside, count)."""
    rows = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            rows.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return rows
