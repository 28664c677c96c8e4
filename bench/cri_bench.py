"""Benchmark: reference CRI server vs a private containerd, side by side in one run.

Measures RunPodSandbox, CreateContainer, StartContainer, StopContainer, RemoveContainer and
PullImage (p50/p90 over N rounds) against both, on the same registry and host, and prints the
ratios reference/containerd. Needs root. Usage:

    sudo PYTHONPATH=$PWD python bench/cri_bench.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.cri import registry as registry_mod  # noqa: E402
from conformance.cri import target as target_mod  # noqa: E402
from wire.proto.cri import api_pb2 as pb  # noqa: E402
from wire.proto.cri import api_pb2_grpc as pb_grpc  # noqa: E402

OPS = ("PullImage", "RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer",
       "RemoveContainer")  # fmt: skip


class Reference:
    """The reference server on private directories with a reference-bridge CNI network."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cri-ref-bench-", dir="/var/tmp"))
        self.endpoint = f"unix://{self.dir}/cri.sock"
        self.bridge = f"crb{os.getpid() % 100000}"
        (self.dir / "cni").mkdir()
        plugin = {
            "type": "bridge", "bridge": self.bridge, "isGateway": True,
            "ipam": {"type": "host-local", "dataDir": str(self.dir / "ipam"),
                     "ranges": [[{"subnet": f"10.235.{os.getpid() % 200 + 20}.0/24"}]]},
        }  # fmt: skip
        conf = {"cniVersion": "1.0.0", "name": "bench", "plugins": [plugin]}
        (self.dir / "cni" / "10-bench.conflist").write_text(json.dumps(conf))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait for Version."""
        argv = [sys.executable, "-m", "reference_impl.cri", "--endpoint", self.endpoint,
                "--root", str(self.dir / "root"), "--state", str(self.dir / "state"),
                "--cni-conf-dir", str(self.dir / "cni"), "--log-level", "WARNING"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(argv, env=env, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with grpc.insecure_channel(self.endpoint) as ch:
                    pb_grpc.RuntimeServiceStub(ch).Version(pb.VersionRequest(), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.1)
        raise RuntimeError("reference server did not start")

    def stop(self) -> None:
        """Stop the server, delete the bridge and the directory."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _timed(samples: dict[str, list[float]], name: str, call: Callable[..., Any], req: Any) -> Any:
    start = time.perf_counter()
    result = call(req, timeout=60)
    samples[name].append((time.perf_counter() - start) * 1000)
    return result


def _round(rt: Any, im: Any, spec: pb.ImageSpec, logs: Path, samples: dict) -> None:
    im.RemoveImage(pb.RemoveImageRequest(image=spec), timeout=60)
    _timed(samples, "PullImage", im.PullImage, pb.PullImageRequest(image=spec))
    meta = pb.PodSandboxMetadata(
        name=f"bench-{uuid.uuid4().hex[:8]}", uid=uuid.uuid4().hex, namespace="bench"
    )
    config = pb.PodSandboxConfig(metadata=meta, log_directory=str(logs))
    pod = _timed(
        samples, "RunPodSandbox", rt.RunPodSandbox, pb.RunPodSandboxRequest(config=config)
    ).pod_sandbox_id
    ctr_cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="c"),
        image=spec,
        command=["sleep", "3600"],
        log_path=f"{meta.name}.log",
    )
    create = pb.CreateContainerRequest(pod_sandbox_id=pod, config=ctr_cfg, sandbox_config=config)
    cid = _timed(samples, "CreateContainer", rt.CreateContainer, create).container_id
    _timed(samples, "StartContainer", rt.StartContainer, pb.StartContainerRequest(container_id=cid))
    stop = pb.StopContainerRequest(container_id=cid, timeout=0)
    _timed(samples, "StopContainer", rt.StopContainer, stop)
    remove = pb.RemoveContainerRequest(container_id=cid)
    _timed(samples, "RemoveContainer", rt.RemoveContainer, remove)
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def measure(endpoint: str, image: str, rounds: int) -> dict[str, list[float]]:
    """Run ``rounds`` pull + pod + container lifecycles; milliseconds per operation."""
    samples: dict[str, list[float]] = {op: [] for op in OPS}
    logs = Path(tempfile.mkdtemp(prefix="cri-bench-logs-"))
    try:
        with grpc.insecure_channel(endpoint) as ch:
            rt, im = pb_grpc.RuntimeServiceStub(ch), pb_grpc.ImageServiceStub(ch)
            for _ in range(rounds):
                _round(rt, im, pb.ImageSpec(image=image), logs, samples)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    return samples


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    """Run both targets and print p50/p90 and the ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    local = registry_mod.LocalRegistry()
    host = local.start()
    ref_server = Reference()
    ctd = target_mod.PrivateContainerd(host)
    try:
        images = registry_mod.push_base_images(registry_mod.Registry(host))
        image = registry_mod.Registry(host).ref(images["busybox"].repo)
        ref_server.start()
        ctd.start()
        results = {
            "reference": measure(ref_server.endpoint, image, args.rounds),
            "containerd": measure(ctd.endpoint, image, args.rounds),
        }
    finally:
        ref_server.stop()
        ctd.stop()
        local.stop()
    print(f"{'operation':<18}{'ref p50':>10}{'ref p90':>10}{'ctd p50':>10}{'ctd p90':>10}"
          f"{'p50 ratio':>11}")  # fmt: skip
    for op in OPS:
        ref, ctd_s = results["reference"][op], results["containerd"][op]
        r50, r90, c50, c90 = _pct(ref, 0.5), _pct(ref, 0.9), _pct(ctd_s, 0.5), _pct(ctd_s, 0.9)
        print(f"{op:<18}{r50:>10.1f}{r90:>10.1f}{c50:>10.1f}{c90:>10.1f}{r50 / c50:>10.2f}x")
    mean = statistics.mean(results["reference"]["RunPodSandbox"])
    print(f"(milliseconds, {args.rounds} rounds each; reference pod start mean {mean:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
