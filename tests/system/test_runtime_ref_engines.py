# ruff: noqa: F811  (fixtures are imported from the support module and used as arguments)
"""Real engines drive the reference runtime end to end: Docker Engine and containerd (Debian).

Each engine runs privately (own sockets, state, data and exec roots) and is pointed at the
runtime's wrapper: ``dockerd --add-runtime refrt=<wrapper>``, ``ctr run --runc-binary``
(the runc shim's BinaryName). Output and exit codes must come back unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_runtime_ref_support import WRAPPER, busybox_rootfs, needs_root  # noqa: F401

pytestmark = [pytest.mark.system, pytest.mark.peer]


def _wrapper(directory: Path) -> Path:
    """An executable engines can exec: the runtime wrapper with this interpreter."""
    path = directory / "refrt"
    python = os.environ.get("CONFORMANCE_PYTHON", sys.executable)
    path.write_text(f'#!/bin/sh\nCONFORMANCE_PYTHON={python} exec {WRAPPER} "$@"\n')
    path.chmod(0o755)
    return path


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _unmount_below(path: Path) -> None:
    """Detach leftover mounts below ``path`` (deepest first) so it can be removed."""
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for point in sorted((p for p in points if p.startswith(str(path))), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


@contextlib.contextmanager
def _private_dir(prefix: str) -> Iterator[Path]:
    # Short paths: engines put unix sockets below these directories (108-byte limit).
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        _unmount_below(path)
        shutil.rmtree(path, ignore_errors=True)


def _wait_for_socket(path: Path, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"engine did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def dockerd(busybox_rootfs: Path) -> Iterator[tuple[object, str]]:
    """A private dockerd with our runtime registered as ``refrt``; yields (client, image)."""
    docker = pytest.importorskip("docker")
    needs_root()
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd (Debian docker.io) is not installed")
    with _private_dir("rdk") as base:
        sock = base / "docker.sock"
        log = base / "dockerd.log"
        argv = [
            "dockerd",
            f"--host=unix://{sock}",
            f"--data-root={base / 'data'}",
            f"--exec-root={base / 'ex'}",
            f"--pidfile={base / 'docker.pid'}",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            f"--add-runtime=refrt={_wrapper(base)}",
        ]
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for_socket(sock, proc, log, 60)
            client = docker.DockerClient(base_url=f"unix://{sock}", timeout=120)
            _wait_ping(client, proc, log)
            tarball = base / "busybox.tar"
            with tarfile.open(tarball, "w") as tar:
                tar.add(busybox_rootfs, arcname=".")
            client.api.import_image_from_file(str(tarball), repository="refrt-busybox", tag="1")
            yield client, "refrt-busybox:1"
            client.close()
        finally:
            _stop(proc)


def _wait_ping(client: object, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.ping()  # type: ignore[attr-defined]
            return
        except Exception:  # the daemon is still starting; anything but success retries
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("command", "output", "code"),
    [
        (["echo", "hello"], b"hello\n", 0),
        (["sh", "-c", "exit 3"], b"", 3),
    ],
)
def test_docker_runs_container_with_reference_runtime(dockerd, command, output, code) -> None:
    """Docker Engine drives the runtime (create/start/state/kill/delete through the runc shim):
    output and exit code come back as the process produced them."""
    client, image = dockerd
    container = client.containers.create(
        image, command, runtime="refrt", network_mode="none", detach=True
    )
    try:
        container.start()
        result = container.wait(timeout=60)
        logs = container.logs(stdout=True, stderr=True)
    finally:
        container.remove(force=True)
    assert result["StatusCode"] == code, logs
    assert logs == output


@pytest.fixture(scope="module")
def containerd() -> Iterator[tuple[Path, Path]]:
    """A private containerd (no CRI plugin); yields (socket, runtime wrapper)."""
    needs_root()
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("containerd (Debian) is not installed")
    with _private_dir("rct") as base:
        sock = base / "containerd.sock"
        config = base / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{base / "root"}"\n'
            f'state = "{base / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{sock}"\n'
            f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
        )
        log = base / "containerd.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["containerd", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            _wait_for_socket(sock, proc, log, 60)
            yield sock, _wrapper(base)
        finally:
            _stop(proc)


@pytest.mark.parametrize(
    ("command", "output", "code"),
    [
        (["echo", "hello"], "hello\n", 0),
        (["sh", "-c", "exit 3"], "", 3),
    ],
)
def test_containerd_runs_container_with_reference_runtime(
    containerd, busybox_rootfs: Path, tmp_path: Path, command, output, code
) -> None:
    """containerd's runc shim with BinaryName set to the runtime runs a container; output
    and exit code come back as the process produced them."""
    sock, wrapper = containerd
    namespace = f"refrt-{uuid.uuid4().hex[:8]}"
    cid = f"c{uuid.uuid4().hex[:10]}"
    out = tmp_path / "ctr.out"
    argv = [
        "ctr",
        "-a",
        str(sock),
        "-n",
        namespace,
        "run",
        "--rm",
        "--runc-binary",
        str(wrapper),
        "--rootfs",
        str(busybox_rootfs),
        cid,
        *command,
    ]
    try:
        with open(out, "w") as fh:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
    finally:
        subprocess.run(
            ["ctr", "-a", str(sock), "-n", namespace, "task", "kill", "-s", "KILL", cid],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            ["ctr", "-a", str(sock), "-n", namespace, "container", "rm", cid],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            ["ctr", "-a", str(sock), "namespace", "rm", namespace], capture_output=True, check=False
        )
        # The runc shim keeps runtime state in /run/containerd/runc/<namespace>.
        shutil.rmtree(f"/run/containerd/runc/{namespace}", ignore_errors=True)
    assert proc.returncode == code, out.read_text()
    assert out.read_text() == output
