# ruff: noqa: F811  (fixtures are imported from the support module and used as arguments)
"""System tests of the reference runtime's lifecycle: real containers, checked from outside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_runtime_ref_support import (  # noqa: F401  (fixtures)
    base_config,
    bundle,
    busybox_rootfs,
    cgroup_dirs,
    refrt,
    runc,
    subreaper,
    unique_id,
    wait_exit,
)

pytestmark = pytest.mark.system


def test_run_returns_output_and_exit_code(refrt, bundle, tmp_path: Path) -> None:
    """``run`` executes process.args in the container and returns its exit status."""
    b = bundle(base_config(["sh", "-c", "echo hello; exit 3"]))
    proc = refrt("run", "--bundle", str(b), unique_id())
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "hello\n"


def test_create_start_state_delete_walks_the_states(refrt, bundle, tmp_path: Path) -> None:
    """State goes created -> running -> stopped; the process runs only after start; delete
    removes state and cgroups."""
    cid = unique_id()
    out = tmp_path / "out"
    b = bundle(base_config(["sh", "-c", "echo started; read x < /proc/self/fd/0 || true"]))
    created = refrt.create(cid, b, "--pid-file", str(tmp_path / "pid"), output=out)
    assert created.returncode == 0, created.stderr

    state = refrt.state(cid)
    assert state["status"] == "created"
    assert state["bundle"] == str(b)
    assert int((tmp_path / "pid").read_text()) == state["pid"] > 0
    assert out.read_text() == "", "process.args ran before start"
    assert os.readlink(f"/proc/{state['pid']}/exe").startswith("/memfd:"), "helper visible"

    assert refrt("start", cid).returncode == 0
    assert wait_exit(state["pid"]) == 0
    assert out.read_text() == "started\n"
    assert refrt.state(cid)["status"] == "stopped"
    assert cgroup_dirs(cid), "the container had no cgroup"

    assert refrt("delete", cid).returncode == 0
    assert refrt("state", cid).returncode != 0
    assert cgroup_dirs(cid) == []
    assert not (refrt.root / cid).exists()


def test_start_twice_fails_without_effect(refrt, bundle, tmp_path: Path) -> None:
    """A second start of a started container is an error and runs nothing again."""
    cid = unique_id()
    out = tmp_path / "out"
    b = bundle(base_config(["sh", "-c", "echo once; sleep 30"]))
    assert refrt.create(cid, b, output=out).returncode == 0
    assert refrt("start", cid).returncode == 0
    second = refrt("start", cid)
    assert second.returncode != 0
    assert "running" in second.stderr
    assert refrt.state(cid)["status"] == "running"
    refrt("kill", cid, "KILL")
    wait_exit(refrt.state(cid)["pid"])
    assert out.read_text() == "once\n"


def test_duplicate_create_fails_and_keeps_the_first(refrt, bundle) -> None:
    """Container ids are unique: a second create fails and the first is untouched."""
    cid = unique_id()
    b = bundle(base_config(["true"]))
    assert refrt.create(cid, b).returncode == 0
    first = refrt.state(cid)
    dup = refrt.create(cid, b)
    assert dup.returncode != 0
    assert "already exists" in dup.stderr
    assert refrt.state(cid) == first


def test_delete_of_running_container_needs_force(refrt, bundle) -> None:
    """delete refuses a running container; delete --force kills it and cleans up."""
    cid = unique_id()
    b = bundle(base_config(["sleep", "60"]))
    assert refrt.create(cid, b).returncode == 0
    assert refrt("start", cid).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert refrt("delete", cid).returncode != 0
    assert refrt.state(cid)["status"] == "running"
    assert refrt("delete", "--force", cid).returncode == 0
    assert wait_exit(pid) == -9
    assert cgroup_dirs(cid) == []


def test_kill_delivers_signal_to_created_container(refrt, bundle) -> None:
    """kill of a created container delivers the signal (the init exits on TERM)."""
    cid = unique_id()
    b = bundle(base_config(["sleep", "60"]))
    assert refrt.create(cid, b).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert refrt("kill", cid, "TERM").returncode == 0
    assert wait_exit(pid) != 0
    assert refrt.state(cid)["status"] == "stopped"
    assert refrt("kill", cid, "KILL").returncode != 0


def test_kill_all_signals_every_process(refrt, bundle) -> None:
    """kill --all reaches every process in the container's cgroup."""
    cid = unique_id()
    b = bundle(base_config(["sh", "-c", "sleep 60 & sleep 60 & wait"]))
    assert refrt.create(cid, b).returncode == 0
    assert refrt("start", cid).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert refrt("kill", "--all", cid, "KILL").returncode == 0
    assert wait_exit(pid) == -9


def test_invalid_config_rejected_before_anything_exists(refrt, bundle) -> None:
    """An invalid config fails create with an error naming the field; nothing is left."""
    cid = unique_id()
    b = bundle(base_config([]))
    proc = refrt.create(cid, b)
    assert proc.returncode != 0
    assert "config.json: process.args: must be a non-empty array" in proc.stderr
    assert not (refrt.root / cid).exists()
    assert cgroup_dirs(cid) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hooks": {"prestart": [{"path": "/bin/false"}]}}, "hooks.prestart[0]"),
        ({"hooks": {"createContainer": [{"path": "/bin/false"}]}}, "hooks.createContainer[0]"),
        ({"process_args": ["/no/such/binary"]}, "process.args[0]"),
        ({"mount_bad": True}, "mounts[5]"),
        ({"idmap_bad": True}, "mounts[5].source"),
    ],
)
def test_failed_create_leaves_nothing_behind(refrt, bundle, change, field) -> None:
    """A create that fails part-way removes its processes, cgroups and state."""
    cid = unique_id()
    config = base_config(["true"])
    if "hooks" in change:
        config["hooks"] = change["hooks"]
    if "process_args" in change:
        config["process"]["args"] = change["process_args"]
    if "mount_bad" in change:
        config["mounts"].append({"destination": "/x", "type": "bind", "source": "/no/such"})
    if "idmap_bad" in change:
        # An idmapped source is cloned before any namespace exists: the error must still undo.
        maps = [{"containerID": 0, "hostID": 100000, "size": 10}]
        config["mounts"].append(
            {
                "destination": "/x",
                "type": "bind",
                "source": "/no/such",
                "options": ["bind", "idmap"],
                "uidMappings": maps,
                "gidMappings": maps,
            }
        )
    b = bundle(config)
    proc = refrt.create(cid, b)
    assert proc.returncode != 0
    assert field in proc.stderr
    assert refrt("state", cid).returncode != 0
    assert not (refrt.root / cid).exists()
    assert cgroup_dirs(cid) == []
    assert refrt("list", "-q").stdout.strip() == ""


def test_hooks_run_in_order_with_state_on_stdin(refrt, bundle, tmp_path: Path) -> None:
    """All six hooks run in lifecycle order, each reading the state document on stdin."""
    log = tmp_path / "hooks.log"
    hooks = {}
    for kind in ("prestart", "createRuntime", "createContainer", "poststart", "poststop"):
        script = f'read -r s; echo "{kind} $s" >> {log}'
        hooks[kind] = [{"path": "/bin/sh", "args": ["sh", "-c", script]}]
    # startContainer runs inside the container: it writes into a shared bind mount.
    shared = tmp_path / "shared"
    shared.mkdir()
    script = 'read -r s; echo "startContainer $s" >> /shared/hooks.log'
    hooks["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", script]}]
    config = base_config(["true"], hooks=hooks)
    config["mounts"].append(
        {"destination": "/shared", "type": "bind", "source": str(shared), "options": ["rbind"]}
    )
    cid = unique_id()
    assert refrt.create(cid, bundle(config)).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert [line.split()[0] for line in log.read_text().splitlines()] == [
        "prestart",
        "createRuntime",
        "createContainer",
    ]
    assert refrt("start", cid).returncode == 0
    wait_exit(pid)
    assert refrt("delete", cid).returncode == 0
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ]
    start_line = (shared / "hooks.log").read_text().split(" ", 1)
    assert start_line[0] == "startContainer"
    for line in [*lines, " ".join(start_line)]:
        kind, text = line.split(" ", 1)
        state = json.loads(text)
        assert state["id"] == cid
        if kind in ("createContainer", "startContainer"):
            assert state["pid"] == 1, "hooks in the container see the pid from there"
        elif kind != "poststop":
            assert state["pid"] == pid


def test_poststart_failure_is_an_error_and_stops_the_container(refrt, bundle) -> None:
    """Since v1.3 a failing poststart hook fails start and stops the container."""
    cid = unique_id()
    config = base_config(["sleep", "60"], hooks={"poststart": [{"path": "/bin/false"}]})
    assert refrt.create(cid, bundle(config)).returncode == 0
    pid = refrt.state(cid)["pid"]
    proc = refrt("start", cid)
    assert proc.returncode != 0
    assert "hooks.poststart[0]" in proc.stderr
    assert wait_exit(pid) == -9
    assert refrt.state(cid)["status"] == "stopped"


def test_hook_timeout_kills_the_hook_and_fails_create(refrt, bundle) -> None:
    """A hook running past its timeout is killed and create fails."""
    cid = unique_id()
    hook = {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}
    config = base_config(["true"], hooks={"createRuntime": [hook]})
    proc = refrt.create(cid, bundle(config))
    assert proc.returncode != 0
    assert "timed out" in proc.stderr
    assert not (refrt.root / cid).exists()


def test_negative_oom_score_adj_is_refused_naming_the_field(refrt, bundle) -> None:
    """Lowering oom_score_adj without CAP_SYS_RESOURCE fails with a clear error."""
    with open("/proc/self/status") as fh:
        caps = next(int(x.split()[1], 16) for x in fh if x.startswith("CapEff"))
    if caps & (1 << 24):
        pytest.skip("this host grants CAP_SYS_RESOURCE; a negative value would succeed")
    config = base_config(["true"])
    config["process"]["oomScoreAdj"] = -500
    proc = refrt.create(unique_id(), bundle(config))
    assert proc.returncode != 0
    assert "process.oomScoreAdj" in proc.stderr


def test_features_lists_what_the_runtime_supports(refrt) -> None:
    """features prints the v1.3 document with the version range and the hooks."""
    proc = refrt("features")
    doc = json.loads(proc.stdout)
    assert doc["ociVersionMax"] == "1.3.0"
    assert "startContainer" in doc["hooks"]
    assert doc["linux"]["seccomp"]["enabled"] is True


@pytest.mark.peer
def test_error_cases_match_runc(refrt, runc, bundle) -> None:
    """Side by side with runc: the same operations succeed or fail the same way."""
    b = bundle(base_config(["sleep", "60"]))

    def script(rt) -> list[bool]:
        cid = unique_id()
        results = [
            rt("state", "no-such-" + cid).returncode == 0,
            rt("start", "no-such-" + cid).returncode == 0,
            rt("delete", "no-such-" + cid).returncode == 0,
            rt.create(cid, b).returncode == 0,
            rt.create(cid, b).returncode == 0,
            rt("start", cid).returncode == 0,
            rt("start", cid).returncode == 0,
            rt("delete", cid).returncode == 0,
        ]
        pid = rt.state(cid)["pid"]
        results.append(rt("kill", cid, "KILL").returncode == 0)
        wait_exit(pid)
        results += [
            rt("kill", cid, "KILL").returncode == 0,
            rt("start", cid).returncode == 0,
            rt("delete", cid).returncode == 0,
            rt("state", cid).returncode == 0,
        ]
        return results

    assert script(refrt) == script(runc)


def test_delete_leaves_no_mounts_on_the_host(refrt, bundle) -> None:
    """The container's mounts live in its own mount namespace: none remain after delete."""
    cid = unique_id()
    b = bundle(base_config(["sleep", "60"]))
    assert refrt.create(cid, b).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert refrt("delete", "--force", cid).returncode == 0
    wait_exit(pid)
    with open("/proc/self/mountinfo") as fh:
        leftovers = [line for line in fh if str(b) in line]
    assert leftovers == []


def test_idmapped_mount_is_attached_in_the_container_only(refrt, bundle, tmp_path: Path) -> None:
    """An idmap mount shows as idmapped in the container's mount table, not on the host."""
    source = tmp_path / "idmap-src"
    source.mkdir()
    (source / "f").write_text("x")
    os.chown(source / "f", 1000, 1000)
    maps = [{"containerID": 1000, "hostID": 7000, "size": 1}]
    config = base_config(["true"])
    config["mounts"].append(
        {
            "destination": "/idm",
            "type": "bind",
            "source": str(source),
            "options": ["bind", "idmap", "ro"],
            "uidMappings": maps,
            "gidMappings": maps,
        }
    )
    cid = unique_id()
    assert refrt.create(cid, bundle(config)).returncode == 0
    pid = refrt.state(cid)["pid"]
    inside = [
        line.split()
        for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        if line.split()[4] == "/idm"
    ]
    assert inside, "no mount at /idm in the container"
    assert {"idmapped", "ro"} <= set(inside[-1][5].split(","))
    st = os.stat(f"/proc/{pid}/root/idm/f")
    assert (st.st_uid, st.st_gid) == (7000, 7000)
    assert "/idm " not in Path("/proc/self/mountinfo").read_text()
    assert refrt("delete", "--force", cid).returncode == 0
