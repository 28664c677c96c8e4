"""The OCI runtime (runc-compatible CLI) and the runtime configs of pods and containers."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reference_impl.cri.errors import Internal
from reference_impl.image.bundle import ConversionError, resolve_user
from wire.proto.cri import api_pb2 as pb

log = logging.getLogger(__name__)

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]  # fmt: skip
"""Capabilities of an unprivileged container (containerd's default set)."""

MASKED = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]  # fmt: skip
READONLY = [
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
]  # fmt: skip
PROPAGATION = {
    pb.PROPAGATION_PRIVATE: "rprivate",
    pb.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    pb.PROPAGATION_BIDIRECTIONAL: "rshared",
}


def all_capabilities() -> list[str]:
    """Every capability in our own bounding set (for privileged containers and ``ALL``).

    Not the kernel's full list: root here may lack some (``CAP_SYS_RESOURCE``), and asking
    the runtime for a capability we do not hold fails the create.
    """
    bounding = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            bounding = int(line.split()[1], 16)
    names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]  # fmt: skip
    return [f"CAP_{n}" for i, n in enumerate(names) if bounding & (1 << i)]


def base_mounts() -> list[dict[str, Any]]:
    """The kernel filesystems every container gets."""
    nosuid = ["nosuid", "noexec", "nodev"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": nosuid},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*nosuid, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*nosuid, "relatime", "ro"]},
    ]  # fmt: skip


def _caps(ctx: pb.LinuxContainerSecurityContext) -> list[str]:
    if ctx.privileged:
        return all_capabilities()
    caps = list(DEFAULT_CAPS)
    add = [c.upper() for c in ctx.capabilities.add_capabilities]
    drop = [c.upper() for c in ctx.capabilities.drop_capabilities]
    norm = lambda c: c if c.startswith("CAP_") else f"CAP_{c}"  # noqa: E731
    if "ALL" in add:
        caps = all_capabilities()
    else:
        caps += [norm(c) for c in add if norm(c) not in caps]
    if "ALL" in drop:
        caps = [norm(c) for c in add if c != "ALL"] if "ALL" not in add else []
    else:
        caps = [c for c in caps if c not in {norm(d) for d in drop}]
    return caps


def process_user(
    ctx: pb.LinuxContainerSecurityContext, image_user: str, rootfs: Path
) -> dict[str, Any]:
    """``process.user`` from run_as_user/run_as_username, else the image USER."""
    group = str(ctx.run_as_group.value) if ctx.HasField("run_as_group") else ""
    if ctx.HasField("run_as_user"):
        spec = str(ctx.run_as_user.value)
    elif ctx.run_as_username:
        spec = ctx.run_as_username
    else:
        spec = image_user.partition(":")[0] if group else image_user
        if not group and ":" in image_user:
            spec, _, group = image_user.partition(":")
    if group:
        spec = f"{spec or '0'}:{group}"
    try:
        user = resolve_user(spec, rootfs)
    except ConversionError as err:
        raise Internal(f"cannot resolve user {spec!r}: {err}") from err
    extra = list(ctx.supplemental_groups)
    if extra:
        user["additionalGids"] = sorted(set(user.get("additionalGids", [])) | set(extra))
    return user


def resources(res: pb.LinuxContainerResources) -> dict[str, Any]:
    """``linux.resources`` from CRI resources (zero means unset)."""
    out: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota:
        cpu["quota"] = res.cpu_quota
    if res.cpu_period:
        cpu["period"] = res.cpu_period
    if res.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if res.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    if res.memory_limit_in_bytes:
        out["memory"] = {"limit": res.memory_limit_in_bytes}
    return out


class Runtime:
    """A runc-compatible runtime CLI with its own state root."""

    def __init__(self, path: str, root: Path) -> None:
        self.path = path
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True, timeout: float = 60.0) -> str:
        """Run ``runtime --root ROOT args``; Internal error with its stderr on failure."""
        cmd = [self.path, "--root", str(self.root), *args]
        log.debug("running %s", cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise Internal(f"{' '.join(cmd[3:5])} failed: {proc.stderr.strip() or proc.stdout}")
        return proc.stdout

    def state(self, cid: str) -> dict[str, Any] | None:
        """``runtime state`` or None when the runtime does not know the id."""
        out = self.run("state", cid, check=False)
        try:
            return json.loads(out) if out else None
        except ValueError:
            return None

    def spawn(self, cid: str, bundle: Path, log_path: str, stdin_fifo: str = "") -> tuple[int, int]:
        """Start a detached shim that creates the container; returns (init pid, shim pid)."""
        cmd = [
            sys.executable, "-m", "reference_impl.cri.shim", "--runtime", self.path,
            "--runtime-root", str(self.root), "--id", cid, "--bundle", str(bundle),
            "--log", log_path, "--stdin-fifo", stdin_fifo,
        ]  # fmt: skip
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, env=env, close_fds=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        proc.stdout.close()
        # reap the shim when it ends; it lives as long as the container
        import threading

        threading.Thread(target=proc.wait, daemon=True).start()
        try:
            answer = json.loads(line)
        except ValueError as err:
            raise Internal(f"shim for {cid!r} gave no answer (exit {proc.poll()})") from err
        if "error" in answer:
            raise Internal(f"create {cid!r}: {answer['error']}")
        return int(answer["pid"]), proc.pid

    def kill(self, cid: str, sig: int, all_procs: bool = False) -> None:
        """Signal the container (errors ignored: it may have exited)."""
        args = ["kill", *(["--all"] if all_procs else []), cid, str(sig)]
        self.run(*args, check=False)

    def delete(self, cid: str) -> None:
        """Force-delete the container and wait for its runtime state to go."""
        self.run("delete", "--force", cid, check=False)


def wait_exit(bundle: Path, timeout: float) -> dict[str, Any] | None:
    """The container's exit record once the shim wrote it, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    path = bundle / "exit.json"
    while True:
        if path.exists():
            try:
                return dict(json.loads(path.read_text()))
            except ValueError:
                pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


def signal_number(name: str) -> int:
    """Signal by name (``SIGTERM``/``TERM``) or number."""
    if name.isdigit():
        return int(name)
    return int(getattr(signal, name if name.startswith("SIG") else f"SIG{name}"))
