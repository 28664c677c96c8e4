"""Control groups: v1 (one directory per mounted hierarchy) and v2 (one unified directory).

On a hybrid host (v1 controllers plus a v2 mount at ``/sys/fs/cgroup/unified``) the v1
hierarchies carry the limits, as runc does. ``cgroupsPath`` is taken relative to each
hierarchy's root, whether or not it starts with ``/`` (a relative path is runtime-defined,
config-linux.md#cgroups-path); systemd-style ``slice:prefix:name`` paths become
``slice/prefix-name.scope``. When it is absent the container gets ``/<id>``.

:func:`preflight` checks what depends on the host (huge page sizes, the hugetlb controller,
``unified`` keys) before anything is created, so such a config fails with the field named and
nothing to undo. On cgroup v2 the device allow list becomes a BPF_CGROUP_DEVICE program
(``_device_program``), as there is no devices controller there.
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


HUGEPAGES = "/sys/kernel/mm/hugepages"


def page_size_name(kib: int) -> str:
    """The kernel's name of a huge page size in hugetlb file names: 2048 KiB is ``2MB``."""
    for unit, scale in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kib >= scale and kib % scale == 0:
            return f"{kib // scale}{unit}"
    return f"{kib}KB"


def huge_page_sizes() -> list[str]:
    """The huge page sizes of this kernel, by their hugetlb file names."""
    try:
        entries = os.listdir(HUGEPAGES)
    except OSError:
        return []
    kibs = [e[len("hugepages-") : -len("kB")] for e in entries if e.startswith("hugepages-")]
    return [page_size_name(int(k)) for k in sorted(kibs, key=int) if k.isdigit()]


def preflight(resources: dict[str, Any]) -> None:
    """Refuse what this host cannot apply before anything is created, naming the field."""
    v1, v2 = mounted_hierarchies()
    base = "linux.resources"
    limits = resources.get("hugepageLimits") or []
    if limits:
        sizes = huge_page_sizes()
        for i, hp in enumerate(limits):
            if hp["pageSize"] not in sizes:
                raise ConfigError(
                    f"{base}.hugepageLimits[{i}].pageSize",
                    f"{hp['pageSize']!r} is not a huge page size of this kernel "
                    f"(it has: {', '.join(sizes) or 'none'})",
                )
        offered = set(v1) if v1 else _v2_controllers(v2)
        if "hugetlb" not in offered:
            where = "the v1 hierarchies" if v1 else f"the cgroup2 hierarchy {v2}"
            raise ConfigError(
                f"{base}.hugepageLimits",
                f"the hugetlb controller is not in {where} this runtime manages",
            )
    unified = resources.get("unified") or {}
    if unified and v1:
        raise ConfigError(
            f"{base}.unified",
            "needs cgroup v2: this runtime manages the v1 hierarchies of this host",
        )
    for key in unified:
        _check_unified_key(key, v2)


def _v2_controllers(point: str | None) -> set[str]:
    if point is None:
        return set()
    try:
        with open(os.path.join(point, "cgroup.controllers")) as fh:
            return set(fh.read().split())
    except OSError:
        return set()


def _check_unified_key(key: str, v2: str | None) -> None:
    field = f"linux.resources.unified.{key}"
    if "/" in key or key.startswith(".") or "." not in key:
        raise ConfigError(field, "is not a cgroup interface file name")
    controller = key.split(".", 1)[0]
    offered = _v2_controllers(v2)
    # Core files (cgroup.*, the pressure files) exist without a controller.
    if controller == "cgroup" or controller in offered:
        return
    if v2 is not None and os.path.exists(os.path.join(v2, key)):
        return
    raise ConfigError(
        field,
        f"the {controller} controller is not available in {v2} "
        f"(cgroup.controllers: {' '.join(sorted(offered)) or 'none'})",
    )


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

    def join_current(self) -> None:
        """Move the calling process, which must be single-threaded, into every directory.

        The same as writing its pid to ``cgroup.procs``, but a v1 ``tasks`` write of ``0`` (the
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
        """Apply the device allow list: v1 devices files, or a v2 BPF device program."""
        if not rules:
            return
        if self.v2:
            _attach_device_program(self.dirs[0], rules)
            return
        path = self.controllers().get("devices")
        if path is None:
            raise HostError("linux.resources.devices: no v1 devices hierarchy is mounted")
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
            created.append(current)
        except FileExistsError:
            pass
        if cpuset:
            _fill_cpuset(parent, current)
    return created


def _fill_cpuset(parent: str, path: str) -> None:
    """Give an empty v1 cpuset its parent's cpus and mems.

    A new v1 cpuset starts empty and refuses tasks (ENOSPC) until both are set. Existing
    directories are checked too: another create may have made the shared parent a moment
    ago and not filled it yet, and writing the same value twice is harmless.
    """
    for name in ("cpuset.cpus", "cpuset.mems"):
        with open(os.path.join(path, name)) as fh:
            if fh.read().strip():
                continue
        with open(os.path.join(parent, name)) as src:
            value = src.read().strip()
        with open(os.path.join(path, name), "w") as dst:
            dst.write(value)


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


# BPF_CGROUP_DEVICE (linux/bpf.h): the program sees struct bpf_cgroup_dev_ctx {u32 access_type
# (access << 16 | type); u32 major; u32 minor} and returns 1 to allow, 0 to deny (EPERM).
_DEV_TYPES = {"b": 1, "c": 2}
_DEV_ACCESS = {"m": 1, "r": 2, "w": 4}
_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_PROG_TYPE_CGROUP_DEVICE, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI = 15, 6, 2


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return (
        bytes((code, src << 4 | dst))
        + off.to_bytes(2, "little", signed=True)
        + (imm.to_bytes(4, "little", signed=True))
    )


def _rule_block(rule: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """One rule as (code, dst, src, imm) steps; a jump (0x55/0x15) skips the rest of it."""
    steps = []
    kind = rule.get("type") or "a"
    if kind != "a":
        steps.append((0x55, 2, 0, _DEV_TYPES[kind]))  # if type != T: next rule
    for reg, key in ((4, "major"), (5, "minor")):
        value = rule.get(key)
        if value is not None and value >= 0:
            steps.append((0x55, reg, 0, value))  # if number != N: next rule
    access = 0
    for letter in rule.get("access") or "rwm":
        access |= _DEV_ACCESS[letter]
    steps.append((0xBF, 6, 3, 0))  # r6 = requested access
    if rule["allow"]:
        steps += [(0x57, 6, 0, 7 & ~access), (0x55, 6, 0, 0)]  # allow only a subset
    else:
        steps += [(0x57, 6, 0, access), (0x15, 6, 0, 0)]  # deny any overlap
    steps += [(0xB7, 0, 0, int(bool(rule["allow"]))), (0x95, 0, 0, 0)]  # return verdict
    return steps


def device_program(rules: list[dict[str, Any]]) -> bytes:
    """The eBPF instructions of a device filter equivalent to v1 allow/deny rules.

    Rules are tried from the last to the first and the first that matches decides, which is
    how a v1 list built in order behaves (a later rule overrides an earlier one); a request
    no rule matches is allowed, as in a new v1 cgroup below an unrestricted parent.
    """
    code = [
        _insn(0x61, 2, 1, 0),  # r2 = ctx->access_type
        _insn(0xBF, 3, 2),  # r3 = r2
        _insn(0x57, 2, imm=0xFFFF),  # r2 &= 0xffff: device type
        _insn(0x77, 3, imm=16),  # r3 >>= 16: requested access
        _insn(0x61, 4, 1, 4),  # r4 = ctx->major
        _insn(0x61, 5, 1, 8),  # r5 = ctx->minor
    ]
    for rule in reversed(rules):
        steps = _rule_block(rule)
        for i, (op, dst, src, imm) in enumerate(steps):
            jump = op in (0x55, 0x15)
            code.append(_insn(op, dst, src, len(steps) - i - 1 if jump else 0, imm))
    code += [_insn(0xB7, 0, imm=1), _insn(0x95)]
    return b"".join(code)


def _bpf(cmd: int, attr: bytes) -> int:
    import platform

    from . import linux as kernel

    nr = _BPF_SYSCALL.get(platform.machine())
    if nr is None:
        raise HostError(f"linux.resources.devices: bpf(2) is not wired for {platform.machine()}")
    try:
        return kernel.raw_syscall(nr, cmd, attr, len(attr))
    except OSError as err:
        raise HostError(
            f"linux.resources.devices: bpf command {cmd} failed: {os.strerror(err.errno)}"
        ) from err


def _attach_device_program(path: str, rules: list[dict[str, Any]]) -> None:
    """Load the rules (and the default devices) as a BPF program attached to ``path``."""
    import ctypes

    defaults = [_parse_rule(line) for line in DEFAULT_DEVICE_RULES]
    insns = device_program([*rules, *defaults])
    prog = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = (
        _BPF_PROG_TYPE_CGROUP_DEVICE.to_bytes(4, "little")
        + (len(insns) // 8).to_bytes(4, "little")
        + ctypes.addressof(prog).to_bytes(8, "little")
        + ctypes.addressof(license_).to_bytes(8, "little")
    ).ljust(128, b"\0")
    log.debug("loading a device program of %d instructions for %s", len(insns) // 8, path)
    prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attach = b"".join(
            n.to_bytes(4, "little")
            for n in (dir_fd, prog_fd, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI)
        ).ljust(32, b"\0")
        log.debug("attaching the device program to %s", path)
        _bpf(_BPF_PROG_ATTACH, attach)
    finally:
        os.close(dir_fd)
        os.close(prog_fd)


def _parse_rule(line: str) -> dict[str, Any]:
    """A ``c 1:3 rwm`` line of DEFAULT_DEVICE_RULES as a config rule."""
    kind, numbers, access = line.split()
    major, minor = numbers.split(":")
    return {
        "allow": True,
        "type": kind,
        "major": -1 if major == "*" else int(major),
        "minor": -1 if minor == "*" else int(minor),
        "access": access,
    }


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
        _set_hugetlb(ctrl, "hugetlb", hp, "limit_in_bytes", f"{base}.hugepageLimits[{i}]")
    net = res.get("network") or {}
    _set(ctrl, "net_cls", "net_cls.classid", net.get("classID"), f"{base}.network.classID")
    for i, prio in enumerate(net.get("priorities") or []):
        value = f"{prio['name']} {prio['priority']}"
        _set(ctrl, "net_prio", "net_prio.ifpriomap", value, f"{base}.network.priorities[{i}]")


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
        _set_hugetlb(ctrl, "v2", hp, "max", f"{base}.hugepageLimits[{i}]")
    for key, value in (res.get("unified") or {}).items():
        # Written as given, after the mapped fields, so a key wins over its mapped twin.
        _set(ctrl, "v2", key, value, f"{base}.unified.{key}")


def _set_hugetlb(ctrl: dict[str, str], controller: str, hp: Any, suffix: str, field: str) -> None:
    """The page fault limit and, where the kernel has it, the reservation limit.

    config-linux.md#huge-page-limits makes the limit a reservation limit when the kernel
    supports one (``rsvd`` files, Linux 5.7) and a page fault limit otherwise; both are set,
    as other runtimes do, so usage without a reservation is capped too.
    """
    size = hp["pageSize"]
    _set(ctrl, controller, f"hugetlb.{size}.{suffix}", hp["limit"], f"{field}.pageSize")
    rsvd = f"hugetlb.{size}.rsvd.{suffix}"
    if os.path.exists(os.path.join(ctrl.get(controller, ""), rsvd)):
        _set(ctrl, controller, rsvd, hp["limit"], f"{field}.pageSize")
