"""The reference CSI driver as a process: persistence, bad input, path hygiene, endpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from conformance.csi.target import mounts_under
from wire.proto.csi import csi_pb2, csi_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


class Driver:
    """The reference driver started over one state directory, restartable."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.socket = base / "csi.sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> None:
        argv = [
            sys.executable,
            "-m",
            "reference_impl.csi",
            "--endpoint",
            f"unix://{self.socket}",
            "--state-dir",
            str(self.base / "state"),
            "--node-id",
            "node-a",
        ]
        environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.process = subprocess.Popen(argv, env=environ, stderr=subprocess.PIPE)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.controller = csi_pb2_grpc.ControllerStub(self.channel)
        self.node = csi_pb2_grpc.NodeStub(self.channel)

    def stop(self) -> None:
        if self.process is not None:
            self.channel.close()
            self.process.terminate()
            self.process.communicate(timeout=30)
            self.process = None


@pytest.fixture
def driver(tmp_path):
    made = Driver(tmp_path)
    made.start()
    yield made
    made.stop()
    assert not mounts_under(tmp_path), "mounts left under the test directory"


def cap() -> csi_pb2.VolumeCapability:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1),
    )


def create(driver: Driver, name: str) -> csi_pb2.Volume:
    request = csi_pb2.CreateVolumeRequest(name=name, volume_capabilities=[cap()])
    return driver.controller.CreateVolume(request).volume


def listed(driver: Driver) -> set[str]:
    reply = driver.controller.ListVolumes(csi_pb2.ListVolumesRequest())
    return {e.volume.volume_id for e in reply.entries}


def test_restart_keeps_every_volume_and_snapshot(driver):
    """Volumes and snapshots survive a restart of the driver on the same state directory."""
    volumes = {create(driver, f"keep-{i}").volume_id for i in range(3)}
    snap = driver.controller.CreateSnapshot(
        csi_pb2.CreateSnapshotRequest(name="s", source_volume_id=min(volumes))
    ).snapshot

    driver.stop()
    driver.start()

    assert listed(driver) == volumes
    assert create(driver, "keep-0").volume_id in volumes, "names still map to their volumes"
    got = driver.controller.GetSnapshot(csi_pb2.GetSnapshotRequest(snapshot_id=snap.snapshot_id))
    assert got.snapshot.source_volume_id == min(volumes)


def test_bad_requests_lose_nothing(driver):
    """Invalid and conflicting requests are refused and leave stored volumes intact."""
    volume = create(driver, "precious")
    bad = [
        csi_pb2.CreateVolumeRequest(
            name="precious",
            volume_capabilities=[cap()],
            capacity_range=csi_pb2.CapacityRange(required_bytes=1 << 40),
        ),
        csi_pb2.CreateVolumeRequest(name="x" * 200, volume_capabilities=[cap()]),
        csi_pb2.CreateVolumeRequest(name="y"),
    ]
    for request in bad:
        with pytest.raises(grpc.RpcError) as info:
            driver.controller.CreateVolume(request)
        assert info.value.code() != grpc.StatusCode.INTERNAL, info.value.details()
    driver.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id="vol-../../state.json"))

    assert listed(driver) == {volume.volume_id}
    assert (driver.base / "state" / "volumes" / volume.volume_id).is_dir()


@needs_root
def test_target_inside_state_directory_is_refused(driver):
    """A target path inside the driver's own state cannot be published to."""
    volume = create(driver, "v")
    staging = driver.base / "staging"
    staging.mkdir()
    driver.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=volume.volume_id, staging_target_path=str(staging), volume_capability=cap()
        )
    )
    request = csi_pb2.NodePublishVolumeRequest(
        volume_id=volume.volume_id,
        staging_target_path=str(staging),
        volume_capability=cap(),
        target_path=str(driver.base / "state" / "volumes" / "evil"),
    )

    with pytest.raises(grpc.RpcError) as info:
        driver.node.NodePublishVolume(request)

    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "target_path" in info.value.details()
    driver.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(
            volume_id=volume.volume_id, staging_target_path=str(staging)
        )
    )


def test_tcp_endpoint_is_refused(tmp_path):
    """The driver refuses to listen anywhere but on a UNIX socket."""
    argv = [
        sys.executable,
        "-m",
        "reference_impl.csi",
        "--endpoint",
        "tcp://127.0.0.1:0",
        "--state-dir",
        str(tmp_path),
        "--node-id",
        "n",
    ]

    proc = subprocess.run(
        argv,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    assert "unix://" in proc.stderr


def test_unknown_fault_name_is_refused(tmp_path):
    """A typo in the debug fault switch stops the driver instead of testing nothing."""
    argv = [
        sys.executable,
        "-m",
        "reference_impl.csi",
        "--endpoint",
        f"unix://{tmp_path}/s.sock",
        "--state-dir",
        str(tmp_path),
        "--node-id",
        "n",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CSI_REFERENCE_FAULTS": "no-such-fault"}

    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    assert proc.returncode != 0
    assert "no-such-fault" in proc.stderr


@needs_root
def test_publish_onto_non_empty_directory_is_refused(driver):
    """The driver never mounts over a directory that already holds files."""
    volume = create(driver, "v")
    staging = driver.base / "staging"
    staging.mkdir()
    occupied = driver.base / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    driver.node.NodeStageVolume(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=volume.volume_id, staging_target_path=str(staging), volume_capability=cap()
        )
    )
    request = csi_pb2.NodePublishVolumeRequest(
        volume_id=volume.volume_id,
        staging_target_path=str(staging),
        volume_capability=cap(),
        target_path=str(occupied),
    )

    with pytest.raises(grpc.RpcError) as info:
        driver.node.NodePublishVolume(request)

    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (occupied / "keep.txt").read_text() == "mine"
    driver.node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(
            volume_id=volume.volume_id, staging_target_path=str(staging)
        )
    )
