"""Image config -> runtime bundle ``config.json``, by the image spec's conversion rules.

conversion.md maps: ``Entrypoint`` + ``Cmd`` -> ``process.args``; ``Env`` -> ``process.env``;
``WorkingDir`` -> ``process.cwd``; ``User`` -> ``process.user`` (names resolved through the
rootfs's ``/etc/passwd`` and ``/etc/group``, never the host's); ``Volumes`` -> mounts;
platform fields, ``author``, ``created``, ``StopSignal`` and ``ExposedPorts`` ->
``org.opencontainers.image.*`` annotations; ``Labels`` -> annotations (the converted keys win).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

RUNTIME_SPEC_VERSION = "1.2.0"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MAX_SYMLINKS = 40


class ConversionError(Exception):
    """The config cannot be converted (e.g. a user name missing from the rootfs)."""


def secure_join(root: Path, path: str) -> Path:
    """``path`` resolved inside ``root``: symlinks followed as if ``root`` were ``/``."""
    pending = [p for p in PurePosixPath(path).parts if p not in ("/", ".", "")]
    resolved: list[str] = []
    hops = 0
    while pending:
        comp = pending.pop(0)
        if comp == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, comp)
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINKS:
                raise ConversionError(f"too many symlinks resolving {path!r}")
            target = PurePosixPath(os.readlink(candidate))
            if target.is_absolute():
                resolved = []
            pending = [p for p in target.parts if p not in ("/", ".", "")] + pending
            continue
        resolved.append(comp)
    return root.joinpath(*resolved)


def _table(rootfs: Path, name: str) -> list[list[str]]:
    path = secure_join(rootfs, f"/etc/{name}")
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def resolve_user(user: str, rootfs: Path) -> dict[str, Any]:
    """The runtime ``process.user`` for the image's ``User`` (``name|uid[:group|gid]``)."""
    if not user:
        return {"uid": 0, "gid": 0}
    name, _, group = user.partition(":")
    passwd = [row for row in _table(rootfs, "passwd") if len(row) >= 4]
    if name.isdigit():
        uid = int(name)
        entry = next((r for r in passwd if r[2] == name), None)
    else:
        entry = next((r for r in passwd if r[0] == name), None)
        if entry is None:
            raise ConversionError(f"user {name!r} is not in the rootfs /etc/passwd")
        uid = int(entry[2])
    groups = [row for row in _table(rootfs, "group") if len(row) >= 3]
    if group.isdigit():
        gid = int(group)
    elif group:
        found = next((g for g in groups if g[0] == group), None)
        if found is None:
            raise ConversionError(f"group {group!r} is not in the rootfs /etc/group")
        gid = int(found[2])
    else:
        gid = int(entry[3]) if entry is not None else 0
    result: dict[str, Any] = {"uid": uid, "gid": gid}
    if entry is not None and not group:
        extra = sorted(
            {int(g[2]) for g in groups if len(g) > 3 and entry[0] in g[3].split(",")} - {gid}
        )
        if extra:
            result["additionalGids"] = extra
    return result


def _annotations(config: dict[str, Any]) -> dict[str, str]:
    execution = config.get("config") or {}
    out: dict[str, str] = {}
    for key, value in (execution.get("Labels") or {}).items():
        out[str(key)] = str(value)
    converted = {
        "org.opencontainers.image.os": config.get("os"),
        "org.opencontainers.image.architecture": config.get("architecture"),
        "org.opencontainers.image.variant": config.get("variant"),
        "org.opencontainers.image.os.version": config.get("os.version"),
        "org.opencontainers.image.os.features": ",".join(config.get("os.features") or []) or None,
        "org.opencontainers.image.author": config.get("author"),
        "org.opencontainers.image.created": config.get("created"),
        "org.opencontainers.image.stopSignal": execution.get("StopSignal"),
        "org.opencontainers.image.exposedPorts": ",".join(
            sorted(execution.get("ExposedPorts") or {})
        )
        or None,
    }
    out.update({k: str(v) for k, v in converted.items() if v})
    return out


def _mounts(volumes: dict[str, Any]) -> list[dict[str, Any]]:
    base = [
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
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
    ]
    # Volumes hold data that must not land in the rootfs (conversion.md): an empty tmpfs each.
    for dest in sorted(volumes):
        base.append(
            {
                "destination": dest,
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev"],
            }
        )
    return base


def runtime_config(config: dict[str, Any], rootfs: Path) -> dict[str, Any]:
    """The runtime bundle ``config.json`` for an image config and its unpacked rootfs."""
    execution = config.get("config") or {}
    args = list(execution.get("Entrypoint") or []) + list(execution.get("Cmd") or [])
    if not args:
        raise ConversionError("the image has neither Entrypoint nor Cmd")
    env = list(execution.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    return {
        "ociVersion": RUNTIME_SPEC_VERSION,
        "process": {
            "terminal": False,
            "user": resolve_user(str(execution.get("User") or ""), rootfs),
            "args": args,
            "env": env,
            "cwd": execution.get("WorkingDir") or "/",
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs.name, "readonly": False},
        "hostname": "container",
        "mounts": _mounts(execution.get("Volumes") or {}),
        "annotations": _annotations(config),
        "linux": {
            "namespaces": [
                {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
        },
    }
