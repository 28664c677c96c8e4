"""The Controller service (spec.md "Controller Service RPC").

Slow work on one volume runs under that volume's (or name's) lock from
:class:`~reference_impl.csi.state.KeyedLocks`; the store's mutex only guards the maps and the
state file, so calls on different volumes run in parallel.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
from google.protobuf.wrappers_pb2 import Int64Value

from reference_impl.csi.driver import DEFAULT_SIZE, Driver
from reference_impl.csi.errors import (
    CsiError,
    already_exists,
    invalid,
    not_found,
    precondition,
    rpc,
)
from reference_impl.csi.state import new_id
from wire.proto.csi import csi_pb2, csi_pb2_grpc

log = logging.getLogger(__name__)

_RPC = csi_pb2.ControllerServiceCapability.RPC
_Mode = csi_pb2.VolumeCapability.AccessMode
CONTROLLER_CAPABILITIES = tuple(t for t in _RPC.Type.values() if t != _RPC.UNKNOWN)
READ_ONLY_MODES = (_Mode.SINGLE_NODE_READER_ONLY, _Mode.MULTI_NODE_READER_ONLY)


def out_of_range(message: str) -> CsiError:
    """OUT_OF_RANGE: a capacity the driver cannot provide."""
    return CsiError(grpc.StatusCode.OUT_OF_RANGE, message)


def exhausted(message: str) -> CsiError:
    """RESOURCE_EXHAUSTED: no room left (capacity, attach slots, topology)."""
    return CsiError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def wants_block(caps: Any, field: str) -> bool:
    """True for block capabilities; mixing block and mount in one request is refused."""
    kinds = {cap.WhichOneof("access_type") for cap in caps}
    if len(kinds) > 1:
        raise invalid(f"{field}: block and mount access types cannot be mixed")
    return kinds == {"block"}


class ControllerService(csi_pb2_grpc.ControllerServicer):
    """Volumes, snapshots, publication bookkeeping, capacity, expansion and modification."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.store = driver.store

    # -- CreateVolume ----------------------------------------------------------------------

    @rpc
    def CreateVolume(self, request, context):  # noqa: N802
        block = wants_block(request.volume_capabilities, "volume_capabilities")
        size = self._requested_size(request.capacity_range)
        self._check_mutable(request.mutable_parameters)
        self._check_topology(request)
        # The source's lock keeps it from being deleted while its data is copied.
        with self.driver.locks.hold("name:" + request.name, *self._source_key(request)):
            source, source_path, size = self._content_source(request, block, size)
            existing = None
            if not self.driver.fault("duplicate-names"):
                existing = self.store.find_by("volumes", "name", request.name)
            if existing is not None:
                self._check_same_volume(existing, request, block, source)
                return csi_pb2.CreateVolumeResponse(volume=self.driver.volume_message(existing))
            record = self._reserve(request, block, size, source)
            try:
                self.driver.make_volume_data(record, source_path)
            except Exception:
                with self.store.mutex:
                    del self.store.volumes[record["id"]]
                    self.store.save()
                raise
            log.info("created volume %s (%s) of %d bytes", record["id"], record["name"], size)
            return csi_pb2.CreateVolumeResponse(volume=self.driver.volume_message(record))

    def _requested_size(self, capacity: csi_pb2.CapacityRange) -> int:
        required, limit = capacity.required_bytes, capacity.limit_bytes
        if required < 0 or limit < 0:
            raise invalid("capacity_range: byte counts must not be negative")
        if limit and required > limit:
            raise out_of_range(f"capacity_range: required_bytes {required} > limit {limit}")
        size = required or DEFAULT_SIZE
        if limit and size > limit:
            size = limit
        if size > self.driver.config.max_volume_size:
            raise out_of_range(
                f"capacity_range: {size} bytes exceeds the maximum volume size "
                f"{self.driver.config.max_volume_size}"
            )
        return size

    def _check_mutable(self, params: Any) -> None:
        unknown = sorted(set(params) - self.driver.config.mutable_keys)
        if unknown:
            raise invalid(f"mutable_parameters: unsupported key(s): {', '.join(unknown)}")

    def _check_topology(self, request: Any) -> None:
        requisite = request.accessibility_requirements.requisite
        if requisite and not any(self.driver.topology_matches(t) for t in requisite):
            raise exhausted("accessibility_requirements: no requisite topology is this node's")

    @staticmethod
    def _source_key(request: Any) -> tuple[str, ...]:
        src = request.volume_content_source
        object_id = src.snapshot.snapshot_id or src.volume.volume_id
        return (object_id,) if object_id else ()

    def _content_source(self, request: Any, block: bool, size: int) -> tuple[Any, Any, int]:
        if not request.HasField("volume_content_source"):
            return None, None, size
        src = request.volume_content_source
        kind = src.WhichOneof("type")
        if kind == "snapshot":
            field = "volume_content_source.snapshot.snapshot_id"
            record = self.driver.snapshot(src.snapshot.snapshot_id, field)
            path, source = self.driver.snapshot_data(record), {"snapshot": record["id"]}
            source_size = int(record["size"])
        elif kind == "volume":
            field = "volume_content_source.volume.volume_id"
            record = self.driver.volume(src.volume.volume_id, field)
            path, source = self.driver.volume_data(record), {"volume": record["id"]}
            source_size = int(record["capacity"])
        else:
            raise invalid("volume_content_source: neither snapshot nor volume given")
        if record["block"] != block:
            raise invalid(f"{field}: source access type differs from the requested one")
        limit = request.capacity_range.limit_bytes
        if limit and source_size > limit:
            raise out_of_range(f"capacity_range: source of {source_size} bytes exceeds limit")
        return source, path, max(size, source_size)

    def _check_same_volume(self, existing: dict, request: Any, block: bool, source: Any) -> None:
        required = request.capacity_range.required_bytes
        limit = request.capacity_range.limit_bytes
        capacity = int(existing["capacity"])
        fits = capacity >= required and (not limit or capacity <= limit)
        same = (
            fits
            and existing["block"] == block
            and existing.get("source") == source
            and existing["parameters"] == dict(request.parameters)
        )
        if not same:
            raise already_exists(
                f"name: volume {request.name!r} exists with different arguments "
                f"(id {existing['id']}, {capacity} bytes)"
            )

    def _reserve(self, request: Any, block: bool, size: int, source: Any) -> dict:
        with self.store.mutex:
            free = self.driver.config.capacity - self.driver.used_bytes()
            if size > free:
                raise exhausted(f"capacity_range: {size} bytes requested, {free} available")
            record = {
                "id": new_id("vol"),
                "name": request.name,
                "capacity": size,
                "block": block,
                "parameters": dict(request.parameters),
                "mutable_parameters": dict(request.mutable_parameters),
                "source": source,
                "created": time.time(),
                "nodes": {},
                "staged": {},
                "published": {},
                "loop": "",
            }
            self.store.volumes[record["id"]] = record
            self.store.save()
            return record

    # -- DeleteVolume ----------------------------------------------------------------------

    @rpc
    def DeleteVolume(self, request, context):  # noqa: N802
        volume_id = request.volume_id
        with self.driver.locks.hold(volume_id):
            record = self.store.volumes.get(volume_id)
            if record is None:
                # An unknown id is a volume already deleted (spec.md "DeleteVolume").
                return csi_pb2.DeleteVolumeResponse()
            if record["nodes"] or record["staged"] or record["published"]:
                raise precondition(f"volume_id: volume {volume_id} is still in use")
            self.driver.remove_volume_data(record)
            with self.store.mutex:
                del self.store.volumes[volume_id]
                self.store.save()
        log.info("deleted volume %s", volume_id)
        return csi_pb2.DeleteVolumeResponse()

    # -- publication -----------------------------------------------------------------------

    @rpc
    def ControllerPublishVolume(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.volume_id):
            record = self.driver.volume(request.volume_id)
            if request.node_id != self.driver.config.node_id:
                raise not_found(f"node_id: node {request.node_id!r} does not exist")
            if wants_block([request.volume_capability], "volume_capability") != record["block"]:
                raise invalid("volume_capability: access type differs from the volume's")
            known = record["nodes"].get(request.node_id)
            if known is not None:
                if known["readonly"] != request.readonly:
                    raise already_exists(
                        f"readonly: volume {record['id']} is published to "
                        f"{request.node_id} with readonly={known['readonly']}"
                    )
                return csi_pb2.ControllerPublishVolumeResponse()
            self._check_attach_limit(request.node_id)
            with self.store.mutex:
                record["nodes"][request.node_id] = {"readonly": request.readonly}
                self.store.save()
        return csi_pb2.ControllerPublishVolumeResponse(publish_context={})

    def _check_attach_limit(self, node_id: str) -> None:
        limit = self.driver.config.max_volumes
        attached = sum(1 for v in self.store.volumes.values() if node_id in v["nodes"])
        if limit and attached >= limit:
            raise exhausted(f"node_id: node {node_id} already has {attached} volumes attached")

    @rpc
    def ControllerUnpublishVolume(self, request, context):  # noqa: N802
        record = self.store.volumes.get(request.volume_id)
        if record is None:
            # Nothing can be attached for an unknown volume, so it is unpublished.
            return csi_pb2.ControllerUnpublishVolumeResponse()
        with self.driver.locks.hold(record["id"]), self.store.mutex:
            if request.node_id:
                record["nodes"].pop(request.node_id, None)
            else:
                record["nodes"].clear()
            self.store.save()
        return csi_pb2.ControllerUnpublishVolumeResponse()

    # -- queries ---------------------------------------------------------------------------

    @rpc
    def ValidateVolumeCapabilities(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        caps = request.volume_capabilities
        if any((c.WhichOneof("access_type") == "block") != record["block"] for c in caps):
            return csi_pb2.ValidateVolumeCapabilitiesResponse(
                message="volume_capabilities: access type differs from the volume's"
            )
        if request.parameters and dict(request.parameters) != record["parameters"]:
            return csi_pb2.ValidateVolumeCapabilitiesResponse(
                message="parameters: differ from those the volume was created with"
            )
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=request.volume_context,
            volume_capabilities=caps,
            parameters=request.parameters,
            mutable_parameters=request.mutable_parameters,
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    @rpc
    def ListVolumes(self, request, context):  # noqa: N802
        with self.store.mutex:
            ids, token = self.driver.page(
                list(self.store.volumes), request.max_entries, request.starting_token
            )
            entries = [self._entry(self.store.volumes[i]) for i in ids]
        return csi_pb2.ListVolumesResponse(entries=entries, next_token=token)

    def _entry(self, record: dict) -> csi_pb2.ListVolumesResponse.Entry:
        status = csi_pb2.ListVolumesResponse.VolumeStatus(
            published_node_ids=sorted(record["nodes"]),
            volume_condition=self.driver.condition(record),
        )
        return csi_pb2.ListVolumesResponse.Entry(
            volume=self.driver.volume_message(record), status=status
        )

    @rpc
    def ControllerGetVolume(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        status = csi_pb2.ControllerGetVolumeResponse.VolumeStatus(
            published_node_ids=sorted(record["nodes"]),
            volume_condition=self.driver.condition(record),
        )
        return csi_pb2.ControllerGetVolumeResponse(
            volume=self.driver.volume_message(record), status=status
        )

    @rpc
    def GetCapacity(self, request, context):  # noqa: N802
        if request.HasField("accessible_topology") and not self.driver.topology_matches(
            request.accessible_topology
        ):
            return csi_pb2.GetCapacityResponse(available_capacity=0)
        with self.store.mutex:
            free = max(0, self.driver.config.capacity - self.driver.used_bytes())
        largest = min(free, self.driver.config.max_volume_size)
        return csi_pb2.GetCapacityResponse(
            available_capacity=free, maximum_volume_size=Int64Value(value=largest)
        )

    @rpc
    def ControllerGetCapabilities(self, request, context):  # noqa: N802
        caps = [
            csi_pb2.ControllerServiceCapability(rpc=_RPC(type=t)) for t in CONTROLLER_CAPABILITIES
        ]
        return csi_pb2.ControllerGetCapabilitiesResponse(capabilities=caps)

    # -- snapshots -------------------------------------------------------------------------

    @rpc
    def CreateSnapshot(self, request, context):  # noqa: N802
        with self.driver.locks.hold("snapname:" + request.name):
            existing = self.store.find_by("snapshots", "name", request.name)
            if existing is not None:
                if existing["source_volume_id"] != request.source_volume_id:
                    raise already_exists(
                        f"name: snapshot {request.name!r} exists for volume "
                        f"{existing['source_volume_id']}"
                    )
                return csi_pb2.CreateSnapshotResponse(
                    snapshot=self.driver.snapshot_message(existing)
                )
            volume = self.driver.volume(request.source_volume_id, "source_volume_id")
            record = self.cut_snapshot(volume, request.name, "")
        return csi_pb2.CreateSnapshotResponse(snapshot=self.driver.snapshot_message(record))

    def cut_snapshot(self, volume: dict, name: str, group_id: str) -> dict:
        """Snapshot ``volume`` into a new record (used by group snapshots too)."""
        record = {
            "id": new_id("snap"),
            "name": name,
            "source_volume_id": volume["id"],
            "block": volume["block"],
            "created": time.time(),
            "group_id": group_id,
            "size": 0,
        }
        with self.driver.locks.hold(volume["id"]):
            # The volume may have been deleted since it was looked up.
            self.driver.volume(volume["id"], "source_volume_id")
            record["size"] = self.driver.make_snapshot_data(record, volume)
        with self.store.mutex:
            self.store.snapshots[record["id"]] = record
            self.store.save()
        log.info("created snapshot %s of %s", record["id"], volume["id"])
        return record

    @rpc
    def DeleteSnapshot(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.snapshot_id):
            record = self.store.snapshots.get(request.snapshot_id)
            if record is None:
                return csi_pb2.DeleteSnapshotResponse()
            if record.get("group_id"):
                raise invalid(
                    f"snapshot_id: snapshot {record['id']} belongs to group snapshot "
                    f"{record['group_id']}; delete the group instead"
                )
            self.remove_snapshot(record)
        return csi_pb2.DeleteSnapshotResponse()

    def remove_snapshot(self, record: dict) -> None:
        """Delete a snapshot's data and record."""
        path = self.driver.snapshot_data(record)
        path.unlink(missing_ok=True)
        with self.store.mutex:
            self.store.snapshots.pop(record["id"], None)
            self.store.save()

    @rpc
    def ListSnapshots(self, request, context):  # noqa: N802
        with self.store.mutex:
            records = list(self.store.snapshots.values())
        if request.snapshot_id:
            records = [r for r in records if r["id"] == request.snapshot_id]
        if request.source_volume_id:
            records = [r for r in records if r["source_volume_id"] == request.source_volume_id]
        by_id = {r["id"]: r for r in records}
        ids, token = self.driver.page(list(by_id), request.max_entries, request.starting_token)
        entries = [
            csi_pb2.ListSnapshotsResponse.Entry(snapshot=self.driver.snapshot_message(by_id[i]))
            for i in ids
        ]
        return csi_pb2.ListSnapshotsResponse(entries=entries, next_token=token)

    @rpc
    def GetSnapshot(self, request, context):  # noqa: N802
        record = self.driver.snapshot(request.snapshot_id)
        return csi_pb2.GetSnapshotResponse(snapshot=self.driver.snapshot_message(record))

    # -- expansion and modification ------------------------------------------------------

    @rpc
    def ControllerExpandVolume(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        required = request.capacity_range.required_bytes
        limit = request.capacity_range.limit_bytes
        if required <= 0:
            raise invalid("capacity_range.required_bytes: must be positive")
        if (limit and required > limit) or required > self.driver.config.max_volume_size:
            raise out_of_range(f"capacity_range: cannot grow to {required} bytes")
        with self.driver.locks.hold(record["id"]):
            if required > int(record["capacity"]):
                self._grow(record, required)
        return csi_pb2.ControllerExpandVolumeResponse(
            capacity_bytes=int(record["capacity"]), node_expansion_required=record["block"]
        )

    def _grow(self, record: dict, size: int) -> None:
        with self.store.mutex:
            free = self.driver.config.capacity - self.driver.used_bytes()
            if size - int(record["capacity"]) > free:
                raise exhausted(f"capacity_range: only {free} bytes left to grow into")
            if record["block"]:
                with open(self.driver.volume_data(record), "r+b") as handle:
                    handle.truncate(size)
            record["capacity"] = size
            self.store.save()

    @rpc
    def ControllerModifyVolume(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        self._check_mutable(request.mutable_parameters)
        with self.driver.locks.hold(record["id"]), self.store.mutex:
            record["mutable_parameters"].update(request.mutable_parameters)
            self.store.save()
        return csi_pb2.ControllerModifyVolumeResponse()


__all__ = ["CONTROLLER_CAPABILITIES", "READ_ONLY_MODES", "ControllerService"]
