"""Lifecycle hooks (runtime.md: Lifecycle; config.md: POSIX-platform Hooks).

Every hook is the probe binary: it appends its name to a shared order log, records its stdin
(the state) and reports its own namespaces, so Python can compare without shell scripts.
The container's program appends ``process`` to the same log.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from conformance.core import check, check_equal, current_evidence
from conformance.runtime.bundle import SHARED_IN_CONTAINER, Bundle
from conformance.runtime.driver import Container, Runtime, alive
from conformance.runtime.rootfs import PROBE_IN_CONTAINER, probe_binary

ORDER = "order.log"

FAILING = ["probe", "--stdin", "--exit", "3"]
"""A hook that reads its state, then fails (exit 3): it fails, it does not break the pipe."""

IN_CONTAINER_NAMESPACE = ("createContainer", "startContainer")
"""Hooks run in the container namespace, which see the pid as the container sees it."""


def _hook(bundle: Bundle, name: str, *, in_container: bool = False, **extra: Any) -> dict:
    """A probe hook named ``name``; startContainer hooks resolve paths in the container."""
    base = SHARED_IN_CONTAINER if in_container else str(bundle.shared)
    path = PROBE_IN_CONTAINER if in_container else str(probe_binary())
    args = ["probe", "--stdin", "--append", f"{base}/{ORDER}:{name}", "--out",
            f"{base}/{name}.json"]  # fmt: skip
    hook: dict[str, Any] = {"path": path, "args": args, "env": ["PATH=/bin"]}
    hook.update(extra)
    return hook


def _order(bundle: Bundle) -> list[str]:
    path = bundle.shared / ORDER
    lines = path.read_text().split() if path.exists() else []
    current_evidence().note("hook order log", order=lines)
    return lines


def _report(bundle: Bundle, name: str) -> dict[str, Any]:
    path = bundle.shared / f"{name}.json"
    check(path.exists(), f"hook {name}", "to have run", "no report")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _logging_program(bundle: Bundle) -> None:
    bundle.probe("--append", f"{SHARED_IN_CONTAINER}/{ORDER}:process", out="process.json")


@pytest.mark.requirement("hooks-create-order")
def test_create_runs_prestart_create_runtime_and_create_container_in_order(
    container: Container, bundle: Bundle
) -> None:
    """During create the hooks run as prestart, createRuntime, createContainer, in list order."""
    _logging_program(bundle)
    bundle.config["hooks"] = {
        "prestart": [_hook(bundle, "prestart-1"), _hook(bundle, "prestart-2")],
        "createRuntime": [_hook(bundle, "createRuntime-1"), _hook(bundle, "createRuntime-2")],
        "createContainer": [_hook(bundle, "createContainer-1")],
    }

    container.must_create()

    expected = ["prestart-1", "prestart-2", "createRuntime-1", "createRuntime-2",
                "createContainer-1"]  # fmt: skip
    check_equal(_order(bundle), expected, "hooks run by create, in order")


@pytest.mark.requirement("hooks-start-order")
def test_start_container_runs_before_the_program_and_poststart_before_start_returns(
    container: Container, bundle: Bundle
) -> None:
    """startContainer precedes the program; poststart runs in start, not in create."""
    _logging_program(bundle)
    bundle.config["hooks"] = {
        "startContainer": [_hook(bundle, "startContainer", in_container=True)],
        "poststart": [_hook(bundle, "poststart")],
    }
    container.must_create()
    after_create = _order(bundle)

    container.must_start()
    after_start = _order(bundle)
    container.wait()
    final = _order(bundle)

    check_equal(after_create, [], "hooks run by create (none of these belong there)")
    check("poststart" in after_start, "hooks run when start returned", "poststart", after_start)
    for name in ("startContainer", "process"):
        check(name in final, "hook order log after the program ended", name, final)
    check(
        final.index("startContainer") < final.index("process"),
        "order of startContainer and the program",
        "startContainer first",
        final,
    )


@pytest.mark.requirement("hooks-poststop")
def test_poststop_runs_in_delete(runtime: Runtime, container: Container, bundle: Bundle) -> None:
    """poststop hooks run during delete, not before."""
    _logging_program(bundle)
    bundle.config["hooks"] = {
        "poststop": [_hook(bundle, "poststop-1"), _hook(bundle, "poststop-2")]
    }
    container.run_to_exit()
    before = _order(bundle)

    res = runtime.delete(container.cid)

    check(res.ok, "delete", "exit status 0", res.returncode)
    check_equal(before, ["process"], "log before delete")
    check_equal(_order(bundle), ["process", "poststop-1", "poststop-2"], "log after delete")


@pytest.mark.requirement("hooks-state-stdin")
def test_hooks_receive_the_state_on_stdin(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """Each hook reads a state document with the container's id, bundle and pid."""
    kinds = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    bundle.config["hooks"] = {kind: [_hook(bundle, kind)] for kind in kinds}
    bundle.config["hooks"]["startContainer"] = [_hook(bundle, "startContainer", in_container=True)]
    container.run_to_exit()
    runtime.delete(container.cid)

    statuses = {}
    for kind in [*kinds, "startContainer"]:
        raw = _report(bundle, kind).get("stdin", "")
        try:
            state = json.loads(raw)
        except json.JSONDecodeError:
            check(False, f"{kind} hook stdin", "a JSON state", raw[:200])
        check_equal(state.get("id"), container.cid, f"{kind} stdin .id")
        check_equal(
            os.path.realpath(state.get("bundle", "")),
            os.path.realpath(bundle.path),
            f"{kind} stdin .bundle",
        )
        if kind in IN_CONTAINER_NAMESPACE:
            # State "pid": as seen by the container for hooks run in its namespace; the
            # container has a new PID namespace, so its process is pid 1 there.
            check_equal(state.get("pid"), 1, f"{kind} stdin .pid (container's view)")
        elif kind != "poststop":
            check_equal(state.get("pid"), container.pid, f"{kind} stdin .pid (host's view)")
        statuses[kind] = state.get("status")
    # runtime-spec#958 leaves the status a hook sees open: information, not a verdict.
    current_evidence().note("status each hook saw (informational)", **statuses)


@pytest.mark.requirement("hooks-args-env")
def test_hook_gets_exactly_its_args_and_env(container: Container, bundle: Bundle) -> None:
    """A hook's argv and environment are exactly the configured args and env."""
    hook = _hook(bundle, "createRuntime")
    hook["args"] += ["--", "two words", ""]
    hook["env"] = ["PATH=/bin", "CONFORMANCE=yes", "SPACED=a b"]
    bundle.config["hooks"] = {"createRuntime": [hook]}

    container.must_create()

    report = _report(bundle, "createRuntime")
    check_equal(report["args"], hook["args"], "hook argv")
    check_equal(sorted(report["env"]), sorted(hook["env"]), "hook environment")


@pytest.mark.requirement("hooks-namespace")
def test_create_container_runs_in_the_container_mount_namespace(
    container: Container, bundle: Bundle
) -> None:
    """createContainer shares the program's mount namespace; createRuntime does not."""
    _logging_program(bundle)
    bundle.config["hooks"] = {
        "createRuntime": [_hook(bundle, "createRuntime")],
        "createContainer": [_hook(bundle, "createContainer")],
    }

    container.run_to_exit()

    program = _report(bundle, "process")["namespaces"]["mnt"]
    check_equal(
        _report(bundle, "createContainer")["namespaces"]["mnt"],
        program,
        "createContainer mount namespace",
    )
    runtime_side = _report(bundle, "createRuntime")["namespaces"]["mnt"]
    check(runtime_side != program, "createRuntime mount namespace", "the runtime's", runtime_side)


@pytest.mark.requirement("hooks-create-failure")
@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create(
    runtime: Runtime, container: Container, bundle: Bundle, kind: str
) -> None:
    """A hook of create that exits non-zero fails create; no container process is left."""
    _logging_program(bundle)
    bundle.config["hooks"] = {kind: [_hook(bundle, kind, args=FAILING)]}

    res = container.create()

    check(not res.ok, f"create with a failing {kind} hook", "a non-zero exit", res.returncode)
    state = runtime.state(container.cid)
    if state.ok:
        check_equal(json.loads(state.stdout).get("status"), "stopped", "state after failure")
    pid = container.read_pid_file()
    check(pid is None or not alive(pid), "container process", "not running", pid)


@pytest.mark.requirement("hooks-poststart-failure")
def test_failing_poststart_fails_start_and_stops_the_container(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """Since v1.3, a poststart hook that fails makes start fail and stops the container."""
    bundle.probe("--wait-signal", out="process.json")
    bundle.config["hooks"] = {"poststart": [_hook(bundle, "poststart", args=FAILING)]}
    created = container.create()
    check(created.ok, "create", "exit status 0", created.returncode)

    res = container.start()

    check(not res.ok, "start with a failing poststart hook", "a non-zero exit", res.returncode)
    container.wait(timeout=10)
    state = runtime.state(container.cid)
    if state.ok:
        check_equal(json.loads(state.stdout).get("status"), "stopped", "state after failure")


@pytest.mark.requirement("hooks-poststop-failure")
def test_failing_poststop_is_only_a_warning(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A failing poststop hook does not fail delete, and the next poststop hook still runs."""
    bundle.config["hooks"] = {
        "poststop": [
            _hook(bundle, "poststop-1", args=FAILING),
            _hook(bundle, "poststop-2"),
        ]
    }
    container.run_to_exit()

    res = runtime.delete(container.cid)

    check(res.ok, "delete with a failing poststop hook", "exit status 0", res.returncode)
    check("poststop-2" in _order(bundle), "poststop hooks run", "poststop-2", _order(bundle))


@pytest.mark.requirement("hooks-timeout")
def test_hook_exceeding_its_timeout_fails_create(container: Container, bundle: Bundle) -> None:
    """A createRuntime hook that outlives its one-second timeout is killed and create fails."""
    bundle.config["hooks"] = {
        "createRuntime": [{"path": "/bin/busybox", "args": ["busybox", "sleep", "15"],
                           "timeout": 1}]
    }  # fmt: skip
    started = time.monotonic()

    res = container.create()

    took = time.monotonic() - started
    check(not res.ok, "create with a hook over its timeout", "a non-zero exit", res.returncode)
    check(took < 10, "create duration", "well below the hook's 15 s sleep", f"{took:.1f} s")
