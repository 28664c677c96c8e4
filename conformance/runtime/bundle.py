"""Bundles: a directory with ``config.json`` and a rootfs, one per test.

:func:`base_config` is the conventional Linux container every test starts from (the same
shape ``runc spec`` and runtime-tools' generator produce); tests change only what they check.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.runtime.rootfs import PROBE_IN_CONTAINER

SHARED_IN_CONTAINER = "/shared"
"""Where each bundle's host-side exchange directory is bind-mounted in the container."""

CGROUP_PARENT = "conformance"
"""Parent of the cgroups tests ask for (``/conformance/<id>``); removed when left empty."""

DEFAULT_CAPS = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
]

DEFAULT_NAMESPACES = ["pid", "network", "ipc", "uts", "mount"]

DEFAULT_ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]


def default_mounts() -> list[dict[str, Any]]:
    """The conventional /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and /sys mounts."""
    return [
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
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
    ]


def base_config(oci_version: str, args: list[str], shared: Path) -> dict[str, Any]:
    """A complete Linux config running ``args`` with the conventional defaults.

    Args:
        oci_version: the ``ociVersion`` to declare.
        args: ``process.args``.
        shared: host directory bind-mounted read-write at :data:`SHARED_IN_CONTAINER`.
    """
    caps = list(DEFAULT_CAPS)
    return {
        "ociVersion": oci_version,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": list(DEFAULT_ENV),
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "conformance",
        "mounts": [
            *default_mounts(),
            {
                "destination": SHARED_IN_CONTAINER,
                "type": "bind",
                "source": str(shared),
                "options": ["rbind", "rw"],
            },
        ],
        "linux": {
            "namespaces": [{"type": t} for t in DEFAULT_NAMESPACES],
        },
    }


@dataclass
class Bundle:
    """One test's bundle directory and the config it will write.

    Attributes:
        path: the bundle directory (holds ``config.json`` and ``rootfs``).
        shared: host directory visible in the container at :data:`SHARED_IN_CONTAINER`.
        config: the config as a dict; :meth:`write` stores it.
    """

    path: Path
    shared: Path
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def rootfs(self) -> Path:
        """The bundle's root filesystem directory."""
        return self.path / "rootfs"

    @property
    def process(self) -> dict[str, Any]:
        """``config.process`` (created when missing)."""
        proc: dict[str, Any] = self.config.setdefault("process", {})
        return proc

    @property
    def linux(self) -> dict[str, Any]:
        """``config.linux`` (created when missing)."""
        linux: dict[str, Any] = self.config.setdefault("linux", {})
        return linux

    def probe(self, *options: str, out: str = "") -> list[str]:
        """Make the process the probe with ``options``; its report goes to ``out`` in shared.

        Returns:
            The ``process.args`` set.
        """
        args = [PROBE_IN_CONTAINER]
        if out:
            args += ["--out", f"{SHARED_IN_CONTAINER}/{out}"]
        args += list(options)
        self.process["args"] = args
        return args

    def set_namespace(self, ns_type: str, path: str | None = None) -> None:
        """Add (or replace) the namespace of ``ns_type``, joined when ``path`` is given."""
        spaces = [n for n in self.linux.setdefault("namespaces", []) if n["type"] != ns_type]
        entry: dict[str, Any] = {"type": ns_type}
        if path is not None:
            entry["path"] = path
        spaces.append(entry)
        self.linux["namespaces"] = spaces

    def drop_namespace(self, ns_type: str) -> None:
        """Remove ``ns_type`` so the container inherits the runtime's namespace."""
        spaces = self.linux.get("namespaces", [])
        self.linux["namespaces"] = [n for n in spaces if n["type"] != ns_type]

    def add_mount(self, mount: dict[str, Any]) -> None:
        """Append one mount."""
        self.config.setdefault("mounts", []).append(mount)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the config as it stands."""
        return copy.deepcopy(self.config)

    def write(self) -> Path:
        """Store the config as ``config.json``; returns its path."""
        path = self.path / "config.json"
        path.write_text(json.dumps(self.config, indent=2) + "\n")
        return path
