"""Fixtures of the CSI suite: the target (or the bundled reference) and a resource tracker."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from conformance.core import EnvironmentProblem, current_evidence, skip_host
from conformance.csi.client import ok
from conformance.csi.target import (
    CsiTarget,
    ReferenceDriver,
    mounts_under,
    open_target,
    unique_name,
)
from wire.proto.csi import csi_pb2

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def csi(conformance: Any) -> Iterator[CsiTarget]:
    """The plugin under test; the bundled reference driver when no endpoint is given."""
    reference, target = None, None
    if not conformance.option("--csi-endpoint"):
        if os.geteuid() != 0:
            skip_host("the reference CSI driver needs root for bind mounts and loop devices")
        reference = ReferenceDriver()
        reference.start()
    try:
        target = open_target(conformance.option, reference)
        conformance.record_target(
            "csi",
            kind="grpc",
            address=target.endpoint,
            name=target.plugin_info.name,
            version=target.plugin_info.vendor_version,
            controller_endpoint=target.controller_endpoint,
            plugin_capabilities=sorted(target.plugin_caps),
            controller_capabilities=sorted(target.controller_caps),
            node_capabilities=sorted(target.node_caps),
            node_id=target.node_id,
            access_type=target.access_type,
            bundled_reference=reference is not None,
        )
        yield target
    finally:
        if reference is not None:
            reference.stop()
        elif target is not None and target.owned_dir is not None:
            _remove_owned(target.owned_dir)


def _remove_owned(directory: Path) -> None:
    """Remove the suite's temporary path directory unless the plugin left a mount in it."""
    left = mounts_under(directory)
    if left:
        raise EnvironmentProblem(f"the plugin left mounts under {directory}: {left}")
    shutil.rmtree(directory, ignore_errors=True)


class Tracker:
    """Everything a test made on the plugin, undone in reverse order afterwards.

    Cleanup follows the order a CO uses (NodeUnpublish, NodeUnstage, ControllerUnpublish,
    group snapshots, snapshots, volumes) and accepts NOT_FOUND, so a test that already
    removed something does not trip it. Cleanup problems are recorded as evidence and never
    replace the test's own outcome.
    """

    def __init__(self, target: CsiTarget) -> None:
        self.csi = target
        self.volumes: list[str] = []
        self.snapshots: list[str] = []
        self.groups: list[tuple[str, list[str]]] = []
        self.attached: list[tuple[str, str]] = []
        self.staged: list[tuple[str, str]] = []
        self.published: list[tuple[str, str]] = []
        self.paths: list[Path] = []

    # -- making things ---------------------------------------------------------------------

    def volume_request(self, name: str | None = None, **kw: Any) -> csi_pb2.CreateVolumeRequest:
        """A CreateVolumeRequest with the configured size, capability, parameters, secrets."""
        size = kw.pop("size", self.csi.volume_size)
        caps = kw.pop("caps", None) or [self.csi.capability(kw.pop("access_type", None))]
        request = csi_pb2.CreateVolumeRequest(
            name=name or unique_name(),
            volume_capabilities=caps,
            parameters=self.csi.params.volume,
            **kw,
        )
        if size:
            request.capacity_range.required_bytes = size
        return self.csi.with_secrets(request)

    def create_volume(self, name: str | None = None, **kw: Any) -> csi_pb2.Volume:
        """Create a volume (failure is a violation) and track it."""
        request = self.volume_request(name, **kw)
        volume = ok(self.csi.services.controller.CreateVolume, request).volume
        self.track_volume(volume.volume_id)
        return volume

    def track_volume(self, volume_id: str) -> None:
        """Remember a volume made outside :meth:`create_volume`."""
        if volume_id and volume_id not in self.volumes:
            self.volumes.append(volume_id)

    def track_snapshot(self, snapshot_id: str) -> None:
        """Remember a snapshot made outside :meth:`create_snapshot`."""
        if snapshot_id and snapshot_id not in self.snapshots:
            self.snapshots.append(snapshot_id)

    def create_snapshot(self, volume_id: str, name: str | None = None) -> csi_pb2.Snapshot:
        """Snapshot a volume (failure is a violation) and track the snapshot."""
        request = self.csi.with_secrets(
            csi_pb2.CreateSnapshotRequest(
                source_volume_id=volume_id,
                name=name or unique_name("csi-snap"),
                parameters=self.csi.params.snapshot,
            )
        )
        snapshot = ok(self.csi.services.controller.CreateSnapshot, request).snapshot
        self.track_snapshot(snapshot.snapshot_id)
        return snapshot

    def attach(self, volume_id: str, readonly: bool = False, cap: Any = None) -> None:
        """ControllerPublishVolume to the node under test, when the plugin needs it."""
        if "PUBLISH_UNPUBLISH_VOLUME" not in self.csi.controller_caps:
            return
        request = self.csi.with_secrets(
            csi_pb2.ControllerPublishVolumeRequest(
                volume_id=volume_id,
                node_id=self.csi.node_id,
                volume_capability=cap or self.csi.capability(),
                readonly=readonly,
            )
        )
        ok(self.csi.services.controller.ControllerPublishVolume, request)
        self.attached.append((volume_id, self.csi.node_id))

    def stage(self, volume_id: str, cap: Any = None, path: str | None = None) -> str:
        """NodeStageVolume at a fresh staging path (empty string when the node never stages)."""
        if not self.csi.stages:
            return ""
        path = path or self.csi.staging_path()
        self.paths.append(Path(path))
        request = self.csi.with_secrets(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=volume_id,
                staging_target_path=path,
                volume_capability=cap or self.csi.capability(),
            )
        )
        ok(self.csi.services.node.NodeStageVolume, request)
        self.staged.append((volume_id, path))
        return path

    def publish_request(
        self, volume_id: str, staging: str, target: str | None = None, **kw: Any
    ) -> csi_pb2.NodePublishVolumeRequest:
        """A NodePublishVolumeRequest for a fresh target path (tracked for cleanup)."""
        if target is None:
            target = self.csi.target_path()
            self.paths.append(Path(target).parent)
        request = csi_pb2.NodePublishVolumeRequest(
            volume_id=volume_id,
            staging_target_path=staging,
            target_path=target,
            volume_capability=kw.pop("cap", None) or self.csi.capability(),
            **kw,
        )
        self.published.append((volume_id, target))
        return self.csi.with_secrets(request)

    def publish(self, volume_id: str, staging: str, **kw: Any) -> str:
        """NodePublishVolume at a fresh target path; returns the target path."""
        request = self.publish_request(volume_id, staging, **kw)
        ok(self.csi.services.node.NodePublishVolume, request)
        return request.target_path

    def make_available(self, volume_id: str, readonly: bool = False, cap: Any = None) -> str:
        """Attach, stage and publish a volume the way a CO does; returns the target path."""
        self.attach(volume_id, readonly=readonly, cap=cap)
        staging = self.stage(volume_id, cap=cap)
        return self.publish(volume_id, staging, readonly=readonly, cap=cap)

    # -- undoing things --------------------------------------------------------------------

    def release_node(self) -> None:
        """Unpublish, unstage and detach everything (volumes and snapshots stay)."""
        services = self.csi.services
        for volume_id, target in reversed(self.published):
            self._undo(
                services.node.NodeUnpublishVolume,
                csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=target),
            )
        for volume_id, path in reversed(self.staged):
            self._undo(
                services.node.NodeUnstageVolume,
                csi_pb2.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=path),
            )
        for volume_id, node_id in reversed(self.attached):
            self._undo(
                services.controller.ControllerUnpublishVolume,
                self.csi.with_secrets(
                    csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=node_id)
                ),
            )
        self.published, self.staged, self.attached = [], [], []

    def cleanup(self) -> None:
        """Undo everything, newest first, tolerating NOT_FOUND."""
        services = self.csi.services
        self.release_node()
        for group_id, members in reversed(self.groups):
            self._undo(
                services.group.DeleteVolumeGroupSnapshot,
                self.csi.with_secrets(
                    csi_pb2.DeleteVolumeGroupSnapshotRequest(
                        group_snapshot_id=group_id, snapshot_ids=members
                    )
                ),
            )
        for snapshot_id in reversed(self.snapshots):
            self._undo(
                services.controller.DeleteSnapshot,
                self.csi.with_secrets(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot_id)),
            )
        for volume_id in reversed(self.volumes):
            self._undo(
                services.controller.DeleteVolume,
                self.csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=volume_id)),
            )
        self._remove_paths()

    def _undo(self, call: Any, request: Any) -> None:
        try:
            call(request)
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED):
                return
            message = f"cleanup {call.__name__} failed: {err.code().name}: {err.details()}"
            log.warning("%s", message)
            current_evidence().note(message)

    def _remove_paths(self) -> None:
        for path in reversed(self.paths):
            if not path.exists():
                continue
            if mounts_under(path):
                current_evidence().note(f"cleanup: {path} is still mounted; left in place")
                continue
            with contextlib.suppress(OSError):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


@pytest.fixture
def tracker(csi: CsiTarget) -> Iterator[Tracker]:
    """A per-test tracker that removes whatever the test made, also when it fails."""
    made = Tracker(csi)
    try:
        yield made
    finally:
        made.cleanup()
