"""Latency of the CRI pod and container lifecycle against a target (not a test).

Runs N pod + container lifecycles (RunPodSandbox, CreateContainer, StartContainer,
ContainerStatus, ExecSync, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox)
and prints p50/p90 per RPC and the ratio to ContainerStatus p50, so numbers from a noisy
shared host compare across runtimes. Without ``--endpoint`` it starts the suite's default
target (a private containerd) and a loopback registry; when the bundled reference CRI server
exists it will run beside it.

    PYTHONPATH=$PWD python bench/cri_lifecycle.py [--endpoint unix:///...] [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from conformance.cri import registry as registry_mod
from conformance.cri import target as target_mod
from conformance.cri.client import CriClient
from conformance.cri.helpers import Context, tracked
from wire.proto.cri import api_pb2 as pb


def _timed(samples: dict[str, list[float]], name: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    samples[name].append((time.perf_counter() - started) * 1000)
    return result


def run_once(ctx: Context, samples: dict[str, list[float]]) -> None:
    """One pod with one container through its whole life, each RPC timed."""
    rt = ctx.client.runtime
    with tracked(ctx) as t:
        config = t.pod_config("bench")
        req = pb.RunPodSandboxRequest(config=config, runtime_handler=ctx.runtime_handler)
        pod = _timed(samples, "RunPodSandbox", lambda: rt.RunPodSandbox(req, timeout=60))
        t.pods.append(pod.pod_sandbox_id)
        ctr = t.container_config()
        create = pb.CreateContainerRequest(
            pod_sandbox_id=pod.pod_sandbox_id, config=ctr, sandbox_config=config
        )
        cid = _timed(samples, "CreateContainer", lambda: rt.CreateContainer(create)).container_id
        t.containers.append(cid)
        _timed(
            samples,
            "StartContainer",
            lambda: rt.StartContainer(pb.StartContainerRequest(container_id=cid)),
        )
        _timed(
            samples,
            "ContainerStatus",
            lambda: rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)),
        )
        _timed(
            samples,
            "ExecSync",
            lambda: rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["true"], timeout=10)),
        )
        _timed(
            samples,
            "StopContainer",
            lambda: rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=2)),
        )
        _timed(
            samples,
            "RemoveContainer",
            lambda: rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid)),
        )
        pid = pod.pod_sandbox_id
        _timed(
            samples,
            "StopPodSandbox",
            lambda: rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=60),
        )
        _timed(
            samples,
            "RemovePodSandbox",
            lambda: rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=60),
        )


def report(name: str, samples: dict[str, list[float]]) -> None:
    """Print p50/p90 per RPC and the ratio to ContainerStatus p50."""
    base = statistics.median(samples["ContainerStatus"])
    print(f"\n{name}")
    print(f"{'RPC':<18} {'p50 ms':>8} {'p90 ms':>8} {'x status':>9}")
    for rpc, values in sorted(samples.items(), key=lambda kv: statistics.median(kv[1])):
        ordered = sorted(values)
        p50 = statistics.median(ordered)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        print(f"{rpc:<18} {p50:8.1f} {p90:8.1f} {p50 / base:9.1f}")


def main() -> None:
    """Parse arguments, run the lifecycles, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="CRI endpoint (default: start a private containerd)")
    parser.add_argument("-n", type=int, default=20, help="lifecycles to run")
    args = parser.parse_args()
    local = registry_mod.LocalRegistry()
    registry = registry_mod.Registry(local.start())
    target = None
    try:
        images = registry_mod.push_base_images(registry)
        if args.endpoint:
            target = target_mod.given_target(args.endpoint, None)
        else:
            target = target_mod.default_target(registry.host)
        client = CriClient(target.endpoint, target.image_endpoint)
        version = client.wait_ready()
        ctx = Context(client, images, registry)
        with tracked(ctx) as warm:
            warm.ensure_image("busybox")
        samples: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.n):
            run_once(ctx, samples)
        report(f"{version.runtime_name} {version.runtime_version} ({args.n} lifecycles)", samples)
        client.close()
    finally:
        if target is not None:
            target.stop()
        local.stop()


if __name__ == "__main__":
    main()
