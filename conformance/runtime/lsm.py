"""Which security modules and capabilities the host offers, for the tests' skips.

AppArmor and SELinux labels can only be applied where the module is enabled; a capability
outside the harness's bounding set can never be granted to a container it starts. Every
function takes the file system root so the unit tests can feed a fake tree.
"""

from __future__ import annotations

import re
from pathlib import Path

from conformance.runtime.observe import CAPABILITIES, capability_sets

ROOT = Path("/")


def _read(root: Path, path: str) -> str | None:
    try:
        return (root / path.lstrip("/")).read_text()
    except OSError:
        return None


def active_lsms(root: Path = ROOT) -> list[str] | None:
    """The kernel's LSM list (``/sys/kernel/security/lsm``), or ``None`` when unreadable."""
    text = _read(root, "/sys/kernel/security/lsm")
    return None if text is None else [name for name in text.strip().split(",") if name]


def apparmor_off(root: Path = ROOT) -> str | None:
    """Why AppArmor labels cannot be tested here, or ``None`` when AppArmor is enabled."""
    lsms = active_lsms(root)
    if lsms is not None:
        return None if "apparmor" in lsms else f"AppArmor is not an active LSM ({lsms})"
    if (_read(root, "/sys/module/apparmor/parameters/enabled") or "").strip() == "Y":
        return None
    return (
        "AppArmor is not enabled: /sys/kernel/security/lsm is absent and "
        "/sys/module/apparmor/parameters/enabled does not say Y"
    )


def apparmor_profiles(root: Path = ROOT) -> list[str]:
    """Names of the loaded AppArmor profiles in enforce mode."""
    text = _read(root, "/sys/kernel/security/apparmor/profiles") or ""
    found = []
    for line in text.splitlines():
        name, _, mode = line.rpartition(" ")
        if name and mode == "(enforce)":
            found.append(name)
    return found


def selinux_off(root: Path = ROOT) -> str | None:
    """Why SELinux labels cannot be tested here, or ``None`` when SELinux is enabled."""
    lsms = active_lsms(root)
    if lsms is not None and "selinux" not in lsms:
        return f"SELinux is not an active LSM ({lsms})"
    if _read(root, "/sys/fs/selinux/enforce") is None:
        return "SELinux is not enabled: /sys/fs/selinux/enforce is absent"
    return None


def selinux_container_contexts(root: Path = ROOT) -> dict[str, str]:
    """The policy's container contexts (``process``, ``file``) from its lxc_contexts."""
    config = _read(root, "/etc/selinux/config") or ""
    kind = re.search(r"^SELINUXTYPE=(\S+)", config, re.MULTILINE)
    if not kind:
        return {}
    text = _read(root, f"/etc/selinux/{kind.group(1)}/contexts/lxc_contexts") or ""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip().strip('"')
    return found


def bounding_set(root: Path = ROOT) -> set[str]:
    """Capability names in the harness's own bounding set (``/proc/self/status`` CapBnd)."""
    return capability_sets({"status": _read(root, "/proc/self/status") or ""})["bounding"]


def kernel_capabilities(root: Path = ROOT) -> list[str]:
    """Every capability this kernel defines (up to ``/proc/sys/kernel/cap_last_cap``)."""
    last = _read(root, "/proc/sys/kernel/cap_last_cap")
    count = int(last) + 1 if last and last.strip().isdigit() else len(CAPABILITIES)
    return CAPABILITIES[:count]


def missing_from_bounding_set(names: list[str], root: Path = ROOT) -> str | None:
    """Why some of ``names`` cannot be granted here, or ``None`` when all of them can."""
    missing = sorted(set(names) - bounding_set(root))
    if not missing:
        return None
    return (
        f"the harness's bounding set lacks {', '.join(missing)}, so no runtime it starts can "
        "grant them (a process never gains a capability outside its bounding set)"
    )
