"""A failed operation leaves no trace (runtime.md: Errors).

Each test snapshots the host (:mod:`conformance.runtime.leftovers`: state entries,
processes, mounts, cgroups, network namespaces) right before an operation that must fail and
compares it with the host right after.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.core import check, check_equal, current_evidence
from conformance.runtime.bundle import CGROUP_PARENT, Bundle
from conformance.runtime.driver import Container, Runtime, start_signal_waiter
from conformance.runtime.leftovers import HostView, host_view
from conformance.runtime.rootfs import probe_binary


def _view(runtime: Runtime, container: Container) -> HostView:
    return host_view(runtime.target.root, container.cid, container.bundle)


def _unchanged(before: HostView, after: HostView, what: str) -> None:
    diff = before.differences(after)
    current_evidence().note(f"host after {what}", differences=diff)
    check_equal(diff, {}, f"host after {what} (state, processes, mounts, cgroups, netns)")


def _named_cgroup(runtime: Runtime, bundle: Bundle, container: Container) -> None:
    """Put the container's cgroup under a path named after its id, so a leak is visible."""
    if runtime.target.cgroups:
        bundle.linux["cgroupsPath"] = f"/{CGROUP_PARENT}/{container.cid}"


def _unknown_rlimit(bundle: Bundle) -> None:
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOT_A_LIMIT", "soft": 1, "hard": 1}]


def _missing_bind_source(bundle: Bundle) -> None:
    source = str(bundle.path / "no-such-source")
    bundle.add_mount(
        {"destination": "/mnt/gone", "type": "bind", "source": source, "options": ["rbind"]}
    )


def _failing_hook(bundle: Bundle) -> None:
    failing = {"path": str(probe_binary()), "args": ["probe", "--stdin", "--exit", "3"]}
    bundle.config["hooks"] = {"createRuntime": [failing]}


def _missing_executable(bundle: Bundle) -> None:
    bundle.process["args"] = ["/no-such-program"]


CREATE_FAILURES: dict[str, Callable[[Bundle], None]] = {
    "unknown-rlimit": _unknown_rlimit,
    "missing-bind-source": _missing_bind_source,
    "failing-createRuntime-hook": _failing_hook,
    "missing-executable": _missing_executable,
}
"""Ways to make create fail: at validation, while mounting, in a hook, at the exec check."""


@pytest.mark.requirement("error-no-effect")
@pytest.mark.parametrize("cause", list(CREATE_FAILURES))
def test_failed_create_leaves_nothing_behind(
    runtime: Runtime, container: Container, bundle: Bundle, cause: str
) -> None:
    """A create that fails leaves no state entry, process, mount, cgroup or netns behind."""
    CREATE_FAILURES[cause](bundle)
    _named_cgroup(runtime, bundle, container)
    before = _view(runtime, container)

    res = container.create()

    if res.ok and cause == "missing-executable":
        # The spec does not say when a missing program must be found out: a runtime may
        # create the container and fail at start. That start must fail, and delete then
        # has to leave the host as it was before create.
        current_evidence().note("create accepted a missing executable; judged at start")
        check(not container.start().ok, "start of /no-such-program", "a non-zero exit", 0)
        runtime.delete(container.cid, force=True)
        _unchanged(before, _view(runtime, container), "a failed start and delete")
        return
    check(not res.ok, f"create with {cause}", "a non-zero exit status", res.returncode)
    _unchanged(before, _view(runtime, container), f"a failed create ({cause})")
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")
    check_equal(container.read_pid_file(), None, "--pid-file after a failed create")


@pytest.mark.requirement("error-no-effect")
def test_failed_second_start_changes_nothing(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A start of a running container fails and leaves its state and the host as they were."""
    _named_cgroup(runtime, bundle, container)
    start_signal_waiter(container, bundle)
    before, state = _view(runtime, container), container.state()

    res = container.start()

    check(not res.ok, "second start", "a non-zero exit status", res.returncode)
    _unchanged(before, _view(runtime, container), "a failed second start")
    check_equal(container.state(), state, "state after the failed start")


@pytest.mark.requirement("error-no-effect")
def test_failed_kill_of_stopped_container_changes_nothing(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A kill of a stopped container fails and leaves its state and the host as they were."""
    _named_cgroup(runtime, bundle, container)
    bundle.probe(out="report.json")
    container.run_to_exit()
    before, state = _view(runtime, container), container.state()

    res = runtime.kill(container.cid, "KILL")

    check(not res.ok, "kill of a stopped container", "a non-zero exit status", res.returncode)
    _unchanged(before, _view(runtime, container), "a failed kill")
    check_equal(container.state(), state, "state after the failed kill")


@pytest.mark.requirement("error-no-effect")
def test_failed_delete_of_running_container_changes_nothing(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A delete of a running container fails and leaves its state and the host as they were."""
    _named_cgroup(runtime, bundle, container)
    start_signal_waiter(container, bundle)
    before, state = _view(runtime, container), container.state()

    res = runtime.delete(container.cid)

    check(not res.ok, "delete of a running container", "a non-zero exit status", res.returncode)
    _unchanged(before, _view(runtime, container), "a failed delete")
    check_equal(container.state(), state, "state after the failed delete")
