# ruff: noqa: F811  (fixtures are imported from the support module and used as arguments)
"""System tests: what the container process sees under the reference runtime (and runc)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_runtime_ref_support import (  # noqa: F401  (fixtures)
    base_config,
    bundle,
    busybox_rootfs,
    refrt,
    runc,
    subreaper,
    unique_id,
)

pytestmark = pytest.mark.system

# One shell probe prints one "key=value" line per fact; both runtimes run the same bundle.
PROBE = "; ".join(
    [
        'echo "ids=$(id -u):$(id -g):$(id -G)"',
        'echo "host=$(hostname)"',
        'echo "cwd=$(pwd)"',
        'echo "env=$FOO"',
        'echo "umask=$(umask)"',
        "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status | tr -d '\\t' "
        "| sed 's/:/=/'",
        'echo "nofile=$(ulimit -n)"',
        'echo "fds=$(ls /proc/self/fd | tr "\\n" " ")"',
        'echo "rootro=$(touch /x 2>/dev/null && echo no || echo yes)"',
        'echo "kcore=$(wc -c < /proc/kcore 2>/dev/null)"',
        'echo "procsys=$(echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo rw || echo ro)"',
        'echo "fwd=$(cat /proc/sys/net/ipv4/ip_forward)"',
        'echo "oom=$(cat /proc/self/oom_score_adj)"',
        'echo "pid1=$(cat /proc/1/comm)"',
        'echo "devnull=$(echo x > /dev/null && echo ok)"',
        'echo "stdout=$(readlink /dev/stdout)"',
    ]
)


def probe_config() -> dict:
    """A config exercising user, groups, umask, caps, rlimits, sysctl, oom score, masks."""
    config = base_config(["sh", "-c", PROBE])
    proc = config["process"]
    proc["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 7], "umask": 0o027}
    proc["cwd"] = "/tmp"
    proc["env"] = ["PATH=/bin", "FOO=bar baz"]
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}]
    proc["oomScoreAdj"] = 100
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    proc["capabilities"] = {
        "bounding": caps,
        "effective": caps,
        "permitted": caps,
        "inheritable": caps,
        "ambient": ["CAP_NET_BIND_SERVICE"],
    }
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    return config


def run_probe(runtime, b: Path) -> dict[str, str]:
    """Run the probe bundle; its facts as a dict."""
    proc = runtime("run", "--bundle", str(b), unique_id())
    assert proc.returncode == 0, proc.stderr
    facts = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        facts[key] = value.strip()
    return facts


def test_process_sees_configured_identity_and_limits(refrt, bundle) -> None:
    """uid/gid/groups, umask, cwd, env, hostname, capabilities, NNP, rlimits, sysctl, oom
    score, masked and read-only paths, read-only root and stdio-only fds are as configured."""
    facts = run_probe(refrt, bundle(probe_config()))
    assert facts["ids"] == "1000:1000:1000 5 7"
    assert facts["host"] == "refrt"
    assert facts["cwd"] == "/tmp"
    assert facts["env"] == "bar baz"
    assert facts["umask"] == "0027"
    # A non-root process keeps only its ambient set across execve (capabilities(7)).
    assert facts["CapBnd"] == facts["CapInh"] == f"{(1 << 5) | (1 << 10):016x}"
    assert facts["CapEff"] == facts["CapPrm"] == facts["CapAmb"] == f"{1 << 10:016x}"
    assert facts["NoNewPrivs"] == "1"
    assert facts["nofile"] == "512"
    assert facts["fds"] == "0 1 2 3", "only stdio (3 is ls's own directory fd)"
    assert facts["rootro"] == "yes"
    assert facts["kcore"] in ("", "0")
    assert facts["procsys"] == "ro"
    assert facts["fwd"] == "1"
    assert facts["oom"] == "100"
    assert facts["pid1"] == "sh"
    assert facts["devnull"] == "ok"
    assert facts["stdout"] == "/proc/self/fd/1"


@pytest.mark.peer
def test_process_view_matches_runc(refrt, runc, bundle) -> None:
    """The same bundle shows the same process view under runc and the reference runtime."""
    b = bundle(probe_config())
    ours = run_probe(refrt, b)
    theirs = run_probe(runc, b)
    assert ours == theirs


def test_seccomp_errno_rule_applies(refrt, bundle) -> None:
    """A seccomp rule returning an errno makes that syscall fail with it in the container."""
    config = base_config(["sh", "-c", "mkdir /tmp/d && echo made || echo refused"])
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


def test_seccomp_with_argument_conditions(refrt, bundle) -> None:
    """Rules with argument conditions (as Docker's profile uses) compile and apply."""
    config = base_config(["sh", "-c", "echo ok"])
    config["process"]["noNewPrivileges"] = False
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
            },
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
            },
            {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_ALLOW"},
            {
                "names": [
                    "execve",
                    "brk",
                    "mmap",
                    "munmap",
                    "arch_prctl",
                    "set_tid_address",
                    "write",
                    "exit_group",
                    "getpid",
                    "rt_sigaction",
                    "rt_sigprocmask",
                    "getuid",
                    "getppid",
                    "uname",
                    "ioctl",
                    "close_range",
                    "setgroups",
                    "setresgid",
                    "setresuid",
                    "prctl",
                    "capget",
                    "capset",
                    "chdir",
                    "umask",
                    "close",
                    "fcntl",
                    "read",
                    "getcwd",
                    "newfstatat",
                    "stat",
                    "geteuid",
                    "getegid",
                    "getgid",
                    "set_robust_list",
                    "rseq",
                    "prlimit64",
                    "mprotect",
                    "openat",
                    "fstat",
                ],
                "action": "SCMP_ACT_ALLOW",
            },
        ],
    }
    proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_mount_destination_symlink_cannot_escape_rootfs(refrt, bundle, tmp_path: Path) -> None:
    """A mount whose destination is a symlink pointing out of the rootfs lands inside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "marker").write_text("host file\n")
    config = base_config(["sh", "-c", "ls /escape/"])
    config["root"]["readonly"] = False
    config["mounts"].append({"destination": "/escape", "type": "tmpfs", "source": "tmpfs"})
    b = bundle(config)
    (b / "rootfs" / "escape").symlink_to(str(outside))
    proc = refrt("run", "--bundle", str(b), unique_id())
    assert proc.returncode == 0, proc.stderr
    assert (outside / "marker").read_text() == "host file\n"
    assert not os.path.ismount(outside)
    assert proc.stdout == "", "the container saw the host directory, not its own tmpfs"


def test_user_namespace_maps_ids(refrt, bundle) -> None:
    """With a user namespace, the configured uid/gid maps are in place."""
    config = base_config(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"])
    config["linux"]["namespaces"].append({"type": "user"})
    # Container root is host root (so it may enter the 0700 pytest temp dirs); the rest of the
    # range is shifted.
    maps = [
        {"containerID": 0, "hostID": 0, "size": 1},
        {"containerID": 1, "hostID": 100001, "size": 65535},
    ]
    config["linux"]["uidMappings"] = maps
    config["linux"]["gidMappings"] = maps
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/sys"]
    proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    assert proc.returncode == 0, proc.stderr
    expected = [["0", "0", "1"], ["1", "100001", "65535"]]
    assert [line.split() for line in proc.stdout.splitlines()] == expected * 2


@contextlib.contextmanager
def _userns_holder(uid_map: str) -> Iterator[int]:
    """A process in a new user namespace whose maps (uid and gid alike) the test wrote."""
    script = "echo unshared; read line; exec sleep 600"
    proc = subprocess.Popen(
        ["unshare", "--user", "--", "/bin/busybox", "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        assert proc.stdout.readline().strip() == "unshared"
        Path(f"/proc/{proc.pid}/uid_map").write_text(uid_map)
        Path(f"/proc/{proc.pid}/gid_map").write_text(uid_map)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


JOINED_MAP = "0 0 1\n1 100001 65535\n"
"""Container root is host root, so the 0700 pytest temp directories stay reachable."""


@pytest.mark.parametrize(
    ("mappings", "error"),
    [
        (None, None),
        (
            [
                {"containerID": 0, "hostID": 0, "size": 1},
                {"containerID": 1, "hostID": 100001, "size": 65535},
            ],
            None,
        ),
        ([{"containerID": 0, "hostID": 200000, "size": 65536}], "linux.uidMappings"),
    ],
    ids=["no-mappings", "same-mappings", "other-mappings"],
)
def test_joined_user_namespace_gets_default_devices(refrt, bundle, mappings, error) -> None:
    """Joining a user namespace by path works without mappings (mknod is refused there, so the
    default devices are bound from the host); mappings, if given, must be the namespace's."""
    config = base_config(["sh", "-c", "cat /proc/self/uid_map; stat -c '%F %t:%T' /dev/null"])
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/sys"]
    if mappings is not None:
        config["linux"]["uidMappings"] = mappings
        config["linux"]["gidMappings"] = mappings
    with _userns_holder(JOINED_MAP) as holder:
        config["linux"]["namespaces"].append({"type": "user", "path": f"/proc/{holder}/ns/user"})

        proc = refrt("run", "--bundle", str(bundle(config)), unique_id())

    if error is not None:
        assert proc.returncode != 0
        assert error in proc.stderr
        assert refrt("list", "-q").stdout.strip() == "", "a refused config left a container"
        return
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split() for line in lines[:2]] == [["0", "0", "1"], ["1", "100001", "65535"]]
    assert lines[2] == "character special file 1:3"


@pytest.mark.parametrize(
    ("offsets", "error"),
    [
        (None, None),
        ({"monotonic": {"secs": 86400}}, None),
        ({"monotonic": {"secs": 5}}, "linux.timeOffsets.monotonic"),
    ],
    ids=["no-offsets", "same-offsets", "other-offsets"],
)
def test_joined_time_namespace_keeps_its_offsets(refrt, bundle, offsets, error) -> None:
    """A time namespace joined by path shows its creator's offsets; timeOffsets, if given,
    must be the namespace's (they cannot be written once a process is inside)."""
    if not Path("/proc/self/timens_offsets").exists():
        pytest.skip("the kernel has no time namespaces")
    config = base_config(["cat", "/proc/self/timens_offsets"])
    if offsets is not None:
        config["linux"]["timeOffsets"] = offsets
    holder = subprocess.Popen(
        ["unshare", "--time", "--monotonic", "86400", "--", "/bin/busybox", "sh", "-c",
         "echo ready; exec sleep 600"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        config["linux"]["namespaces"].append(
            {"type": "time", "path": f"/proc/{holder.pid}/ns/time"}
        )

        proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()

    if error is not None:
        assert proc.returncode != 0
        assert error in proc.stderr
        assert refrt("list", "-q").stdout.strip() == "", "a refused config left a container"
        return
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:3] == ["monotonic", "86400", "0"]


def test_devices_and_cgroup_limits_are_applied(refrt, bundle, tmp_path: Path) -> None:
    """linux.devices nodes exist with their mode; memory and pids limits are in the cgroup."""
    config = base_config(
        [
            "sh",
            "-c",
            "stat -c '%F %a %t:%T' /dev/mynull; "
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
            "/sys/fs/cgroup/pids/pids.max",
        ]
    )
    config["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640}
    ]
    config["linux"]["resources"] = {
        "memory": {"limit": 64 * 1024 * 1024},
        "pids": {"limit": 50},
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        ],
    }
    config["linux"]["namespaces"].append({"type": "cgroup"})
    config["mounts"].append(
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["ro", "nosuid", "nodev"],
        }
    )
    proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "character special file 640 1:3"
    assert lines[1:] == [str(64 * 1024 * 1024), "50"]


def test_terminal_is_sent_over_console_socket(refrt, bundle, tmp_path: Path) -> None:
    """With process.terminal the pty master arrives over --console-socket; the process has
    the slave as its controlling terminal with the configured size."""
    import socket

    path = tmp_path / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    config = base_config(["sh", "-c", "stty size; tty"])
    config["process"]["terminal"] = True
    config["process"]["consoleSize"] = {"height": 33, "width": 101}
    cid = unique_id()
    proc = refrt.create(cid, bundle(config), "--console-socket", str(path))
    assert proc.returncode == 0, proc.stderr
    conn, _ = server.accept()
    _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
    master = fds[0]
    pid = refrt.state(cid)["pid"]
    assert refrt("start", cid).returncode == 0
    from test_runtime_ref_support import wait_exit

    wait_exit(pid)
    output = os.read(master, 4096).decode()
    os.close(master)
    conn.close()
    server.close()
    assert output.split() == ["33", "101", "/dev/console"] or output.split()[:2] == ["33", "101"]


def test_scheduling_personality_time_and_domain_are_applied(refrt, bundle) -> None:
    """scheduler nice/policy, ioPriority, personality, time offsets and domainname apply."""
    script = (
        "cut -d' ' -f19,41 /proc/self/stat; ionice; uname -m; "
        "cat /proc/self/timens_offsets; cat /proc/sys/kernel/domainname"
    )
    config = base_config(["sh", "-c", script], domainname="example.test")
    config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
    config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    config["linux"]["personality"] = {"domain": "LINUX32"}
    config["linux"]["namespaces"].append({"type": "time"})
    config["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0}}
    proc = refrt("run", "--bundle", str(bundle(config)), unique_id())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "7 3", "nice 7, policy 3 (SCHED_BATCH) in /proc/self/stat"
    assert lines[1] == "best-effort: prio 6"
    assert lines[2] == "i686"
    assert lines[3].split() == ["monotonic", "86400", "0"]
    assert lines[-1] == "example.test"
