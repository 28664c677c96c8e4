"""Control groups: v1 (one directory per mounted hierarchy) and v2 (one unified directory).

On a hybrid host (v1 controllers plus a v2 mount at ``/sys/fs/cgroup/unified``) the v1
hierarchies carry the limits, as runc does. ``cgroupsPath`` is taken relative to each
hierarchy's root, whether or not it starts with ``/`` (a relative path is runtime-defined,
config-linux.md#cgroups-path); systemd-style ``slice:prefix:name`` paths become
``slice/prefix-name.scope``. When it is absent the container gets ``/<id>``.
"""

from __future__ import annotations

import errno
import os
import time

from ._log import get_logger
from .errors import ConfigError, HostError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)

CGROUP2_SUPER_MAGIC = 0x63677270

# Default devices every container gets (runtime-linux.md#default-devices), allowed after the
# config's own rules so a "deny all" rule cannot make them unusable.
DEFAULT_DEVICE_RULES = (
    "c 1:3 rwm",  # null
    "c 1:5 rwm",  # zero
    "c 1:7 rwm",  # full
    "c 1:8 rwm",  # random
    "c 1:9 rwm",  # urandom
    "c 5:0 rwm",  # tty
    "c 5:1 rwm",  # console
    "c 5:2 rwm",  # ptmx
    "c 136:* rwm",  # pts
)


def mounted_hierarchies() -> tuple[dict[str, str], str | None]:
    """(v1 controller name -> mount point, v2 mount point or None) from mountinfo."""
    v1: dict[str, str] = {}
    v2: str | None = None
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fstype, _src, superopts = right.split()[:3]
            point = left.split()[4]
            if fstype == "cgroup2" and (v2 is None or point == "/sys/fs/cgroup"):
                v2 = point
            elif fstype == "cgroup":
                for opt in superopts.split(","):
                    if opt in ("rw", "ro") or opt.startswith(("release_agent", "clone_")):
                        continue
                    v1[opt] = point
    return v1, v2


def normalise_path(cgroups_path: str | None, container_id: str) -> str:
    """The cgroup path below each hierarchy root, without a leading slash."""
    if not cgroups_path:
        return container_id
    parts = cgroups_path.split(":")
    if len(parts) == 3 and not cgroups_path.startswith("/"):
        slice_, prefix, name = parts
        return f"{slice_ or 'system.slice'}/{prefix}-{name}.scope" if prefix else name
    clean = os.path.normpath("/" + cgroups_path).lstrip("/")
    if not clean:
        raise ConfigError("linux.cgroupsPath", "must not name the root cgroup")
    return clean


class Cgroups:
    """The cgroup directories of one container.

    Attributes:
        dirs: every directory the container joins (one per v1 hierarchy, or one v2 dir).
        created: the directories this runtime created (and so removes on delete).
    """

    def __init__(self, dirs: list[str], created: list[str]) -> None:
        self.dirs = dirs
        self.created = created

    @classmethod
    def create(cls, cgroups_path: str | None, container_id: str) -> Cgroups:
        """Make (or reuse) the container's directories in every hierarchy."""
        rel = normalise_path(cgroups_path, container_id)
        v1, v2 = mounted_hierarchies()
        points = sorted(set(v1.values())) if v1 else ([v2] if v2 else [])
        dirs: list[str] = []
        created: list[str] = []
        try:
            for point in points:
                target = os.path.join(point, rel)
                created += _makedirs(point, target, cpuset="cpuset" in os.path.basename(point))
                dirs.append(target)
                if not v1:
                    _enable_v2_controllers(point, rel)
        except OSError as err:
            cls(dirs, created).destroy()
            raise HostError(f"linux.cgroupsPath: failed to create cgroup {rel}: {err}") from err
        return cls(dirs, created)

    def join(self, pid: int) -> None:
        """Move ``pid`` into every directory."""
        for path in self.dirs:
            log.debug("joining pid %d to %s", pid, path)
            _write(path, "cgroup.procs", str(pid), "linux.cgroupsPath")

    def join_current(self) -> None:
        """Move the calling process, which must be single-threaded, into every directory.

        The same as :meth:`join` with its own pid, but a v1 ``tasks`` write of ``0`` (the
        calling thread) skips the kernel's global threadgroup lock, whose first taking waits
        out an RCU grace period (5-12 ms here, on every create). A v2 directory has no
        ``tasks`` file and no such shortcut for domain cgroups: there it is ``cgroup.procs``.
        """
        for path in self.dirs:
            log.debug("joining the container init to %s", path)
            v1 = os.path.exists(os.path.join(path, "tasks"))
            _write(path, "tasks" if v1 else "cgroup.procs", "0", "linux.cgroupsPath")

    def apply(self, resources: dict[str, Any]) -> None:
        """Write the limits of ``linux.resources`` (except devices)."""
        if self.v2:
            _apply_v2(self.dirs[0], resources)
            return
        _apply_v1(self.controllers(), resources)

    def controllers(self) -> dict[str, str]:
        """v1 controller name (``memory``, ``cpuacct``, ``name=systemd``) -> directory."""
        v1, _ = mounted_hierarchies()
        result = {}
        for ctrl, point in v1.items():
            for path in self.dirs:
                if path.startswith(point.rstrip("/") + "/"):
                    result[ctrl] = path
        return result

    def apply_devices(self, rules: list[dict[str, Any]]) -> None:
        """Write the device allow list (v1 only; v2 needs a BPF program, see below)."""
        if not rules:
            return
        path = None if self.v2 else self.controllers().get("devices")
        if path is None:
            # DEVIATION(linux-cgroups-devices): v2 device control needs a BPF_CGROUP_DEVICE
            # program, which this runtime does not load; rules are not enforced on v2 hosts.
            log.warning("linux.resources.devices: not enforced without a v1 devices hierarchy")
            return
        for i, rule in enumerate(rules):
            line = _device_rule(rule)
            name = "devices.allow" if rule["allow"] else "devices.deny"
            _write(path, name, line, f"linux.resources.devices[{i}]")
        for line in DEFAULT_DEVICE_RULES:
            _write(path, "devices.allow", line, "linux.resources.devices")

    @property
    def v2(self) -> bool:
        """Whether the directories are on a cgroup2 file system."""
        return bool(self.dirs) and _is_v2(self.dirs[0])

    def pids(self) -> list[int]:
        """Every process in the container's cgroup."""
        for path in self.dirs:
            try:
                with open(os.path.join(path, "cgroup.procs")) as fh:
                    return [int(line) for line in fh if line.strip()]
            except OSError:
                continue
        return []

    def kill_all(self, sig: int) -> None:
        """Signal every process in the cgroup."""
        for pid in self.pids():
            try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def destroy(self, timeout: float = 5.0) -> None:
        """Kill what is left and remove the directories this runtime created."""
        deadline = time.monotonic() + timeout
        for path in sorted(self.created, key=len, reverse=True):
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno == errno.ENOTEMPTY and path not in self.dirs:
                        break  # a parent shared with other containers
                    if err.errno != errno.EBUSY or time.monotonic() > deadline:
                        log.warning("failed to remove cgroup %s: %s", path, err)
                        break
                    self.kill_all(9)  # SIGKILL
                    time.sleep(0.005)


def _is_v2(path: str) -> bool:
    return _fs_magic(path) == CGROUP2_SUPER_MAGIC


def _fs_magic(path: str) -> int:
    import ctypes

    buf = ctypes.create_string_buffer(120)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.statfs(os.fsencode(path), buf) != 0:
        return 0
    return int.from_bytes(buf.raw[:8], "little")


def _makedirs(point: str, target: str, cpuset: bool) -> list[str]:
    """mkdir -p below a hierarchy root; returns the directories created, top first."""
    created: list[str] = []
    rel = os.path.relpath(target, point)
    current = point
    for part in rel.split("/"):
        parent, current = current, os.path.join(current, part)
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            continue
        created.append(current)
        if cpuset:
            # A new v1 cpuset starts empty and refuses tasks until cpus and mems are set.
            for name in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(parent, name)) as src:
                    value = src.read().strip()
                with open(os.path.join(current, name), "w") as dst:
                    dst.write(value)
    return created


def _enable_v2_controllers(point: str, rel: str) -> None:
    with open(os.path.join(point, "cgroup.controllers")) as fh:
        wanted = fh.read().split()
    current = point
    for part in rel.split("/"):
        for ctrl in wanted:
            try:
                _write(current, "cgroup.subtree_control", f"+{ctrl}", "linux.cgroupsPath")
            except HostError:
                log.debug("controller %s not enabled below %s", ctrl, current)
        current = os.path.join(current, part)


def _write(path: str, name: str, value: str, field: str) -> None:
    try:
        with open(os.path.join(path, name), "w") as fh:
            fh.write(value)
    except OSError as err:
        raise HostError(
            f"{field}: failed to write {value!r} to {os.path.join(path, name)}: {err.strerror}"
        ) from err


def _device_rule(rule: dict[str, Any]) -> str:
    kind = rule.get("type") or "a"
    if kind == "a":
        return "a"
    major = rule.get("major")
    minor = rule.get("minor")
    major_s = "*" if major is None or major < 0 else str(major)
    minor_s = "*" if minor is None or minor < 0 else str(minor)
    return f"{kind} {major_s}:{minor_s} {rule.get('access') or 'rwm'}"


def _set(ctrl: dict[str, str], controller: str, name: str, value: Any, field: str) -> None:
    if value is None:
        return
    path = ctrl.get(controller)
    if path is None:
        raise HostError(f"{field}: the {controller} controller is not available on this host")
    if not os.path.exists(os.path.join(path, name)):
        raise HostError(f"{field}: {name} is not supported by this kernel")
    _write(path, name, str(value), field)


def _apply_v1(ctrl: dict[str, str], res: dict[str, Any]) -> None:
    base = "linux.resources"
    mem = res.get("memory") or {}
    m = f"{base}.memory"
    _set(ctrl, "memory", "memory.limit_in_bytes", mem.get("limit"), f"{m}.limit")
    _set(ctrl, "memory", "memory.soft_limit_in_bytes", mem.get("reservation"), f"{m}.reservation")
    _set(ctrl, "memory", "memory.memsw.limit_in_bytes", mem.get("swap"), f"{m}.swap")
    _set(ctrl, "memory", "memory.kmem.limit_in_bytes", mem.get("kernel"), f"{m}.kernel")
    _set(ctrl, "memory", "memory.kmem.tcp.limit_in_bytes", mem.get("kernelTCP"), f"{m}.kernelTCP")
    _set(ctrl, "memory", "memory.swappiness", mem.get("swappiness"), f"{m}.swappiness")
    if mem.get("disableOOMKiller"):
        _set(ctrl, "memory", "memory.oom_control", 1, f"{m}.disableOOMKiller")
    if mem.get("useHierarchy") is not None:
        _set(ctrl, "memory", "memory.use_hierarchy", int(mem["useHierarchy"]), f"{m}.useHierarchy")
    cpu = res.get("cpu") or {}
    c = f"{base}.cpu"
    _set(ctrl, "cpu", "cpu.shares", cpu.get("shares") or None, f"{c}.shares")
    _set(ctrl, "cpu", "cpu.cfs_period_us", cpu.get("period") or None, f"{c}.period")
    _set(ctrl, "cpu", "cpu.cfs_quota_us", cpu.get("quota") or None, f"{c}.quota")
    _set(ctrl, "cpu", "cpu.cfs_burst_us", cpu.get("burst"), f"{c}.burst")
    _set(ctrl, "cpu", "cpu.rt_period_us", cpu.get("realtimePeriod") or None, f"{c}.realtimePeriod")
    rt = cpu.get("realtimeRuntime") or None
    _set(ctrl, "cpu", "cpu.rt_runtime_us", rt, f"{c}.realtimeRuntime")
    _set(ctrl, "cpu", "cpu.idle", cpu.get("idle"), f"{c}.idle")
    _set(ctrl, "cpuset", "cpuset.cpus", cpu.get("cpus") or None, f"{c}.cpus")
    _set(ctrl, "cpuset", "cpuset.mems", cpu.get("mems") or None, f"{c}.mems")
    limit = (res.get("pids") or {}).get("limit")
    if limit is not None:
        _set(ctrl, "pids", "pids.max", "max" if limit < 0 else limit, f"{base}.pids.limit")
    _apply_blkio_v1(ctrl, res.get("blockIO") or {})
    for i, hp in enumerate(res.get("hugepageLimits") or []):
        name = f"hugetlb.{hp['pageSize']}.limit_in_bytes"
        _set(ctrl, "hugetlb", name, hp["limit"], f"{base}.hugepageLimits[{i}].pageSize")
    net = res.get("network") or {}
    _set(ctrl, "net_cls", "net_cls.classid", net.get("classID"), f"{base}.network.classID")
    for i, prio in enumerate(net.get("priorities") or []):
        value = f"{prio['name']} {prio['priority']}"
        _set(ctrl, "net_prio", "net_prio.ifpriomap", value, f"{base}.network.priorities[{i}]")
    if res.get("unified"):
        raise ConfigError(f"{base}.unified", "needs a cgroup v2 host (this host uses cgroup v1)")


def _apply_blkio_v1(ctrl: dict[str, str], blk: dict[str, Any]) -> None:
    b = "linux.resources.blockIO"
    # 0 means "not set" for weights (engines send it), as in runc.
    _set(ctrl, "blkio", "blkio.weight", blk.get("weight") or None, f"{b}.weight")
    _set(ctrl, "blkio", "blkio.leaf_weight", blk.get("leafWeight") or None, f"{b}.leafWeight")
    for i, dev in enumerate(blk.get("weightDevice") or []):
        if dev.get("weight") is not None:
            value = f"{dev['major']}:{dev['minor']} {dev['weight']}"
            _set(ctrl, "blkio", "blkio.weight_device", value, f"{b}.weightDevice[{i}]")
    for key, name in (
        ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
        ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
        ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
        ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
    ):
        for i, dev in enumerate(blk.get(key) or []):
            value = f"{dev['major']}:{dev['minor']} {dev['rate']}"
            _set(ctrl, "blkio", name, value, f"{b}.{key}[{i}]")


def _apply_v2(path: str, res: dict[str, Any]) -> None:
    base = "linux.resources"
    ctrl = {"v2": path}
    mem = res.get("memory") or {}
    limit = mem.get("limit")
    if limit is not None:
        _set(ctrl, "v2", "memory.max", "max" if limit < 0 else limit, f"{base}.memory.limit")
    _set(ctrl, "v2", "memory.low", mem.get("reservation"), f"{base}.memory.reservation")
    swap = mem.get("swap")
    if swap is not None and limit is not None:
        value = "max" if swap < 0 else max(swap - max(limit, 0), 0)
        _set(ctrl, "v2", "memory.swap.max", value, f"{base}.memory.swap")
    cpu = res.get("cpu") or {}
    if cpu.get("shares"):
        weight = 1 + ((cpu["shares"] - 2) * 9999) // 262142
        _set(ctrl, "v2", "cpu.weight", weight, f"{base}.cpu.shares")
    if cpu.get("quota") or cpu.get("period"):
        quota = cpu.get("quota") or -1
        value = f"{'max' if quota < 0 else quota} {cpu.get('period') or 100000}"
        _set(ctrl, "v2", "cpu.max", value, f"{base}.cpu.quota")
    _set(ctrl, "v2", "cpu.idle", cpu.get("idle"), f"{base}.cpu.idle")
    _set(ctrl, "v2", "cpuset.cpus", cpu.get("cpus") or None, f"{base}.cpu.cpus")
    _set(ctrl, "v2", "cpuset.mems", cpu.get("mems") or None, f"{base}.cpu.mems")
    pids = (res.get("pids") or {}).get("limit")
    if pids is not None:
        _set(ctrl, "v2", "pids.max", "max" if pids < 0 else pids, f"{base}.pids.limit")
    for i, hp in enumerate(res.get("hugepageLimits") or []):
        name = f"hugetlb.{hp['pageSize']}.max"
        _set(ctrl, "v2", name, hp["limit"], f"{base}.hugepageLimits[{i}].pageSize")
    for key, value in (res.get("unified") or {}).items():
        if "/" in key or key.startswith("."):
            raise ConfigError(f"{base}.unified.{key}", "is not a cgroup file name")
        _set(ctrl, "v2", key, value, f"{base}.unified.{key}")
