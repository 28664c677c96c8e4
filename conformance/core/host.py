"""Facts about the host a run happened on, for the result record and for skips."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cgroup_mode(root: Path = Path("/sys/fs/cgroup")) -> str:
    """``v2`` (unified), ``hybrid`` (v1 with a v2 mount) or ``v1``; ``none`` without cgroups."""
    if (root / "cgroup.controllers").exists():
        return "v2"
    if (root / "unified" / "cgroup.controllers").exists():
        return "hybrid"
    if root.is_dir() and any(root.iterdir()):
        return "v1"
    return "none"


def os_release() -> str:
    """The distribution's PRETTY_NAME, or the empty string."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def is_root() -> bool:
    """True when running with effective uid 0."""
    return os.geteuid() == 0


def facts() -> dict[str, object]:
    """The host facts recorded in every ``results.json``."""
    return {
        "kernel": platform.release(),
        "arch": platform.machine(),
        "os": os_release(),
        "cgroup_mode": cgroup_mode(),
        "root": is_root(),
        "python": platform.python_version(),
    }
