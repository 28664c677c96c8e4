"""The GroupController service (spec.md "Group Controller Service RPC")."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp

from reference_impl.csi import validate
from reference_impl.csi.controller import ControllerService
from reference_impl.csi.driver import Driver
from reference_impl.csi.errors import already_exists, invalid, not_found, rpc
from reference_impl.csi.state import new_id
from wire.proto.csi import csi_pb2, csi_pb2_grpc

_RPC = csi_pb2.GroupControllerServiceCapability.RPC


class GroupControllerService(csi_pb2_grpc.GroupControllerServicer):
    """Snapshots of several volumes taken together, kept as one group."""

    def __init__(self, driver: Driver, controller: ControllerService) -> None:
        self.driver = driver
        self.store = driver.store
        self.controller = controller

    def _message(self, group: dict) -> csi_pb2.VolumeGroupSnapshot:
        created = Timestamp()
        created.FromNanoseconds(int(group["created"] * 1e9))
        snaps = [self.driver.snapshot_message(self.store.snapshots[s]) for s in group["snapshots"]]
        return csi_pb2.VolumeGroupSnapshot(
            group_snapshot_id=group["id"], snapshots=snaps, creation_time=created, ready_to_use=True
        )

    def _group(self, group_id: str) -> dict:
        group = self.store.groups.get(group_id) if validate.valid_id(group_id, "group") else None
        if group is None:
            raise not_found(f"group_snapshot_id: group snapshot {group_id!r} does not exist")
        return group

    @staticmethod
    def _check_members(group: dict, snapshot_ids: list[str]) -> None:
        if snapshot_ids and sorted(snapshot_ids) != sorted(group["snapshots"]):
            raise invalid(f"snapshot_ids: do not match the members of group snapshot {group['id']}")

    @rpc
    def GroupControllerGetCapabilities(self, request, context):  # noqa: N802
        cap = csi_pb2.GroupControllerServiceCapability(
            rpc=_RPC(type=_RPC.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT)
        )
        return csi_pb2.GroupControllerGetCapabilitiesResponse(capabilities=[cap])

    @rpc
    def CreateVolumeGroupSnapshot(self, request, context):  # noqa: N802
        sources = sorted(set(request.source_volume_ids))
        with self.driver.locks.hold("groupname:" + request.name):
            existing = self.store.find_by("groups", "name", request.name)
            if existing is not None:
                if existing["sources"] != sources:
                    raise already_exists(
                        f"name: group snapshot {request.name!r} exists for other volumes"
                    )
                return csi_pb2.CreateVolumeGroupSnapshotResponse(
                    group_snapshot=self._message(existing)
                )
            volumes = [self.driver.volume(v, "source_volume_ids") for v in sources]
            group = {
                "id": new_id("group"),
                "name": request.name,
                "sources": sources,
                "created": time.time(),
                "snapshots": [],
            }
            try:
                for volume in volumes:
                    name = f"{request.name}-{volume['id']}"
                    snap = self.controller.cut_snapshot(volume, name, group["id"])
                    group["snapshots"].append(snap["id"])
            except Exception:
                # Leave no member snapshots behind when the group fails.
                for snap_id in group["snapshots"]:
                    self.controller.remove_snapshot(self.store.snapshots[snap_id])
                raise
            with self.store.mutex:
                self.store.groups[group["id"]] = group
                self.store.save()
        return csi_pb2.CreateVolumeGroupSnapshotResponse(group_snapshot=self._message(group))

    @rpc
    def DeleteVolumeGroupSnapshot(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.group_snapshot_id):
            group = self.store.groups.get(request.group_snapshot_id)
            if group is None:
                return csi_pb2.DeleteVolumeGroupSnapshotResponse()
            self._check_members(group, list(request.snapshot_ids))
            for snap_id in group["snapshots"]:
                if snap_id in self.store.snapshots:
                    self.controller.remove_snapshot(self.store.snapshots[snap_id])
            with self.store.mutex:
                del self.store.groups[group["id"]]
                self.store.save()
        return csi_pb2.DeleteVolumeGroupSnapshotResponse()

    @rpc
    def GetVolumeGroupSnapshot(self, request, context):  # noqa: N802
        group = self._group(request.group_snapshot_id)
        self._check_members(group, list(request.snapshot_ids))
        return csi_pb2.GetVolumeGroupSnapshotResponse(group_snapshot=self._message(group))
