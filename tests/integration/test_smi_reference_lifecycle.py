"""The reference mesh's process lifecycle: clean shutdown, parent death, restart with state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.smi.target import (
    ReferenceMesh,
    project_root,
    smi_object,
    start_reference,
    stop_process,
)


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _wait_gone(pids: set[int], timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[ReferenceMesh]:
    """A reference mesh with one backend deployment running."""
    process, url = start_reference(tmp_path)
    mesh = ReferenceMesh(url, process)
    try:
        mesh.create_namespace("life")
        mesh.deploy_backend("life", "echo", "v1", "echo", labels={"app": "echo"})
        yield mesh
    finally:
        mesh.close()


def test_sigterm_stops_every_backend_process(reference: ReferenceMesh) -> None:
    """On SIGTERM the mesh stops the backend processes it started before exiting."""
    assert reference.process is not None
    children = _children(reference.process.pid)
    assert children, "the backend process should run under the mesh"
    reference.process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit.
    assert reference.process.wait(15) in (0, -signal.SIGTERM)
    assert _wait_gone(children) == set()


def test_state_survives_a_restart(reference: ReferenceMesh, tmp_path: Path) -> None:
    """Objects stored before a restart are served after it."""
    reference.create(smi_object("TCPRoute", "life", "kept", {"matches": {"ports": [9000]}}))
    assert reference.process is not None
    stop_process(reference.process)
    process, url = start_reference(tmp_path)
    again = ReferenceMesh(url, process)
    try:
        assert again.get("TCPRoute", "life", "kept")["spec"] == {"matches": {"ports": [9000]}}
    finally:
        again.close()


def test_mesh_and_backends_die_with_their_parent(tmp_path: Path) -> None:
    """When the process that started the mesh is killed, the mesh and its backends exit too."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from conformance.smi.target import ReferenceMesh, start_reference\n"
        "proc, url = start_reference(Path(sys.argv[1]))\n"
        "mesh = ReferenceMesh(url)\n"
        "mesh.create_namespace('orphan')\n"
        "mesh.deploy_backend('orphan', 'echo', 'v1', 'echo', labels={'app': 'echo'})\n"
        "print(proc.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(project_root())}
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        mesh_pid = int(parent.stdout.readline())
        doomed = {mesh_pid, *_children(mesh_pid)}
        assert len(doomed) >= 2
        parent.kill()
        parent.wait(10)
        assert _wait_gone(doomed) == set()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def test_listen_address_must_be_loopback(tmp_path: Path) -> None:
    """The mesh refuses to listen anywhere but 127.0.0.1."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reference_impl.smi",
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
            str(tmp_path),
        ],
        env={**os.environ, "PYTHONPATH": str(project_root())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "loopback" in proc.stderr
