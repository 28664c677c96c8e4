"""Latency of the reference CSI driver under 8 concurrent clients.

Measures CreateVolume, DeleteVolume, NodePublishVolume and NodeUnpublishVolume (p50, p99)
against the bundled reference on a temporary UNIX socket. No real CSI driver is packaged in
Debian, so there is no peer to compare with (see docs/csi.md). Needs root (bind mounts).

Usage: ``python bench/csi_bench.py [--clients 8] [--iterations 40] [--access-type mount]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.csi.target import ReferenceDriver
from wire.proto.csi import csi_pb2, csi_pb2_grpc

Timings = dict[str, list[float]]


def capability(access_type: str) -> csi_pb2.VolumeCapability:
    """A SINGLE_NODE_WRITER capability of ``access_type``."""
    cap = csi_pb2.VolumeCapability(access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1))
    if access_type == "block":
        cap.block.SetInParent()
    else:
        cap.mount.SetInParent()
    return cap


def timed(timings: Timings, name: str, call, request):
    """Call and record the latency in milliseconds under ``name``."""
    start = time.perf_counter()
    reply = call(request, timeout=60)
    timings[name].append((time.perf_counter() - start) * 1000)
    return reply


def client(endpoint: str, workdir: Path, node_id: str, args: argparse.Namespace) -> Timings:
    """One client: create/delete loop, then publish/unpublish loop on one staged volume."""
    timings: Timings = defaultdict(list)
    channel = grpc.insecure_channel(endpoint)
    controller, node = csi_pb2_grpc.ControllerStub(channel), csi_pb2_grpc.NodeStub(channel)
    cap = capability(args.access_type)
    for _ in range(args.iterations):
        request = csi_pb2.CreateVolumeRequest(
            name=f"bench-{uuid.uuid4().hex}", volume_capabilities=[cap]
        )
        volume = timed(timings, "CreateVolume", controller.CreateVolume, request).volume
        timed(
            timings,
            "DeleteVolume",
            controller.DeleteVolume,
            csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id),
        )
    volume = controller.CreateVolume(
        csi_pb2.CreateVolumeRequest(name=f"bench-{uuid.uuid4().hex}", volume_capabilities=[cap])
    ).volume
    staging = workdir / f"stage-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=volume.volume_id, staging_target_path=str(staging), volume_capability=cap
        )
    )
    try:
        for _ in range(args.iterations):
            parent = workdir / f"pub-{uuid.uuid4().hex[:8]}"
            parent.mkdir()
            target = str(parent / "target")
            timed(
                timings,
                "NodePublishVolume",
                node.NodePublishVolume,
                csi_pb2.NodePublishVolumeRequest(
                    volume_id=volume.volume_id,
                    staging_target_path=str(staging),
                    target_path=target,
                    volume_capability=cap,
                ),
            )
            timed(
                timings,
                "NodeUnpublishVolume",
                node.NodeUnpublishVolume,
                csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume.volume_id, target_path=target),
            )
            parent.rmdir()
    finally:
        node.NodeUnstageVolume(
            csi_pb2.NodeUnstageVolumeRequest(
                volume_id=volume.volume_id, staging_target_path=str(staging)
            )
        )
        controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id))
        channel.close()
    return timings


def main() -> int:
    """Run the benchmark and print a table of p50 / p99 latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=40, help="per client and pair")
    parser.add_argument("--access-type", choices=["mount", "block"], default="mount")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("csi_bench: needs root for bind mounts and loop devices", file=sys.stderr)
        return 2
    driver = ReferenceDriver(max_volumes=0)
    driver.start()
    try:
        work = driver.workdir / "bench"
        work.mkdir()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            futures = [
                pool.submit(client, driver.endpoint, work, driver.node_id, args)
                for _ in range(args.clients)
            ]
            results = [f.result() for f in futures]
        elapsed = time.perf_counter() - started
    finally:
        driver.stop()
    merged: Timings = defaultdict(list)
    for timings in results:
        for name, values in timings.items():
            merged[name].extend(values)
    print(
        f"reference CSI driver, {args.clients} clients x {args.iterations} iterations, "
        f"{args.access_type} volumes, {elapsed:.1f} s wall, {os.cpu_count()} CPUs"
    )
    print(f"{'RPC':<22}{'calls':>7}{'p50 ms':>10}{'p99 ms':>10}")
    for name in ("CreateVolume", "DeleteVolume", "NodePublishVolume", "NodeUnpublishVolume"):
        values = merged[name]
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        print(f"{name:<22}{len(values):>7}{statistics.median(values):>10.2f}{cuts[98]:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
