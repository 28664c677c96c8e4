"""Load and validate a bundle's config.json before anything is created.

Validation is hand-written rather than driven by the JSON schema: importing jsonschema costs more
than a whole container start, and the checks here go further than the schema (semantics such as
"hostname needs a UTS namespace", duplicate rlimits, wrong-type namespace paths). Every error
names the field: ``config.json: process.args: must be a non-empty array``.
"""

from __future__ import annotations

import os

from ._jsonlite import loads as json_loads
from .errors import ConfigError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUPPORTED_MAJOR = 1
OCI_VERSION_MAX = "1.3.0"
OCI_VERSION_MIN = "1.0.0"

HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
# In kernel bit order: the index of a name is its capability number.
CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
SECCOMP_ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)
SECCOMP_OPERATORS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
SECCOMP_ARCHS = (
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
)
# WAIT_KILLABLE_RECV is taken by the kernel only with a notify listener (it needs
# SECCOMP_FILTER_FLAG_NEW_LISTENER), so a filter without an SCMP_ACT_NOTIFY rule refuses it.
SECCOMP_WAIT_KILLABLE = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
SECCOMP_FLAGS = (
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    SECCOMP_WAIT_KILLABLE,
)
PROPAGATIONS = ("shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate")
_PROPAGATION_DOC = "shared, slave, private, unbindable"
DEVICE_TYPES = ("c", "b", "u", "p")
# linux.memoryPolicy (config-linux.md, Memory policy) → linux/mempolicy.h.
MEMPOLICY_MODES = {
    "MPOL_DEFAULT": 0,
    "MPOL_PREFERRED": 1,
    "MPOL_BIND": 2,
    "MPOL_INTERLEAVE": 3,
    "MPOL_LOCAL": 4,
    "MPOL_PREFERRED_MANY": 5,
    "MPOL_WEIGHTED_INTERLEAVE": 6,
}
MEMPOLICY_FLAGS = {
    "MPOL_F_NUMA_BALANCING": 1 << 13,
    "MPOL_F_RELATIVE_NODES": 1 << 14,
    "MPOL_F_STATIC_NODES": 1 << 15,
}
MEMPOLICY_MAX_NODES = 1024  # bits in the node mask passed to set_mempolicy
_MPOL_NODELESS = ("MPOL_DEFAULT", "MPOL_LOCAL")
_MPOL_NODES_OPTIONAL = ("MPOL_PREFERRED",)  # an empty set means local allocation
_MPOL_BALANCING_MODES = ("MPOL_BIND", "MPOL_PREFERRED_MANY")  # set_mempolicy(2), EINVAL
UINT32_MAX = 2**32 - 1
INT64_MAX = 2**63 - 1


def load(bundle: str) -> dict[str, Any]:
    """Read and validate ``<bundle>/config.json``.

    Args:
        bundle: the bundle directory (absolute).

    Returns:
        The parsed configuration (a snapshot: later edits of the file have no effect).

    Raises:
        ConfigError: the file is missing, not JSON, or breaks a rule; names the field.
    """
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise ConfigError("(file)", f"cannot read {path}: {err.strerror}") from err
    try:
        config = json_loads(raw)
    except ValueError as err:
        raise ConfigError("(file)", f"not valid JSON: {err}") from err
    validate(config, bundle)
    return config


def validate(config: Any, bundle: str) -> None:
    """Check ``config`` against the rules of the runtime spec v1.3.0 for Linux.

    Raises:
        ConfigError: the first rule broken, naming the field.
    """
    _obj(config, "(root)")
    _oci_version(config.get("ociVersion"))
    _root(config.get("root"), bundle)
    linux = _obj(config.get("linux", {}), "linux")
    namespaces = _namespaces(linux.get("namespaces", []))
    _process(config.get("process"), namespaces)
    _mounts(config.get("mounts", []), linux, namespaces)
    _hooks(config.get("hooks", {}))
    _strmap(config.get("annotations", {}), "annotations")
    for field, nstype in (("hostname", "uts"), ("domainname", "uts")):
        value = config.get(field)
        if value is None:
            continue
        _str(value, field)
        if value and nstype not in namespaces:
            raise ConfigError(field, "needs a new UTS namespace (linux.namespaces has none)")
    _linux(linux, namespaces)


# ---- generic shape checks --------------------------------------------------------------------


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(field, "must be an object")
    return value


def _arr(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(field, "must be an array")
    return value


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(field, "must be a string")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(field, "must be a boolean")
    return value


def _int(value: Any, field: str, lo: int = -(2**63), hi: int = 2**64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, "must be an integer")
    if not lo <= value <= hi:
        raise ConfigError(field, f"must be between {lo} and {hi}, got {value}")
    return value


def _strs(value: Any, field: str) -> list[str]:
    for i, item in enumerate(_arr(value, field)):
        _str(item, f"{field}[{i}]")
    return value


def _strmap(value: Any, field: str) -> None:
    for key, item in _obj(value, field).items():
        _str(item, f"{field}.{key}")


def _abs(value: Any, field: str) -> str:
    if not _str(value, field).startswith("/"):
        raise ConfigError(field, f"must be an absolute path, got {value!r}")
    return value


# ---- sections --------------------------------------------------------------------------------


def _oci_version(value: Any) -> None:
    if value is None:
        raise ConfigError("ociVersion", "is required")
    major = _semver_major(_str(value, "ociVersion"))
    if major is None:
        raise ConfigError("ociVersion", f"must be a SemVer 2.0.0 version, got {value!r}")
    if major != SUPPORTED_MAJOR:
        raise ConfigError(
            "ociVersion", f"version {value} is not supported (supported: 1.0.0 to 1.3.x)"
        )


_SEMVER_IDENT = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.")


def _semver_major(text: str) -> int | None:
    """The major version of a SemVer 2.0.0 string, or None when it is not one.

    Hand-written instead of a regular expression: importing ``re`` costs a visible share of a
    container start.
    """
    core, _, build = text.partition("+")
    core, _, pre = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    if any(len(p) > 1 and p[0] == "0" for p in parts):
        return None
    for extra, present in ((pre, "-" in text.partition("+")[0]), (build, "+" in text)):
        if present and (not extra or not set(extra) <= _SEMVER_IDENT or ".." in extra):
            return None
    return int(parts[0])


def _root(value: Any, bundle: str) -> None:
    root = _obj(value, "root") if value is not None else None
    if root is None:
        raise ConfigError("root", "is required on Linux")
    path = _str(root.get("path"), "root.path")
    if not path:
        raise ConfigError("root.path", "must not be empty")
    if "readonly" in root:
        _bool(root["readonly"], "root.readonly")
    full = os.path.join(bundle, path)
    if not os.path.isdir(full):
        raise ConfigError("root.path", f"{full} is not a directory")


def _process(value: Any, namespaces: dict[str, str | None]) -> None:
    if value is None:
        raise ConfigError("process", "is required (start needs a process to run)")
    proc = _obj(value, "process")
    args = proc.get("args")
    if not isinstance(args, list) or not args:
        raise ConfigError("process.args", "must be a non-empty array")
    _strs(args, "process.args")
    if not args[0]:
        raise ConfigError("process.args[0]", "must not be empty")
    _abs(proc.get("cwd"), "process.cwd")
    for i, item in enumerate(_strs(proc.get("env", []), "process.env")):
        if "=" not in item:
            raise ConfigError(f"process.env[{i}]", f"must have the form KEY=value, got {item!r}")
    if "terminal" in proc:
        _bool(proc["terminal"], "process.terminal")
    if "consoleSize" in proc:
        size = _obj(proc["consoleSize"], "process.consoleSize")
        for key in ("height", "width"):
            _int(size.get(key), f"process.consoleSize.{key}", 0, 65535)
    _user(proc.get("user"))
    _capabilities(proc.get("capabilities"))
    _rlimits(proc.get("rlimits", []))
    if "noNewPrivileges" in proc:
        _bool(proc["noNewPrivileges"], "process.noNewPrivileges")
    if "oomScoreAdj" in proc:
        _int(proc["oomScoreAdj"], "process.oomScoreAdj", -1000, 1000)
    for key in ("apparmorProfile", "selinuxLabel"):
        if key in proc:
            _str(proc[key], f"process.{key}")
    if "ioPriority" in proc:
        _io_priority(proc["ioPriority"])
    if "scheduler" in proc:
        _scheduler(proc["scheduler"])


SCHED_POLICIES = {
    "SCHED_OTHER": 0,
    "SCHED_FIFO": 1,
    "SCHED_RR": 2,
    "SCHED_BATCH": 3,
    "SCHED_ISO": 4,
    "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
SCHED_FLAGS = {
    "SCHED_FLAG_RESET_ON_FORK": 0x01,
    "SCHED_FLAG_RECLAIM": 0x02,
    "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08,
    "SCHED_FLAG_KEEP_PARAMS": 0x10,
    "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}


def _scheduler(value: Any) -> None:
    sched = _obj(value, "process.scheduler")
    policy = sched.get("policy")
    if policy not in SCHED_POLICIES:
        raise ConfigError("process.scheduler.policy", f"unknown policy {policy!r}")
    if "nice" in sched:
        _int(sched["nice"], "process.scheduler.nice", -20, 19)
    if "priority" in sched:
        _int(sched["priority"], "process.scheduler.priority", 0, 99)
    for i, flag in enumerate(_strs(sched.get("flags", []), "process.scheduler.flags")):
        if flag not in SCHED_FLAGS:
            raise ConfigError(f"process.scheduler.flags[{i}]", f"unknown flag {flag!r}")
    for key in ("runtime", "deadline", "period"):
        if key in sched:
            _int(sched[key], f"process.scheduler.{key}", 0)


def _io_priority(value: Any) -> None:
    prio = _obj(value, "process.ioPriority")
    if prio.get("class") not in IOPRIO_CLASSES:
        raise ConfigError("process.ioPriority.class", f"unknown class {prio.get('class')!r}")
    _int(prio.get("priority", 0), "process.ioPriority.priority", 0, 7)


def _user(value: Any) -> None:
    if value is None:
        raise ConfigError("process.user", "is required on Linux")
    user = _obj(value, "process.user")
    _int(user.get("uid"), "process.user.uid", 0, UINT32_MAX)
    _int(user.get("gid"), "process.user.gid", 0, UINT32_MAX)
    if "umask" in user:
        _int(user["umask"], "process.user.umask", 0, 0o7777)
    for i, gid in enumerate(_arr(user.get("additionalGids", []), "process.user.additionalGids")):
        _int(gid, f"process.user.additionalGids[{i}]", 0, UINT32_MAX)


def _capabilities(value: Any) -> None:
    if value is None:
        return
    caps = _obj(value, "process.capabilities")
    for name in CAP_SETS:
        if name in caps:
            _strs(caps[name], f"process.capabilities.{name}")


def _rlimits(value: Any) -> None:
    seen: set[str] = set()
    for i, item in enumerate(_arr(value, "process.rlimits")):
        field = f"process.rlimits[{i}]"
        rlimit = _obj(item, field)
        kind = _str(rlimit.get("type"), f"{field}.type")
        if kind not in RLIMITS:
            raise ConfigError(f"{field}.type", f"unknown resource limit {kind!r}")
        if kind in seen:
            raise ConfigError(f"{field}.type", f"{kind} is listed more than once")
        seen.add(kind)
        soft = _int(rlimit.get("soft"), f"{field}.soft", 0)
        hard = _int(rlimit.get("hard"), f"{field}.hard", 0)
        if soft > hard:
            raise ConfigError(f"{field}.soft", f"soft limit {soft} exceeds hard limit {hard}")


def _mounts(value: Any, linux: dict[str, Any], namespaces: dict[str, str | None]) -> None:
    for i, item in enumerate(_arr(value, "mounts")):
        field = f"mounts[{i}]"
        mount = _obj(item, field)
        dest = _str(mount.get("destination"), f"{field}.destination")
        if not dest:
            raise ConfigError(f"{field}.destination", "must not be empty")
        for key in ("type", "source"):
            if key in mount:
                _str(mount[key], f"{field}.{key}")
        options = _strs(mount.get("options", []), f"{field}.options")
        _mount_idmap(mount, options, field, linux, namespaces)


def _mount_idmap(
    mount: dict[str, Any],
    options: list[str],
    field: str,
    linux: dict[str, Any],
    namespaces: dict[str, str | None],
) -> None:
    """config.md "Linux mount options" (idmap, ridmap) and the mounts' uidMappings/gidMappings."""
    for key in ("uidMappings", "gidMappings"):
        if key in mount:
            _id_mappings(mount[key], f"{field}.{key}")
    asked = {"idmap", "ridmap"} & set(options)
    given = [key for key in ("uidMappings", "gidMappings") if mount.get(key)]
    if not asked and not given:
        return
    if len(asked) == 2:
        raise ConfigError(f"{field}.options", "idmap and ridmap exclude each other")
    if given and len(given) == 1:
        missing = "gidMappings" if given == ["uidMappings"] else "uidMappings"
        raise ConfigError(f"{field}.{missing}", f"is required with {field}.{given[0]}")
    if not given and not (namespaces.get("user", "x") is None and linux.get("uidMappings")):
        # Without its own mappings an idmapped mount may borrow the container's new user
        # namespace; with neither, the spec requires an error.
        option = sorted(asked)[0]
        raise ConfigError(
            f"{field}.uidMappings",
            f"is required for option {option} when the container has no new user namespace",
        )
    bind = mount.get("type") == "bind" or {"bind", "rbind"} & set(options)
    if not bind:
        raise ConfigError(f"{field}.options", "an idmapped mount must be a bind mount")


def _hooks(value: Any) -> None:
    hooks = _obj(value, "hooks")
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            continue  # unknown properties are ignored (config.md#extensibility)
        for i, item in enumerate(_arr(entries, f"hooks.{kind}")):
            field = f"hooks.{kind}[{i}]"
            hook = _obj(item, field)
            _abs(hook.get("path"), f"{field}.path")
            _strs(hook.get("args", []), f"{field}.args")
            _strs(hook.get("env", []), f"{field}.env")
            if "timeout" in hook:
                _int(hook["timeout"], f"{field}.timeout", 1, 2**31 - 1)


def _namespaces(value: Any) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for i, item in enumerate(_arr(value, "linux.namespaces")):
        field = f"linux.namespaces[{i}]"
        ns = _obj(item, field)
        kind = _str(ns.get("type"), f"{field}.type")
        if kind not in NAMESPACE_TYPES:
            raise ConfigError(f"{field}.type", f"unknown namespace type {kind!r}")
        if kind in result:
            raise ConfigError(f"{field}.type", f"namespace {kind} is listed more than once")
        path = ns.get("path")
        if path is not None:
            _abs(path, f"{field}.path")
            _check_namespace_file(path, kind, f"{field}.path")
        result[kind] = path or None
    return result


# ioctl NS_GET_NSTYPE (linux/nsfs.h) answers the CLONE_NEW* flag of a namespace file.
_NS_GET_NSTYPE = 0xB703
_NS_FLAGS = {
    "pid": 0x20000000,
    "network": 0x40000000,
    "mount": 0x00020000,
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "user": 0x10000000,
    "cgroup": 0x02000000,
    "time": 0x00000080,
}


def _check_namespace_file(path: str, kind: str, field: str) -> None:
    """The path must be a namespace of the listed type (config-linux.md#namespaces)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise ConfigError(field, f"{path}: {err.strerror}") from err
    try:
        got = fcntl.ioctl(fd, _NS_GET_NSTYPE)
    except OSError as err:
        raise ConfigError(field, f"{path} is not a namespace file") from err
    finally:
        os.close(fd)
    if got != _NS_FLAGS[kind]:
        actual = next((k for k, v in _NS_FLAGS.items() if v == got), hex(got))
        raise ConfigError(field, f"{path} is a {actual} namespace, not {kind}")


def _id_mappings(value: Any, field: str) -> None:
    for i, item in enumerate(_arr(value, field)):
        mapping = _obj(item, f"{field}[{i}]")
        for key in ("containerID", "hostID", "size"):
            _int(mapping.get(key), f"{field}[{i}].{key}", 0, UINT32_MAX)


def _linux(linux: dict[str, Any], namespaces: dict[str, str | None]) -> None:
    for key in ("uidMappings", "gidMappings"):
        if key in linux:
            _id_mappings(linux[key], f"linux.{key}")
            if linux[key] and "user" not in namespaces:
                raise ConfigError(f"linux.{key}", "needs a user namespace in linux.namespaces")
    if "user" in namespaces and namespaces["user"] is None and not linux.get("uidMappings"):
        raise ConfigError("linux.uidMappings", "is required for a new user namespace")
    if "timeOffsets" in linux:
        if "time" not in namespaces:
            raise ConfigError("linux.timeOffsets", "needs a time namespace in linux.namespaces")
        for clock, offset in _obj(linux["timeOffsets"], "linux.timeOffsets").items():
            if clock not in ("monotonic", "boottime"):
                raise ConfigError(f"linux.timeOffsets.{clock}", "unknown clock")
            _int(offset.get("secs", 0), f"linux.timeOffsets.{clock}.secs")
            _int(offset.get("nanosecs", 0), f"linux.timeOffsets.{clock}.nanosecs", 0)
    _devices(linux.get("devices", []))
    if "cgroupsPath" in linux:
        _str(linux["cgroupsPath"], "linux.cgroupsPath")
    _resources(linux.get("resources", {}))
    _sysctl(linux.get("sysctl", {}), namespaces)
    _seccomp(linux.get("seccomp"))
    if "rootfsPropagation" in linux:
        prop = _str(linux["rootfsPropagation"], "linux.rootfsPropagation")
        if prop not in PROPAGATIONS:
            raise ConfigError(
                "linux.rootfsPropagation", f"must be one of {_PROPAGATION_DOC}, got {prop!r}"
            )
    for key in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(_arr(linux.get(key, []), f"linux.{key}")):
            _abs(path, f"linux.{key}[{i}]")
    if "mountLabel" in linux:
        _str(linux["mountLabel"], "linux.mountLabel")
    if "personality" in linux:
        pers = _obj(linux["personality"], "linux.personality")
        if pers.get("domain") not in ("LINUX", "LINUX32"):
            raise ConfigError("linux.personality.domain", "must be LINUX or LINUX32")
        if pers.get("flags"):
            raise ConfigError("linux.personality.flags", "no flags are defined by the spec")
    if "netDevices" in linux:
        _net_devices(linux["netDevices"], namespaces)
    if "memoryPolicy" in linux:
        memory_policy(linux["memoryPolicy"])
    if linux.get("intelRdt"):
        # TODO(spec v1.3): intelRdt is refused, not implemented (no resctrl on this host).
        raise ConfigError("linux.intelRdt", "is not supported by this runtime")


def _ifname(value: Any, field: str, template: bool = False) -> str:
    """A Linux interface name (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace."""
    name = _str(value, field)
    raw = name.encode()
    bad = not raw or len(raw) >= 16 or name in (".", "..") or any(c in name for c in "/: \t\n")
    if bad or (name.count("%") > (1 if template else 0)) or ("%" in name and "%d" not in name):
        what = "an interface name (or a template with one %d)" if template else "an interface name"
        raise ConfigError(field, f"must be {what} of 1-15 bytes without '/', ':' or spaces")
    return name


def _net_devices(value: Any, namespaces: dict[str, str | None]) -> None:
    devices = _obj(value, "linux.netDevices")
    if devices and "network" not in namespaces:
        # config-linux.md: devices go from the runtime's namespace into the container's one.
        raise ConfigError("linux.netDevices", "needs a network namespace in linux.namespaces")
    targets: dict[str, str] = {}
    for host_name, entry in devices.items():
        field = f"linux.netDevices.{host_name}"
        _ifname(host_name, field)
        spec = _obj(entry, field)
        name = _ifname(spec["name"], f"{field}.name", True) if "name" in spec else host_name
        if name in targets and "%d" not in name:
            raise ConfigError(f"{field}.name", f"{name!r} is also the name for {targets[name]}")
        targets[name] = host_name


def memory_policy(value: Any) -> tuple[int, list[int]]:
    """Check linux.memoryPolicy; the value set_mempolicy(2) takes (mode | flags) and the nodes.

    What the kernel refuses for every host is refused here, naming the field: an unknown
    mode or flag, nodes on MPOL_DEFAULT or MPOL_LOCAL, no nodes where the mode needs some,
    MPOL_F_STATIC_NODES with MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING outside
    MPOL_BIND and MPOL_PREFERRED_MANY. Whether the nodes exist is the host's to say.
    """
    policy = _obj(value, "linux.memoryPolicy")
    mode = _str(policy.get("mode"), "linux.memoryPolicy.mode")
    if mode not in MEMPOLICY_MODES:
        raise ConfigError(
            "linux.memoryPolicy.mode", f"must be one of {', '.join(MEMPOLICY_MODES)}, got {mode!r}"
        )
    nodes = node_list(_str(policy.get("nodes", ""), "linux.memoryPolicy.nodes"))
    if nodes and mode in _MPOL_NODELESS:
        raise ConfigError("linux.memoryPolicy.nodes", f"must be empty for {mode}")
    if not nodes and mode not in _MPOL_NODELESS + _MPOL_NODES_OPTIONAL:
        raise ConfigError("linux.memoryPolicy.nodes", f"must name at least one node for {mode}")
    flags = _strs(policy.get("flags", []), "linux.memoryPolicy.flags")
    value = MEMPOLICY_MODES[mode]
    for i, flag in enumerate(flags):
        if flag not in MEMPOLICY_FLAGS:
            raise ConfigError(
                f"linux.memoryPolicy.flags[{i}]",
                f"must be one of {', '.join(MEMPOLICY_FLAGS)}, got {flag!r}",
            )
        value |= MEMPOLICY_FLAGS[flag]
    if {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"} <= set(flags):
        raise ConfigError(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        )
    if "MPOL_F_NUMA_BALANCING" in flags and mode not in _MPOL_BALANCING_MODES:
        raise ConfigError(
            "linux.memoryPolicy.flags",
            f"MPOL_F_NUMA_BALANCING applies to MPOL_BIND and MPOL_PREFERRED_MANY only, not {mode}",
        )
    return value, nodes


def node_list(text: str) -> list[int]:
    """The nodes of a list such as ``0-3,7``; an empty string is no nodes."""
    nodes: set[int] = set()
    for part in text.split(",") if text.strip() else []:
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ConfigError(
                "linux.memoryPolicy.nodes",
                f"must be node numbers and ranges such as 0-3,7, got {text!r}",
            )
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last >= MEMPOLICY_MAX_NODES:
            raise ConfigError(
                "linux.memoryPolicy.nodes",
                f"range {part.strip()!r} must run upwards below {MEMPOLICY_MAX_NODES}",
            )
        nodes.update(range(first, last + 1))
    return sorted(nodes)


def _devices(value: Any) -> None:
    for i, item in enumerate(_arr(value, "linux.devices")):
        field = f"linux.devices[{i}]"
        dev = _obj(item, field)
        kind = _str(dev.get("type"), f"{field}.type")
        if kind not in DEVICE_TYPES:
            raise ConfigError(f"{field}.type", f"must be one of c, b, u, p, got {kind!r}")
        _abs(dev.get("path"), f"{field}.path")
        if kind != "p":
            _int(dev.get("major"), f"{field}.major", 0, 2**32 - 1)
            _int(dev.get("minor"), f"{field}.minor", 0, 2**32 - 1)
        for key, hi in (("fileMode", 0o7777), ("uid", UINT32_MAX), ("gid", UINT32_MAX)):
            if key in dev:
                _int(dev[key], f"{field}.{key}", 0, hi)


def _resources(value: Any) -> None:
    res = _obj(value, "linux.resources")
    for i, item in enumerate(_arr(res.get("devices", []), "linux.resources.devices")):
        field = f"linux.resources.devices[{i}]"
        rule = _obj(item, field)
        _bool(rule.get("allow"), f"{field}.allow")
        if rule.get("type", "a") not in ("a", "b", "c"):
            raise ConfigError(f"{field}.type", "must be one of a, b, c")
        access = rule.get("access", "rwm")
        if not isinstance(access, str) or set(access) - set("rwm"):
            raise ConfigError(f"{field}.access", f"must be letters of 'rwm', got {access!r}")
        for key in ("major", "minor"):
            if rule.get(key) is not None:
                _int(rule[key], f"{field}.{key}", -1)
    for section in ("memory", "cpu", "pids", "blockIO", "network", "rdma", "unified"):
        if section in res:
            _obj(res[section], f"linux.resources.{section}")
    memory = res.get("memory", {})
    if "swappiness" in memory and memory["swappiness"] is not None:
        _int(memory["swappiness"], "linux.resources.memory.swappiness", 0, 100)
    for key in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
        if memory.get(key) is not None:
            _int(memory[key], f"linux.resources.memory.{key}", -1)
    if res.get("pids", {}).get("limit") is not None:
        _int(res["pids"]["limit"], "linux.resources.pids.limit")
    for i, item in enumerate(_arr(res.get("hugepageLimits", []), "linux.resources.hugepageLimits")):
        field = f"linux.resources.hugepageLimits[{i}]"
        _str(_obj(item, field).get("pageSize"), f"{field}.pageSize")
        _int(item.get("limit"), f"{field}.limit", 0)
    _strmap(res.get("unified", {}), "linux.resources.unified")


# Sysctls a runtime may set, and the namespace that must be new for each (config-linux.md#sysctl
# says the container's namespaces; writing a host-wide knob would change the host).
_IPC_SYSCTLS = (
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
)


def _sysctl(value: Any, namespaces: dict[str, str | None]) -> None:
    for key, item in _obj(value, "linux.sysctl").items():
        field = f"linux.sysctl.{key}"
        _str(item, field)
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            needed = "ipc"
        elif key.startswith("net."):
            needed = "network"
        elif key in ("kernel.hostname", "kernel.domainname"):
            needed = "uts"
        else:
            raise ConfigError(field, "is not a namespaced sysctl; it would change the host")
        if needed not in namespaces:
            raise ConfigError(field, f"needs a {needed} namespace in linux.namespaces")


def _seccomp(value: Any) -> None:
    if value is None:
        return
    sec = _obj(value, "linux.seccomp")
    default = _str(sec.get("defaultAction"), "linux.seccomp.defaultAction")
    _seccomp_action(default, "linux.seccomp.defaultAction")
    if "defaultErrnoRet" in sec:
        _int(sec["defaultErrnoRet"], "linux.seccomp.defaultErrnoRet", 0, 4095)
        if default not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
            raise ConfigError("linux.seccomp.defaultErrnoRet", f"does not apply to {default}")
    for i, arch in enumerate(_strs(sec.get("architectures", []), "linux.seccomp.architectures")):
        if arch not in SECCOMP_ARCHS:
            raise ConfigError(f"linux.seccomp.architectures[{i}]", f"unknown {arch!r}")
    flags = _strs(sec.get("flags", []), "linux.seccomp.flags")
    for i, flag in enumerate(flags):
        if flag not in SECCOMP_FLAGS:
            raise ConfigError(f"linux.seccomp.flags[{i}]", f"unknown flag {flag!r}")
    for i, item in enumerate(_arr(sec.get("syscalls", []), "linux.seccomp.syscalls")):
        field = f"linux.seccomp.syscalls[{i}]"
        rule = _obj(item, field)
        names = rule.get("names")
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{field}.names", "must be a non-empty array")
        _strs(names, f"{field}.names")
        action = _str(rule.get("action"), f"{field}.action")
        _seccomp_action(action, f"{field}.action")
        if "errnoRet" in rule:
            _int(rule["errnoRet"], f"{field}.errnoRet", 0, 4095)
            if action not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
                raise ConfigError(f"{field}.errnoRet", f"does not apply to {action}")
        for j, arg in enumerate(_arr(rule.get("args", []), f"{field}.args")):
            afield = f"{field}.args[{j}]"
            _obj(arg, afield)
            _int(arg.get("index"), f"{afield}.index", 0, 5)
            _int(arg.get("value"), f"{afield}.value", 0)
            if "valueTwo" in arg:
                _int(arg["valueTwo"], f"{afield}.valueTwo", 0)
            if arg.get("op") not in SECCOMP_OPERATORS:
                raise ConfigError(f"{afield}.op", f"unknown operator {arg.get('op')!r}")
    _seccomp_listener(sec, flags)


def _seccomp_listener(sec: dict[str, Any], flags: list[str]) -> None:
    """listenerPath, listenerMetadata and WAIT_KILLABLE_RECV against the NOTIFY rules
    (config-linux.md#seccomp: the path is used only with SCMP_ACT_NOTIFY, the metadata only
    with a path)."""
    # DEVIATION(linux-seccomp-notify): the spec allows NOTIFY as the default action and on any
    # syscall; here the helper hands the notify fd over with sendmsg under the loaded filter,
    # so a NOTIFY on that call would block it for good (runc refuses NOTIFY on write alike).
    if sec.get("defaultAction") == "SCMP_ACT_NOTIFY":
        raise ConfigError("linux.seccomp.defaultAction", _NOTIFY_SELF % "every syscall")
    for i, rule in enumerate(sec.get("syscalls") or []):
        if rule.get("action") == "SCMP_ACT_NOTIFY" and "sendmsg" in rule["names"]:
            where = f"linux.seccomp.syscalls[{i}].names[{rule['names'].index('sendmsg')}]"
            raise ConfigError(where, _NOTIFY_SELF % "sendmsg")
    notify = uses_notify(sec)
    path = sec.get("listenerPath")
    if path is not None:
        _str(path, "linux.seccomp.listenerPath")
    if "listenerMetadata" in sec:
        _str(sec["listenerMetadata"], "linux.seccomp.listenerMetadata")
        if not path:
            raise ConfigError(
                "linux.seccomp.listenerMetadata", "must not be set without listenerPath"
            )
    if notify and not path:
        raise ConfigError(
            "linux.seccomp.listenerPath",
            "is required: an SCMP_ACT_NOTIFY action needs a listener to send the notify fd to",
        )
    if notify and not os.path.isabs(path or ""):
        raise ConfigError("linux.seccomp.listenerPath", f"must be an absolute path, got {path!r}")
    if SECCOMP_WAIT_KILLABLE in flags and not notify:
        raise ConfigError(
            f"linux.seccomp.flags[{flags.index(SECCOMP_WAIT_KILLABLE)}]",
            f"{SECCOMP_WAIT_KILLABLE} needs an SCMP_ACT_NOTIFY action (the kernel takes it only "
            "with a notify listener)",
        )


_NOTIFY_SELF = (
    "SCMP_ACT_NOTIFY cannot apply to %s here: the runtime passes the notify fd to the "
    "listener with sendmsg after the filter is loaded, so that call would wait on itself"
)


def uses_notify(sec: dict[str, Any]) -> bool:
    """Whether a (validated) seccomp section has an SCMP_ACT_NOTIFY action."""
    return any(rule.get("action") == "SCMP_ACT_NOTIFY" for rule in sec.get("syscalls") or [])


def _seccomp_action(action: str, field: str) -> None:
    if action not in SECCOMP_ACTIONS:
        raise ConfigError(field, f"unknown action {action!r}")
