"""Lifecycle operations and the state document (runtime.md: State, Lifecycle, Operations)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.core import Violation, check, check_equal, current_evidence
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import (
    Container,
    ExitWatcher,
    Runtime,
    alive,
    start_signal_waiter,
    wait_for_path,
)
from conformance.runtime.leftovers import own_cgroup_dirs
from conformance.runtime.schemas import validate_state

SIGNAL_WAITER = ["--wait-signal"]


@pytest.mark.requirement("state-document")
def test_state_of_created_container_is_a_valid_document(
    container: Container, bundle: Bundle
) -> None:
    """The state of a created container has ociVersion, id, status and an absolute bundle."""
    container.must_create()

    state = container.state()

    validate_state(state)
    check_equal(state["id"], container.cid, "state.id")
    check(os.path.isabs(state["bundle"]), "state.bundle", "an absolute path", state["bundle"])
    check_equal(os.path.realpath(state["bundle"]), os.path.realpath(bundle.path), "state.bundle")


@pytest.mark.requirement("state-status", "state-pid")
def test_state_reports_created_then_running_then_stopped(
    container: Container, bundle: Bundle
) -> None:
    """Status follows the lifecycle, and pid is the process's host pid while it lives."""
    bundle.probe(*SIGNAL_WAITER, out="report.json")
    bundle.process.setdefault("env", []).append("PROBE_READY=/shared/ready")
    container.must_create()
    created = container.state()
    check_equal(created.get("status"), "created", "state.status after create")
    check(created.get("pid", 0) > 0, "state.pid after create", "a pid > 0", created.get("pid"))
    check(alive(created["pid"]), f"pid {created['pid']}", "a live process", "no such process")

    container.must_start()
    wait_for_path(bundle.shared / "ready", container.pid)
    running = container.state()
    check_equal(running.get("status"), "running", "state.status after start")
    check_equal(running.get("pid"), created["pid"], "state.pid after start")

    container.runtime.kill(container.cid, "TERM")
    container.wait()
    stopped = container.state()
    check_equal(stopped.get("status"), "stopped", "state.status after the process ended")


@pytest.mark.requirement("cli-pid-file", "state-pid")
def test_pid_file_names_the_pid_state_reports(container: Container) -> None:
    """--pid-file holds the same pid as the state, and it is the container's process."""
    container.must_create()

    state = container.state()

    pid = container.read_pid_file()
    check(pid is not None, str(container.pid_file), "a pid written by create", "missing or empty")
    check_equal(pid, state.get("pid"), "--pid-file content vs state.pid")


@pytest.mark.requirement("state-annotations")
def test_state_echoes_annotations(container: Container, bundle: Bundle) -> None:
    """Annotations in the config reappear in the state document."""
    annotations = {"org.example.conformance/key": "value", "com.example.other": "x y"}
    bundle.config["annotations"] = annotations
    container.must_create()

    state = container.state()

    check_equal(state.get("annotations"), annotations, "state.annotations")


@pytest.mark.requirement("state-unknown-id")
def test_state_of_unknown_id_fails(runtime: Runtime) -> None:
    """Asking for the state of an id never created is an error."""
    res = runtime.state("conf-never-created-0")

    check(not res.ok, "state conf-never-created-0", "a non-zero exit status", res.returncode)


@pytest.mark.requirement("create-unique-id")
def test_create_with_id_in_use_fails_and_keeps_the_first(
    container: Container,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """A second create with the same id fails; the first container keeps its state and pid."""
    container.must_create()
    before = container.state()
    other = make_container(make_bundle(), cid=container.cid)
    other.on_create = None
    Path(other.bundle / "config.json").write_text((container.bundle / "config.json").read_text())

    res = other.create()

    check(not res.ok, f"second create {container.cid}", "a non-zero exit status", res.returncode)
    after = container.state()
    check_equal(after.get("status"), "created", "first container's status")
    check_equal(after.get("pid"), before.get("pid"), "first container's pid")
    check_equal(after.get("bundle"), before.get("bundle"), "first container's bundle")
    check(alive(before["pid"]), f"pid {before['pid']}", "still alive", "gone")


@pytest.mark.requirement("create-bad-bundle")
def test_create_with_missing_bundle_fails(runtime: Runtime, container: Container) -> None:
    """A bundle directory that does not exist fails create and leaves no container behind."""
    container.bundle = container.bundle / "does-not-exist"
    container.on_create = None

    res = container.create()

    check(not res.ok, "create with a missing bundle", "a non-zero exit status", res.returncode)
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")


@pytest.mark.requirement("create-bad-bundle")
def test_create_with_unparsable_config_fails(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A config.json that is not JSON fails create and leaves no container behind."""
    container.on_create = None
    (bundle.path / "config.json").write_text("{ this is not json")

    res = container.create()

    check(not res.ok, "create with a broken config.json", "a non-zero exit status", res.returncode)
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")


@pytest.mark.requirement("create-no-process-before-start", "start-runs-process")
def test_program_runs_only_after_start(container: Container, bundle: Bundle) -> None:
    """After create the program has not run; start runs it."""
    bundle.probe(out="report.json")
    container.must_create()

    check(
        not (bundle.shared / "report.json").exists(),
        "after create",
        "the program not to have run yet",
        "its output exists",
    )
    container.must_start()
    container.wait()
    report = container.probe_report("report.json")
    check_equal(report["args"][0], "/probe", "process.args[0] seen by the program")


@pytest.mark.requirement("create-config-snapshot")
def test_config_changes_after_create_have_no_effect(container: Container, bundle: Bundle) -> None:
    """Rewriting config.json between create and start does not change what runs."""
    bundle.probe("--stat", "/original", out="report.json")
    container.must_create()
    changed = bundle.snapshot()
    changed["process"]["args"] = ["/probe", "--stat", "/changed", "--out", "/shared/report.json"]
    changed["hostname"] = "changed"
    (bundle.path / "config.json").write_text(json.dumps(changed))

    container.must_start()
    container.wait()

    report = container.probe_report("report.json")
    check(
        "/original" in report["stat"],
        "process.args after config.json was rewritten",
        "the args given at create",
        report["args"],
    )
    check_equal(report["hostname"], "conformance", "hostname after config.json was rewritten")


@pytest.mark.requirement("start-only-created")
def test_start_of_running_container_fails(container: Container, bundle: Bundle) -> None:
    """A second start of a running container fails and the process keeps running."""
    start_signal_waiter(container, bundle)

    res = container.start()

    check(not res.ok, "second start", "a non-zero exit status", res.returncode)
    check_equal(container.state().get("status"), "running", "state.status after second start")


@pytest.mark.requirement("start-only-created")
def test_start_of_stopped_container_fails_without_rerun(
    container: Container, bundle: Bundle
) -> None:
    """Start after the process ended fails and does not run the program again."""
    bundle.probe("--write", "/shared/runs", out="report.json")
    container.run_to_exit()
    marker = bundle.shared / "runs"
    check_equal(marker.read_text(), "x", "marker written by the single run")

    res = container.start()

    check(not res.ok, "start of a stopped container", "a non-zero exit status", res.returncode)
    check_equal(marker.read_text(), "x", "marker after a second start (one byte per run)")


@pytest.mark.requirement("start-only-created")
def test_start_of_unknown_id_fails(runtime: Runtime) -> None:
    """Starting an id that was never created is an error."""
    res = runtime.run("start", "conf-never-created-1")

    check(not res.ok, "start conf-never-created-1", "a non-zero exit status", res.returncode)


@pytest.mark.requirement("kill-signal")
def test_kill_delivers_the_named_signal(container: Container, bundle: Bundle) -> None:
    """kill <id> USR1 reaches the running process as SIGUSR1."""
    start_signal_waiter(container, bundle)

    res = container.runtime.kill(container.cid, "USR1")

    check(res.ok, "kill USR1", "exit status 0", res.returncode)
    container.wait()
    report = container.probe_report("report.json")
    check_equal(report.get("signal"), int(signal.SIGUSR1), "signal received by the process")


@pytest.mark.requirement("kill-signal")
def test_kill_of_created_container_ends_it(container: Container) -> None:
    """SIGKILL sent to a created container ends its process and the state becomes stopped."""
    container.must_create()

    res = container.runtime.kill(container.cid, "KILL")

    check(res.ok, "kill of a created container", "exit status 0", res.returncode)
    container.wait()
    check_equal(container.state().get("status"), "stopped", "state.status after kill")


@pytest.mark.requirement("kill-stopped")
def test_kill_of_stopped_container_fails_without_effect(
    container: Container, bundle: Bundle
) -> None:
    """kill of a stopped container fails and the state does not change."""
    bundle.probe(out="report.json")
    container.run_to_exit()
    before = container.state()

    res = container.runtime.kill(container.cid, "KILL")

    check(not res.ok, "kill of a stopped container", "a non-zero exit status", res.returncode)
    after = container.state()
    check_equal(after.get("status"), before.get("status"), "state.status after kill")


@pytest.mark.requirement("delete-running")
def test_delete_of_running_container_fails_and_keeps_it(
    container: Container, bundle: Bundle
) -> None:
    """delete without --force of a running container fails; the container keeps running."""
    start_signal_waiter(container, bundle)

    res = container.runtime.delete(container.cid)

    check(not res.ok, "delete of a running container", "a non-zero exit status", res.returncode)
    check_equal(container.state().get("status"), "running", "state.status after delete")
    check(alive(container.pid or 0), f"pid {container.pid}", "still alive", "gone")


@pytest.mark.requirement("delete-created")
def test_delete_of_created_container_is_all_or_nothing(
    runtime: Runtime, container: Container
) -> None:
    """delete of a created container either fails and changes nothing, or removes it whole:
    no process, no state entry, no cgroup. Which way the runtime went is recorded."""
    container.must_create()
    pid = container.pid or 0
    cgroups = own_cgroup_dirs(pid) if runtime.target.cgroups else []

    res = runtime.delete(container.cid)

    evidence = current_evidence()
    if not res.ok:
        evidence.note("delete of a created container", outcome="refused", rc=res.returncode)
        check_equal(container.state().get("status"), "created", "state.status after refusal")
        check(alive(pid), f"pid {pid} after a refused delete", "still alive", "gone")
        return
    evidence.note(
        "delete of a created container", outcome="deleted", cgroups=[str(d) for d in cgroups]
    )
    try:
        ExitWatcher.wait(pid, 10)
    except TimeoutError as err:
        raise Violation(f"pid {pid} after delete", "to end within 10 s", "still running") from err
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")
    entries = [p.name for p in runtime.target.root.iterdir() if container.cid in p.name]
    check_equal(entries, [], f"entries for {container.cid} under --root after delete")
    check_equal([str(d) for d in cgroups if d.exists()], [], "the container's cgroups")


@pytest.mark.requirement("delete-releases")
def test_delete_of_stopped_container_removes_it(runtime: Runtime, container: Container) -> None:
    """After delete the state is gone, the process is gone and the state entry is removed."""
    container.run_to_exit()

    res = runtime.delete(container.cid)

    check(res.ok, "delete of a stopped container", "exit status 0", res.returncode)
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")
    entries = [p.name for p in runtime.target.root.iterdir() if container.cid in p.name]
    check_equal(entries, [], f"entries for {container.cid} under --root after delete")


@pytest.mark.requirement("delete-reuse-id")
def test_id_can_be_reused_after_delete(
    runtime: Runtime,
    container: Container,
    make_bundle: Callable[..., Bundle],
    make_container: Callable[..., Container],
) -> None:
    """An id is free again once its container was deleted."""
    container.run_to_exit()
    runtime.delete(container.cid)
    again = make_container(make_bundle(), cid=container.cid)

    again.must_create()

    check_equal(again.state().get("status"), "created", "state.status of the reused id")


@pytest.mark.requirement("cli-operations-need-id")
@pytest.mark.parametrize("operation", ["create", "start", "kill", "delete", "state"])
def test_operation_without_id_fails(runtime: Runtime, bundle: Bundle, operation: str) -> None:
    """Every operation called without a container id is an error."""
    extra = ["--bundle", str(bundle.path)] if operation == "create" else []
    bundle.write()

    res = runtime.run(operation, *extra)

    check(not res.ok, f"{operation} without an id", "a non-zero exit status", res.returncode)


@pytest.mark.requirement("cli-operations-need-id")
@pytest.mark.parametrize("operation", ["kill", "delete"])
def test_operation_on_unknown_id_fails(runtime: Runtime, operation: str) -> None:
    """kill and delete of an id that was never created are errors."""
    res = runtime.run(operation, "conf-never-created-2")

    check(not res.ok, f"{operation} conf-never-created-2", "a non-zero exit", res.returncode)


@pytest.mark.requirement("start-without-process")
def test_start_without_process_fails(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A config without process can be created at most; start then fails and runs nothing."""
    del bundle.config["process"]

    created = container.create()

    if not created.ok:
        # Refusing the config up front also keeps anything from running without a process.
        current_evidence().note("create refused a config without process", rc=created.returncode)
        return
    res = container.start()
    check(not res.ok, "start of a container without process", "a non-zero exit", res.returncode)
