"""The ``features`` document (features.md, v1.3.0) and the ``spec`` template."""

from __future__ import annotations

from . import config as cfg

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

VERSION = "0.1.0"


def features() -> dict[str, Any]:
    """What this runtime implements, for ``features``."""
    from .rootfs import MOUNT_OPTIONS

    return {
        "ociVersionMin": cfg.OCI_VERSION_MIN,
        "ociVersionMax": cfg.OCI_VERSION_MAX,
        "hooks": list(cfg.HOOK_KINDS),
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": list(cfg.NAMESPACE_TYPES),
            "capabilities": list(cfg.CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": True,
                "actions": list(cfg.SECCOMP_ACTIONS),
                "operators": list(cfg.SECCOMP_OPERATORS),
                "archs": list(cfg.SECCOMP_ARCHS),
                "knownFlags": list(cfg.SECCOMP_FLAGS),
                "supportedFlags": list(cfg.SECCOMP_FLAGS),
            },
            "apparmor": {"enabled": True},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "netDevices": {"enabled": True},
            "memoryPolicy": {
                "modes": list(cfg.MEMPOLICY_MODES),
                "flags": list(cfg.MEMPOLICY_FLAGS),
            },
            "mountExtensions": {"idmap": {"enabled": True}},
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.implementation": "conformance-runtime",
            "org.opencontainers.runtime-spec.features.version": VERSION,
        },
        "potentiallyUnsafeConfigAnnotations": [],
    }


_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def spec_template() -> dict[str, Any]:
    """A minimal, runnable config.json (``spec``): ``sh`` in a busybox-style rootfs."""
    return {
        "ociVersion": cfg.OCI_VERSION_MAX,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "container",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/timer_list",
                "/sys/firmware",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
        },
    }
