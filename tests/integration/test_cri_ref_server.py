"""The reference CRI server end to end: part of the CRI suite against it, restart, cleanup.

The server runs as a subprocess (``python -m reference_impl.cri``) with its own root, state,
socket and a CNI network (reference bridge and host-local) on a private bridge and subnet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from conformance.core.host import is_root
from conformance.cri import registry as registry_mod
from wire.proto.cri import api_pb2 as pb
from wire.proto.cri import api_pb2_grpc as pb_grpc

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root (pods, netns, cgroups)")

ROOT = Path(__file__).resolve().parents[2]
NETNS = Path("/var/run/netns")


class Server:
    """One reference CRI server process on private directories."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = base / "cri.sock"
        self.endpoint = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        tag = os.getpid() % 200 + 20
        self.bridge = f"crr{os.getpid()}"[:15]
        conf = base / "cni"
        conf.mkdir(parents=True, exist_ok=True)
        plugin = {
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(base / "ipam"),
                "ranges": [[{"subnet": f"10.234.{tag}.0/24"}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        doc = {"cniVersion": "1.0.0", "name": f"cri-ref-{tag}", "plugins": [plugin]}
        (conf / "10-ref.conflist").write_text(json.dumps(doc))

    def start(self) -> None:
        """Start the server and wait until Version answers."""
        argv = [
            sys.executable, "-m", "reference_impl.cri", "--endpoint", self.endpoint,
            "--root", str(self.base / "root"), "--state", str(self.base / "state"),
            "--cni-conf-dir", str(self.base / "cni"),
        ]  # fmt: skip
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with grpc.insecure_channel(self.endpoint) as ch:
                    pb_grpc.RuntimeServiceStub(ch).Version(pb.VersionRequest(), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer: {(self.base / 'server.log').read_text()}")

    def stop(self) -> None:
        """SIGTERM the server (pods keep running: shims are detached)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None

    def remove_all(self) -> None:
        """Stop and remove every pod the server knows."""
        with grpc.insecure_channel(self.endpoint) as ch:
            rt = pb_grpc.RuntimeServiceStub(ch)
            for pod in rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items:
                rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)
                rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id), timeout=60)

    def leftovers(self) -> list[str]:
        """Processes, runtime containers, mounts, netns and bridges that outlived the pods."""
        left = []
        state = str(self.base / "state")
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "reference_impl.cri.shim" in cmd and state in cmd:
                left.append(f"shim {pid}")
        runc = subprocess.run(
            ["runc", "--root", f"{state}/runtime", "list", "-q"], capture_output=True, text=True
        )
        left += [f"runtime container {c}" for c in runc.stdout.split()]
        left += [
            f"mount {line.split()[4]}"
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(self.base) in line.split()[4]
        ]
        left += [f"pod record {p.name}" for p in (self.base / "state" / "sandboxes").glob("*")]
        left += [f"container dir {p.name}" for p in (self.base / "root" / "containers").glob("*")]
        return left

    def cleanup_network(self) -> None:
        """Delete the bridge the CNI plugin made (the suite's pods are gone by now)."""
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running reference CRI server, removed with everything it made."""
    srv = Server(tmp_path_factory.mktemp("cri-ref"))
    srv.start()
    try:
        yield srv
    finally:
        try:
            if srv.proc is None:
                srv.start()
            srv.remove_all()
        finally:
            srv.stop()
            srv.cleanup_network()


def _run_suite(srv: Server, report: Path, files: list[str], selection: str | None) -> dict:
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
    netns_before = {p.name for p in NETNS.glob("cri-*")} if NETNS.is_dir() else set()
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
    netns_after = {p.name for p in NETNS.glob("cri-*")} if NETNS.is_dir() else set()
    assert netns_after <= netns_before


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
        server.stop()
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
    pod_cgroups = Path("/sys/fs/cgroup").glob(f"*/reference-cri/pod{pod.pod_sandbox_id[:16]}")
    assert list(pod_cgroups) == []
