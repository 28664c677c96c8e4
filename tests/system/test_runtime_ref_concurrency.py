# ruff: noqa: F811  (fixtures are imported from the support module and used as arguments)
"""System tests: the reference runtime's state stays consistent under concurrent invocations.

Engines call a runtime from several goroutines at once (containerd's shim runs ``kill`` and
``delete`` while a ``state`` is in flight), so each operation must see a container either before
or after another operation on it, never half-way. Every test starts its calls together behind a
barrier and checks that exactly one of the competing calls won and that the loser changed
nothing.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from test_runtime_ref_support import (  # noqa: F401  (fixtures)
    base_config,
    bundle,
    busybox_rootfs,
    cgroup_dirs,
    refrt,
    subreaper,
    unique_id,
    wait_exit,
)

pytestmark = pytest.mark.system

CALLERS = 6
"""How many invocations race for the same container."""


def race(call: Callable[[int], subprocess.CompletedProcess], n: int = CALLERS) -> list:
    """Run ``call(i)`` for ``i`` in ``range(n)`` on threads released together; the results."""
    gate = threading.Barrier(n)
    results: list = [None] * n

    def one(i: int) -> None:
        gate.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a runtime call did not return"
    return results


def winners(results: list) -> list[int]:
    """Indexes of the calls that exited 0."""
    return [i for i, r in enumerate(results) if r.returncode == 0]


def test_concurrent_creates_of_one_id_make_exactly_one_container(refrt, bundle) -> None:
    """Of several simultaneous creates with the same id, one succeeds and the rest fail
    without touching it."""
    cid = unique_id()
    b = bundle(base_config(["sleep", "60"]))

    results = race(lambda _i: refrt.create(cid, b))

    won = winners(results)
    assert len(won) == 1, [(r.returncode, r.stderr) for r in results]
    for i, result in enumerate(results):
        if i not in won:
            assert "already exists" in result.stderr, result.stderr
    state = refrt.state(cid)
    assert state["status"] == "created"
    assert len(refrt("list", "-q").stdout.split()) == 1


def test_concurrent_starts_run_the_process_once(refrt, bundle, tmp_path: Path) -> None:
    """Of several simultaneous starts of one created container, one succeeds and the
    program runs exactly once."""
    cid = unique_id()
    out = tmp_path / "out"
    b = bundle(base_config(["sh", "-c", "echo ran; sleep 60"]))
    assert refrt.create(cid, b, output=out).returncode == 0

    results = race(lambda _i: refrt("start", cid))

    assert len(winners(results)) == 1, [(r.returncode, r.stderr) for r in results]
    assert refrt.state(cid)["status"] == "running"
    refrt("kill", cid, "KILL")
    wait_exit(refrt.state(cid)["pid"])
    assert out.read_text() == "ran\n"


def test_concurrent_deletes_run_poststop_once(refrt, bundle, tmp_path: Path) -> None:
    """Of several simultaneous deletes of one stopped container, one succeeds, the others
    report it gone, and the poststop hook runs once."""
    cid = unique_id()
    log = tmp_path / "poststop.log"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"echo poststop >> {log}"]}
    b = bundle(base_config(["true"], hooks={"poststop": [hook]}))
    assert refrt.create(cid, b).returncode == 0
    pid = refrt.state(cid)["pid"]
    assert refrt("start", cid).returncode == 0
    wait_exit(pid)

    results = race(lambda _i: refrt("delete", cid))

    assert len(winners(results)) == 1, [(r.returncode, r.stderr) for r in results]
    assert log.read_text() == "poststop\n"
    assert refrt("state", cid).returncode != 0
    assert not (refrt.root / cid).exists()
    assert cgroup_dirs(cid) == []


def test_concurrent_lifecycles_of_distinct_ids_do_not_interfere(refrt, bundle) -> None:
    """Containers with different ids are created, listed and deleted side by side."""
    ids = [unique_id() for _ in range(CALLERS)]
    b = bundle(base_config(["true"]))

    created = race(lambda i: refrt.create(ids[i], b))
    assert len(winners(created)) == CALLERS, [r.stderr for r in created]
    assert sorted(refrt("list", "-q").stdout.split()) == sorted(ids)

    deleted = race(lambda i: refrt("delete", ids[i]))
    assert len(winners(deleted)) == CALLERS, [r.stderr for r in deleted]
    assert refrt("list", "-q").stdout.split() == []
    assert [d for cid in ids for d in cgroup_dirs(cid)] == []


def test_state_during_delete_sees_before_or_after(refrt, bundle) -> None:
    """A state query racing a delete sees the whole container or none of it: a complete
    document (created, or stopped once delete has killed the init) or "does not exist"."""
    cid = unique_id()
    b = bundle(base_config(["true"]))
    assert refrt.create(cid, b).returncode == 0

    def call(i: int) -> subprocess.CompletedProcess:
        return refrt("delete", cid) if i == 0 else refrt("state", cid)

    results = race(call)

    assert results[0].returncode == 0, results[0].stderr
    for result in results[1:]:
        if result.returncode == 0:
            state = json.loads(result.stdout)
            assert state["id"] == cid, state
            assert state["status"] in ("created", "stopped"), state
            assert state["bundle"] == str(b), state
        else:
            assert "does not exist" in result.stderr, result.stderr
