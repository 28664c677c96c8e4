"""Docker Engine pushes to and pulls from the reference registry (docker SDK, private dockerd).

The fixture starts Debian's dockerd on a private unix socket with its own data, exec and pid
paths, no iptables and no bridge, trusting the registry's loopback address as insecure; it is
stopped and its directories removed at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.distribution.target import ReferenceRegistry

pytestmark = [
    pytest.mark.peer,
    pytest.mark.slow,
]
docker = pytest.importorskip("docker")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceRegistry]:
    """The reference registry on a free loopback port."""
    reg = ReferenceRegistry(tmp_path_factory.mktemp("docker-registry-ref")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def engine(registry: ReferenceRegistry) -> Iterator[docker.DockerClient]:
    """A private dockerd that trusts the reference registry over plain HTTP."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed")
    # Short paths: unix socket paths are limited to 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="dkd-", dir="/tmp"))
    sock = root / "d.sock"
    argv = [
        "dockerd",
        f"--host=unix://{sock}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'x'}",
        f"--pidfile={root / 'd.pid'}",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        f"--insecure-registry=127.0.0.1:{registry.port}",
    ]
    with open(root / "dockerd.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    # A fixed API version: "auto" would query the daemon before it listens.
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=120)
    try:
        _wait_for_socket(proc, sock, root / "dockerd.log")
        client.ping()
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        subprocess.run(["umount", "-R", str(root / "data")], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_socket(proc: subprocess.Popen[bytes], sock: Path, log: Path) -> None:
    # Probe with our own socket: docker-py leaks the socket of a refused connection.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"dockerd exited: {log.read_text()[-1500:]}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(sock))
                return
            except OSError:
                pass
        time.sleep(0.2)
    pytest.fail(f"dockerd did not listen on {sock} within 60 s")


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        payload = b"conformance harness docker round trip\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(payload), 1_700_000_000
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _progress(output: str) -> None:
    # Non-streamed calls: docker-py's streamed generators leave their unix socket to the
    # garbage collector (a ResourceWarning, an error under this project's warning filter).
    for line in output.splitlines():
        if line.strip():
            assert "errorDetail" not in json.loads(line), line


def test_docker_push_remove_pull_keeps_image_id(
    engine: docker.DockerClient, registry: ReferenceRegistry
) -> None:
    """An imported image pushed by Docker and pulled back has the same id and digest."""
    repo = f"127.0.0.1:{registry.port}/docker/roundtrip"
    engine.api.import_image_from_data(_rootfs_tar(), repository=repo, tag="v1")
    image = engine.images.get(f"{repo}:v1")
    try:
        _progress(engine.api.push(repo, tag="v1"))
        tag_digest = requests.head(
            f"{registry.url}/v2/docker/roundtrip/manifests/v1",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        ).headers["Docker-Content-Digest"]
        engine.images.remove(image.id, force=True)
        _progress(engine.api.pull(repo, tag="v1"))
        pulled = engine.images.get(f"{repo}:v1")
        assert pulled.id == image.id
        assert f"{repo}@{tag_digest}" in pulled.attrs["RepoDigests"]
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.images.remove(f"{repo}:v1", force=True)
