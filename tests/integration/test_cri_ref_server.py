"""The reference CRI server end to end: part of the CRI suite against it, restart, cleanup.

The server runs as a subprocess (``python -m reference_impl.cri``, started by
``reference_impl.cri.launcher``) with its own root, state, socket and a CNI network
(reference bridge and host-local, Debian's portmap) on a private bridge and subnet.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from conformance.core.host import is_root
from conformance.cri import registry as registry_mod
from reference_impl.cri.launcher import ReferenceCri
from wire.proto.cri import api_pb2 as pb
from wire.proto.cri import api_pb2_grpc as pb_grpc

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root (pods, netns, cgroups)")

ROOT = Path(__file__).resolve().parents[2]
NETNS = Path("/var/run/netns")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceCri]:
    """A running reference CRI server, removed with everything it made."""
    tag = os.getpid() % 200 + 20
    srv = ReferenceCri(
        f"10.234.{tag}.0/24", f"crr{os.getpid()}"[:15], tmp_path_factory.mktemp("cri-ref")
    )
    srv.start()
    try:
        yield srv
    finally:
        if srv.proc is None:
            srv.start()
        srv.stop()


def _run_suite(srv: ReferenceCri, report: Path, files: list[str], selection: str | None) -> dict:
    argv = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
        "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        *[str(ROOT / "conformance" / "cri" / f) for f in files],
        "--cri-endpoint", srv.endpoint, "--level", "should", "--report-dir", str(report),
    ]  # fmt: skip
    if selection:
        argv += ["-k", selection]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=400)
    path = report / "cri" / "results.json"
    assert path.exists(), proc.stdout.decode(errors="replace")[-3000:]
    document = json.loads(path.read_text())
    return {t["nodeid"].rsplit("::", 1)[-1]: t["outcome"] for t in document["tests"]}


def test_suite_core_passes_against_reference(server, tmp_path):
    """Info, sandbox, container, exec, log and streaming tests of the CRI suite all pass."""
    files = [
        "test_info.py",
        "test_sandbox.py",
        "test_container.py",
        "test_exec_logs.py",
        "test_streaming.py",
    ]

    outcomes = _run_suite(server, tmp_path / "report", files, None)

    bad = {name: out for name, out in outcomes.items() if out not in ("passed", "skipped")}
    assert not bad, bad
    for name in (
        "test_version_names_runtime_and_api_v1",
        "test_status_reports_runtime_and_network_ready",
        "test_stop_container_kills_after_grace_period",
        "test_exec_sync_timeout_fails_and_kills_the_command",
        "test_reopen_container_log_starts_a_new_file",
        "test_port_forward_reaches_the_pod_port",
    ):
        assert outcomes.get(name) == "passed", (name, outcomes.get(name))
    assert server.leftovers() == []
    assert _netns_left(server) == []


def _netns_left(server: ReferenceCri) -> list[str]:
    """Pod namespaces this server created that still exist (its log names each one made).

    Other xdist workers run their own servers at the same time, so a before/after listing of
    /var/run/netns would see their pods too.
    """
    log_text = (server.base / "server.log").read_text(errors="replace")
    made = re.findall(r"creating netns (\S+)", log_text)
    assert made, "the server log names no pod namespace: is the log line gone?"
    return [name for name in made if (NETNS / name).exists()]


def _pod_config(base: Path) -> pb.PodSandboxConfig:
    logs = base / f"logs-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    meta = pb.PodSandboxMetadata(name=f"restart-{uuid.uuid4().hex[:8]}", uid="u1", namespace="t")
    return pb.PodSandboxConfig(metadata=meta, log_directory=str(logs))


def test_pods_and_containers_survive_a_server_restart(server, tmp_path):
    """After a restart the pod and its running container are listed, exec works, and
    removing them leaves nothing behind."""
    registry = registry_mod.LocalRegistry()
    host = registry.start()
    try:
        images = registry_mod.push_base_images(registry_mod.Registry(host))
        ref = registry_mod.Registry(host).ref(images["busybox"].repo)
        with grpc.insecure_channel(server.endpoint) as ch:
            rt, im = pb_grpc.RuntimeServiceStub(ch), pb_grpc.ImageServiceStub(ch)
            im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=60)
            config = _pod_config(server.base)
            pod = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config), timeout=60)
            ctr_config = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="c"),
                image=pb.ImageSpec(image=ref),
                command=["sleep", "3600"],
                log_path="c.log",
            )
            ctr = rt.CreateContainer(
                pb.CreateContainerRequest(
                    pod_sandbox_id=pod.pod_sandbox_id, config=ctr_config, sandbox_config=config
                ),
                timeout=60,
            )
            rt.StartContainer(pb.StartContainerRequest(container_id=ctr.container_id))
        server.halt()
        server.start()
        with grpc.insecure_channel(server.endpoint) as ch:
            rt = pb_grpc.RuntimeServiceStub(ch)
            status = rt.PodSandboxStatus(
                pb.PodSandboxStatusRequest(pod_sandbox_id=pod.pod_sandbox_id)
            ).status
            cstatus = rt.ContainerStatus(
                pb.ContainerStatusRequest(container_id=ctr.container_id)
            ).status
            echo = rt.ExecSync(
                pb.ExecSyncRequest(container_id=ctr.container_id, cmd=["echo", "hi"]), timeout=30
            )
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.pod_sandbox_id))
    finally:
        registry.stop()

    assert status.state == pb.SANDBOX_READY
    assert cstatus.state == pb.CONTAINER_RUNNING
    assert (echo.exit_code, echo.stdout) == (0, b"hi\n")
    assert server.leftovers() == []
    assert not (NETNS / f"cri-{pod.pod_sandbox_id[:16]}").exists()
    pod_cgroups = Path("/sys/fs/cgroup").glob(f"*/reference-cri-*/pod{pod.pod_sandbox_id[:16]}")
    assert list(pod_cgroups) == []
