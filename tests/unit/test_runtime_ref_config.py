"""Unit tests of the reference runtime's internals: validation, plan encoding, options, paths."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reference_impl.runtime import cgroups, config, features, plan, rootfs
from reference_impl.runtime import linux as kernel
from reference_impl.runtime.errors import ConfigError

VALID: dict[str, Any] = {
    "ociVersion": "1.3.0",
    "process": {
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "cwd": "/",
        "env": ["PATH=/bin"],
    },
    "root": {"path": "rootfs"},
    "hostname": "h",
    "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}]},
}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A bundle directory with an empty rootfs."""
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def _set(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()
_NOTIFY_RULE = {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}


def test_valid_config_passes(bundle_dir: Path) -> None:
    """A minimal valid config is accepted and returned unchanged by load."""
    (bundle_dir / "config.json").write_text(json.dumps(VALID))
    assert config.load(str(bundle_dir)) == VALID


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("process.args", [], "process.args: must be a non-empty array"),
        ("process.args", "sh", "process.args: must be a non-empty array"),
        ("process.args", [1], "process.args[0]: must be a string"),
        ("process.cwd", "relative", "process.cwd: must be an absolute path"),
        ("process.env", ["NOEQUALS"], "process.env[0]: must have the form KEY=value"),
        ("process.user", _DELETE, "process.user: is required"),
        ("process.user.uid", -1, "process.user.uid: must be between"),
        ("process", _DELETE, "process: is required"),
        ("ociVersion", "invalid", "ociVersion: must be a SemVer"),
        ("ociVersion", "2.0.0", "ociVersion: version 2.0.0 is not supported"),
        ("ociVersion", _DELETE, "ociVersion: is required"),
        ("root", _DELETE, "root: is required"),
        ("root.path", "missing", "root.path:"),
        ("hostname", 5, "hostname: must be a string"),
        ("linux.namespaces", [{"type": "mount"}, {"type": "mount"}], "listed more than once"),
        ("linux.namespaces", [{"type": "bogus"}], "linux.namespaces[0].type: unknown"),
        (
            "linux.namespaces",
            [{"type": "mount"}, {"type": "net", "path": "/proc/self/ns/net"}],
            "linux.namespaces[1].type: unknown namespace type 'net'",
        ),
        (
            "linux.namespaces",
            [{"type": "mount"}, {"type": "network", "path": "/no/such"}],
            "linux.namespaces[1].path: /no/such: No such file",
        ),
        (
            "linux.namespaces",
            [{"type": "mount"}, {"type": "ipc", "path": "/proc/self/ns/net"}],
            "linux.namespaces[1].path: /proc/self/ns/net is a network namespace, not ipc",
        ),
        (
            "process.rlimits",
            [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}],
            "process.rlimits[0].type: unknown resource limit",
        ),
        (
            "process.rlimits",
            [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}] * 2,
            "process.rlimits[1].type: RLIMIT_NOFILE is listed more than once",
        ),
        (
            "process.rlimits",
            [{"type": "RLIMIT_NOFILE", "soft": 3, "hard": 2}],
            "process.rlimits[0].soft: soft limit 3 exceeds hard limit 2",
        ),
        ("process.oomScoreAdj", 5000, "process.oomScoreAdj: must be between -1000 and 1000"),
        ("hooks", {"prestart": [{"path": "rel"}]}, "hooks.prestart[0].path: must be an absolute"),
        (
            "hooks",
            {"poststop": [{"path": "/bin/true", "timeout": 0}]},
            "hooks.poststop[0].timeout: must be between 1",
        ),
        ("mounts", [{"type": "tmpfs"}], "mounts[0].destination: must be a string"),
        ("mounts", [{"destination": "/x", "options": "ro"}], "mounts[0].options: must be an"),
        (
            "linux.sysctl",
            {"kernel.panic": "1"},
            "linux.sysctl.kernel.panic: is not a namespaced sysctl",
        ),
        (
            "linux.sysctl",
            {"net.ipv4.ip_forward": "1"},
            "linux.sysctl.net.ipv4.ip_forward: needs a network namespace",
        ),
        ("linux.rootfsPropagation", "weird", "linux.rootfsPropagation: must be one of"),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_NOPE"},
            "linux.seccomp.defaultAction: unknown action",
        ),
        (
            "linux.seccomp",
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}],
            },
            "linux.seccomp.syscalls[0].errnoRet: does not apply to SCMP_ACT_KILL",
        ),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_NOTIFY_RULE]},
            "linux.seccomp.listenerPath: is required",
        ),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_NOTIFY_RULE], "listenerPath": "a"},
            "linux.seccomp.listenerPath: must be an absolute path",
        ),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": 7},
            "linux.seccomp.listenerPath: must be a string",
        ),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"},
            "linux.seccomp.listenerMetadata: must not be set without listenerPath",
        ),
        (
            "linux.seccomp",
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            },
            "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_",
        ),
        (
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"},
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot apply to every syscall",
        ),
        (
            "linux.seccomp",
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": "/run/agent.sock",
                "syscalls": [{"names": ["read", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}],
            },
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot apply to sendmsg",
        ),
        (
            "linux.devices",
            [{"path": "/dev/x", "type": "z"}],
            "linux.devices[0].type: must be one of c, b, u, p",
        ),
        (
            "linux.resources",
            {"devices": [{"allow": True, "access": "rwx"}]},
            "linux.resources.devices[0].access: must be letters of 'rwm'",
        ),
        (
            "linux.uidMappings",
            [{"containerID": 0, "hostID": 1000, "size": 1}],
            "linux.uidMappings: needs a user namespace",
        ),
        ("linux.timeOffsets", {"monotonic": {"secs": 1}}, "linux.timeOffsets: needs a time"),
        ("linux.intelRdt", {"closID": "x"}, "linux.intelRdt: is not supported"),
        ("linux.netDevices", {"eth0": {}}, "linux.netDevices: needs a network namespace"),
        ("linux.memoryPolicy", "MPOL_BIND", "linux.memoryPolicy: must be an object"),
        ("linux.memoryPolicy", {"nodes": "0"}, "linux.memoryPolicy.mode: must be a string"),
        ("linux.memoryPolicy", {"mode": "MPOL_NOPE"}, "linux.memoryPolicy.mode: must be one of"),
        ("linux.memoryPolicy", {"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes: must name"),
        ("linux.memoryPolicy", {"mode": "MPOL_LOCAL", "nodes": "0"}, "nodes: must be empty"),
        ("linux.memoryPolicy", {"mode": "MPOL_BIND", "nodes": "0-"}, "nodes: must be node"),
        ("linux.memoryPolicy", {"mode": "MPOL_BIND", "nodes": "3-1"}, "must run upwards"),
        ("linux.memoryPolicy", {"mode": "MPOL_BIND", "nodes": "1024"}, "below 1024"),
        (
            "linux.memoryPolicy",
            {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]},
            "linux.memoryPolicy.flags[0]: must be one of",
        ),
        (
            "linux.memoryPolicy",
            {
                "mode": "MPOL_BIND",
                "nodes": "0",
                "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"],
            },
            "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude",
        ),
        (
            "linux.memoryPolicy",
            {"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]},
            "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING applies to MPOL_BIND",
        ),
    ],
)
def test_invalid_config_is_rejected_naming_the_field(
    bundle_dir: Path, dotted: str, value: Any, message: str
) -> None:
    """Each broken field yields a ConfigError whose text names that field."""
    doc = _set(VALID, dotted, value)
    (bundle_dir / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        config.load(str(bundle_dir))
    assert message in str(info.value)
    assert str(info.value).startswith("config.json: ")


_WITH_NETNS = _set(
    VALID, "linux.namespaces", [{"type": "mount"}, {"type": "uts"}, {"type": "network"}]
)


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ([], "linux.netDevices: must be an object"),
        ({"a/b": {}}, "linux.netDevices.a/b: must be an interface name"),
        ({"eth0": {"name": "n" * 16}}, "linux.netDevices.eth0.name: must be an interface name"),
        ({"eth0": {"name": "c%s"}}, "linux.netDevices.eth0.name: must be an interface name"),
        ({"eth0": {"name": 3}}, "linux.netDevices.eth0.name: must be a string"),
        ({"eth0": "x"}, "linux.netDevices.eth0: must be an object"),
        ({"eth0": {"name": "c0"}, "eth1": {"name": "c0"}}, "linux.netDevices.eth1.name: 'c0'"),
    ],
)
def test_invalid_net_devices_are_rejected_naming_the_field(
    bundle_dir: Path, devices: Any, message: str
) -> None:
    """Malformed netDevices entries fail validation with the entry's path in the message."""
    doc = _set(_WITH_NETNS, "linux.netDevices", devices)
    with pytest.raises(ConfigError) as info:
        config.validate(doc, str(bundle_dir))
    assert message in str(info.value)


def test_net_devices_with_a_network_namespace_pass(bundle_dir: Path) -> None:
    """Renames, a %d template and entries without name are valid; features advertise them."""
    devices = {"eth0": {"name": "c0"}, "eth1": {"name": "ct%d"}, "eth2": {}}
    config.validate(_set(_WITH_NETNS, "linux.netDevices", devices), str(bundle_dir))
    assert features.features()["linux"]["netDevices"] == {"enabled": True}


def test_notify_config_with_listener_passes(bundle_dir: Path) -> None:
    """A NOTIFY rule with an absolute listenerPath, metadata and WAIT_KILLABLE_RECV is valid;
    listenerPath without a NOTIFY rule is ignored (config-linux.md#seccomp)."""
    seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": "/run/agent.sock",
        "listenerMetadata": "opaque",
        "syscalls": [_NOTIFY_RULE],
    }
    config.validate(_set(VALID, "linux.seccomp", seccomp), str(bundle_dir))
    unused = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "relative/is/ignored"}
    config.validate(_set(VALID, "linux.seccomp", unused), str(bundle_dir))


def test_features_list_notify_and_wait_killable() -> None:
    """features advertises SCMP_ACT_NOTIFY and the flag that needs it as supported."""
    seccomp = features.features()["linux"]["seccomp"]
    assert "SCMP_ACT_NOTIFY" in seccomp["actions"]
    assert "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in seccomp["supportedFlags"]
    assert seccomp["supportedFlags"] == seccomp["knownFlags"]


@pytest.mark.parametrize(
    ("policy", "value", "nodes"),
    [
        ({"mode": "MPOL_DEFAULT"}, 0, []),
        ({"mode": "MPOL_LOCAL", "nodes": ""}, 4, []),
        ({"mode": "MPOL_PREFERRED"}, 1, []),
        (
            {"mode": "MPOL_BIND", "nodes": "0-3,7", "flags": ["MPOL_F_STATIC_NODES"]},
            2 | 1 << 15,
            [0, 1, 2, 3, 7],
        ),
        (
            {"mode": "MPOL_PREFERRED_MANY", "nodes": " 2 , 1", "flags": ["MPOL_F_NUMA_BALANCING"]},
            5 | 1 << 13,
            [1, 2],
        ),
    ],
)
def test_memory_policy_becomes_set_mempolicy_arguments(
    policy: dict[str, Any], value: int, nodes: list[int]
) -> None:
    """A valid memoryPolicy maps to the mode | flags int and the node list set_mempolicy takes."""
    assert config.memory_policy(policy) == (value, nodes)


def test_features_list_every_memory_policy_mode_and_flag() -> None:
    """features advertises the seven modes and three flags of the spec."""
    advertised = features.features()["linux"]["memoryPolicy"]
    assert len(advertised["modes"]) == 7
    assert "MPOL_WEIGHTED_INTERLEAVE" in advertised["modes"]
    assert sorted(advertised["flags"]) == [
        "MPOL_F_NUMA_BALANCING",
        "MPOL_F_RELATIVE_NODES",
        "MPOL_F_STATIC_NODES",
    ]


def test_process_state_for_the_listener() -> None:
    """The notify record carries the container process state: runtime version, seccompFd,
    pid, metadata when set, and the state document."""
    state = {"ociVersion": "1.0.2", "id": "c", "status": "created", "pid": 42, "bundle": "/b"}
    text = plan.process_state(dict(state, annotations={"k": "v"}), "m=1")
    assert json.loads(text) == {
        "ociVersion": config.OCI_VERSION_MAX,
        "fds": ["seccompFd"],
        "pid": 42,
        "metadata": "m=1",
        "state": dict(state, annotations={"k": "v"}),
    }
    assert "metadata" not in json.loads(plan.process_state(state, None))
    p = plan.Plan()
    plan.add_seccomp(p, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_NOTIFY_RULE]}, text)
    assert p.items[-2:] == ["notify", text]


def test_hostname_without_uts_namespace_is_rejected(bundle_dir: Path) -> None:
    """Setting a hostname needs a UTS namespace of the container's own."""
    doc = _set(VALID, "linux.namespaces", [{"type": "mount"}])
    with pytest.raises(ConfigError, match="hostname: needs a new UTS namespace"):
        config.validate(doc, str(bundle_dir))


def test_not_json_is_rejected(bundle_dir: Path) -> None:
    """A config.json that is not JSON is reported as such."""
    (bundle_dir / "config.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.load(str(bundle_dir))


def test_unknown_properties_are_ignored(bundle_dir: Path) -> None:
    """Unknown top-level and hook-kind properties do not fail validation (extensibility)."""
    doc = _set(VALID, "vendorExtension", {"x": 1})
    doc = _set(doc, "hooks", {"futureHookKind": [{"path": "rel"}]})
    config.validate(doc, str(bundle_dir))


def test_plan_encodes_nul_terminated_records() -> None:
    """Plan records are NUL-terminated strings; lists carry their count."""
    p = plan.Plan()
    p.add("user", 1000, 1000)
    p.add("groups")
    p.strv(["5", "7"])
    assert p.encode() == b"user\x001000\x001000\x00groups\x002\x005\x007\x00"


def test_plan_refuses_nul_bytes() -> None:
    """A NUL inside a string would corrupt the plan, so it is refused."""
    p = plan.Plan()
    p.add("cwd", "/a\0b")
    with pytest.raises(ValueError, match="NUL"):
        p.encode()


def test_capability_masks_drop_unknown_and_ungrantable(caplog: pytest.LogCaptureFixture) -> None:
    """Unknown or ungrantable capabilities become warnings, not failures."""
    caps = {"bounding": ["CAP_KILL", "CAP_BOGUS", "CAP_SYS_RESOURCE"], "ambient": []}
    available = (1 << 64) - 1 & ~(1 << 24)
    masks = plan.capability_masks(caps, available)
    assert masks[0] == 1 << 5
    assert "CAP_BOGUS" in caplog.text
    assert "CAP_SYS_RESOURCE" in caplog.text


def test_seccomp_records_carry_args_in_hex() -> None:
    """Seccomp rules expand to one record per syscall name with hex argument values."""
    p = plan.Plan()
    plan.add_seccomp(
        p,
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {
                    "names": ["clone", "clone3"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 255, "op": "SCMP_CMP_MASKED_EQ"}],
                }
            ],
        },
    )
    items = p.items
    assert items[:5] == ["seccomp", "SCMP_ACT_ERRNO", "1", "1", "x86_64"]
    assert items.count("rule") == 2
    assert "ff" in items


@pytest.mark.parametrize(
    ("options", "flags", "prop", "data"),
    [
        (["ro", "nosuid", "nodev"], kernel.MS_RDONLY | kernel.MS_NOSUID | kernel.MS_NODEV, 0, []),
        (
            ["rbind", "rprivate"],
            kernel.MS_BIND | kernel.MS_REC,
            kernel.MS_PRIVATE | kernel.MS_REC,
            [],
        ),
        (["ro", "rw", "mode=755", "size=1k"], 0, 0, ["mode=755", "size=1k"]),
        (["noatime", "atime"], 0, 0, []),
    ],
)
def test_mount_options_map_to_flags(options, flags, prop, data) -> None:
    """mount(8) options become flags; later options win; unknown ones pass as data."""
    got_flags, got_prop, got_data, _attrs = rootfs.parse_options(options)
    assert (got_flags, got_prop, got_data) == (flags, prop, data)


_MAPS = [{"containerID": 0, "hostID": 100000, "size": 10}]
_BIND = {"destination": "/m", "type": "bind", "source": "src", "options": ["bind"]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"options": ["bind", "idmap"]}, "mounts[0].uidMappings: is required for option idmap"),
        ({"options": ["rbind", "ridmap"]}, "mounts[0].uidMappings: is required for option ridmap"),
        ({"uidMappings": _MAPS}, "mounts[0].gidMappings: is required with mounts[0].uidMappings"),
        (
            {"options": ["bind", "idmap", "ridmap"], "uidMappings": _MAPS, "gidMappings": _MAPS},
            "mounts[0].options: idmap and ridmap exclude each other",
        ),
        (
            {"type": "tmpfs", "options": ["idmap"], "uidMappings": _MAPS, "gidMappings": _MAPS},
            "mounts[0].options: an idmapped mount must be a bind mount",
        ),
        (
            {"uidMappings": [{"containerID": 0, "hostID": -1, "size": 1}], "gidMappings": _MAPS},
            "mounts[0].uidMappings[0].hostID: must be between",
        ),
    ],
)
def test_idmapped_mount_errors_name_the_field(
    bundle_dir: Path, changes: dict[str, Any], message: str
) -> None:
    """Idmapped mounts need both mappings (or a new user namespace), a bind and one option."""
    doc = _set(VALID, "mounts", [{**_BIND, **changes}])
    with pytest.raises(ConfigError) as info:
        config.validate(doc, str(bundle_dir))
    assert message in str(info.value)


def test_idmap_may_borrow_the_container_user_namespace_mapping(bundle_dir: Path) -> None:
    """idmap without mount mappings is valid when the container has a new user namespace."""
    doc = _set(VALID, "mounts", [{**_BIND, "options": ["bind", "idmap"]}])
    doc = _set(doc, "linux.namespaces", [{"type": "mount"}, {"type": "uts"}, {"type": "user"}])
    doc = _set(doc, "linux.uidMappings", _MAPS)
    doc = _set(doc, "linux.gidMappings", _MAPS)
    config.validate(doc, str(bundle_dir))


def test_idmap_options_are_never_mount_data() -> None:
    """idmap and ridmap are applied with mount_setattr, not passed to mount(2)."""
    _flags, _prop, data, _attrs = rootfs.parse_options(["rbind", "ridmap", "idmap", "x=1"])
    assert data == ["x=1"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, "cid"),
        ("/docker/abc", "docker/abc"),
        ("relative/x", "relative/x"),
        ("/a/../../b", "b"),
        ("system.slice:docker:abc", "system.slice/docker-abc.scope"),
    ],
)
def test_cgroups_path_is_normalised_below_the_hierarchy_root(path, expected) -> None:
    """cgroupsPath never leaves the hierarchy; systemd-style paths become scopes."""
    assert cgroups.normalise_path(path, "cid") == expected


def test_root_cgroup_path_is_refused() -> None:
    """A cgroupsPath naming the root cgroup would move the container into the host's root."""
    with pytest.raises(ConfigError, match=r"linux\.cgroupsPath"):
        cgroups.normalise_path("/", "cid")
