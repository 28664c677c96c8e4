"""What every RPC group shares: directories, stores, the OCI runtime, CNI, the image store."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shlex
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from reference_impl.cri.images import ImageStore
from reference_impl.cri.network import Cni
from reference_impl.cri.oci import Runtime
from reference_impl.cri.store import RecordStore

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "/reference-cri"
"""Top of the parent cgroups of pods that name no ``cgroup_parent``; each server has its own
parent below it (:attr:`Context.cgroup_parent`)."""


@dataclass
class Settings:
    """Command-line settings of the server."""

    root: Path
    state: Path
    runtime: str
    cni_conf_dir: Path | None
    cni_bin_dirs: list[str] | None
    insecure: set[str] = field(default_factory=set)


class Context:
    """Shared state of one server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self.state = settings.state
        self.root.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.images = ImageStore(self.root, settings.insecure)
        self.sandboxes = RecordStore(self.state / "sandboxes")
        self.containers = RecordStore(self.state / "containers")
        self.runtime = Runtime(settings.runtime, self.state / "runtime")
        bin_dirs = settings.cni_bin_dirs or [str(self._reference_cni_bin()), "/usr/lib/cni"]
        self.cni = Cni(settings.cni_conf_dir, bin_dirs)
        self.lock = threading.RLock()
        # One parent per server (keyed by its state directory): a server removes its parent
        # with its last pod, and must never remove one another server is creating pods in.
        state_key = hashlib.sha256(str(self.state.resolve()).encode()).hexdigest()[:12]
        self.cgroup_parent = f"{CGROUP_PREFIX}-{state_key}"
        self.pause_rootfs = self.root / "pause-rootfs"
        self._ensure_pause_rootfs()

    def _ensure_pause_rootfs(self) -> None:
        """A read-only rootfs for sandbox processes: Debian's static busybox, nothing else."""
        target = self.pause_rootfs / "busybox"
        if target.exists():
            return
        busybox = shutil.which("busybox") or "/bin/busybox"
        self.pause_rootfs.mkdir(parents=True, exist_ok=True)
        for sub in ("proc", "dev", "sys", "etc"):
            (self.pause_rootfs / sub).mkdir(exist_ok=True)
        tmp = self.pause_rootfs / ".busybox.tmp"
        shutil.copy2(busybox, tmp)
        tmp.replace(target)

    def _reference_cni_bin(self) -> Path:
        """Launchers of the reference CNI plugins (bridge, host-local, loopback).

        Debian's plugin directory follows them on CNI_PATH for the rest (portmap).
        """
        bin_dir = self.state / "cni-bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(p for p in sys.path if p)
        for name in ("bridge", "host-local", "loopback"):
            script = bin_dir / name
            script.write_text(
                f"#!/bin/sh\nPYTHONPATH={shlex.quote(path)} exec {shlex.quote(sys.executable)}"
                f" -m reference_impl.cni {name}\n"
            )
            script.chmod(0o755)
        return bin_dir

    def sandbox_dir(self, sandbox_id: str) -> Path:
        """Per-pod files (bundle, resolv.conf, hostname, hosts)."""
        return self.state / "pods" / sandbox_id

    def container_dir(self, container_id: str) -> Path:
        """Per-container bundle (config.json, rootfs, exit.json)."""
        return self.root / "containers" / container_id


def remove_cgroup(path: str, recursive: bool = True) -> list[str]:
    """rmdir ``path`` (and empty children) in every cgroup hierarchy; returns what remained."""
    left = []
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        target = hierarchy / path.lstrip("/")
        if not target.is_dir() or target.is_symlink():
            continue
        children = target.rglob("*") if recursive else []
        for sub in sorted(children, key=lambda p: -len(p.parts)):
            if sub.is_dir():
                with contextlib.suppress(OSError):
                    sub.rmdir()
        try:
            target.rmdir()
        except OSError as err:
            left.append(f"{target}: {err}")
    return left
