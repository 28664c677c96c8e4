"""Request validation: required fields, size limits, id and path hygiene.

Every RPC's required fields are listed once in :data:`REQUIRED` (spec.md, each RPC's field
comments); :func:`check_request` runs before any handler, so a missing field always answers
INVALID_ARGUMENT naming the field (spec.md "Error Scheme").
"""

from __future__ import annotations

import os
import re
from typing import Any

from reference_impl.csi.errors import invalid
from wire.proto.csi import csi_pb2

MAX_STRING = 128
"""Bytes in any string field unless the field says otherwise (spec.md "Size Limits")."""
MAX_NODE_ID = 256
MAX_MAP = 4096

ID_PATTERN = re.compile(r"^(vol|snap|group)-[0-9a-f]{32}$")
"""Ids this driver hands out; anything else cannot name one of its objects."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "CreateVolumeRequest": ("name", "volume_capabilities"),
    "DeleteVolumeRequest": ("volume_id",),
    "ControllerPublishVolumeRequest": ("volume_id", "node_id", "volume_capability"),
    "ControllerUnpublishVolumeRequest": ("volume_id",),
    "ValidateVolumeCapabilitiesRequest": ("volume_id", "volume_capabilities"),
    "ControllerGetVolumeRequest": ("volume_id",),
    "ControllerModifyVolumeRequest": ("volume_id", "mutable_parameters"),
    "CreateSnapshotRequest": ("source_volume_id", "name"),
    "DeleteSnapshotRequest": ("snapshot_id",),
    "GetSnapshotRequest": ("snapshot_id",),
    "ControllerExpandVolumeRequest": ("volume_id", "capacity_range"),
    "NodeStageVolumeRequest": ("volume_id", "staging_target_path", "volume_capability"),
    "NodeUnstageVolumeRequest": ("volume_id", "staging_target_path"),
    "NodePublishVolumeRequest": ("volume_id", "target_path", "volume_capability"),
    "NodeUnpublishVolumeRequest": ("volume_id", "target_path"),
    "NodeGetVolumeStatsRequest": ("volume_id", "volume_path"),
    "NodeExpandVolumeRequest": ("volume_id", "volume_path"),
    "CreateVolumeGroupSnapshotRequest": ("name", "source_volume_ids"),
    "DeleteVolumeGroupSnapshotRequest": ("group_snapshot_id", "snapshot_ids"),
    "GetVolumeGroupSnapshotRequest": ("group_snapshot_id",),
    "GetMetadataAllocatedRequest": ("snapshot_id",),
    "GetMetadataDeltaRequest": ("base_snapshot_id", "target_snapshot_id"),
}

PATH_FIELDS = ("staging_target_path", "target_path", "volume_path")


def _present(request: Any, field: str) -> bool:
    descriptor = request.DESCRIPTOR.fields_by_name[field]
    if descriptor.message_type is not None and not _is_repeated(descriptor):
        return request.HasField(field)
    return bool(getattr(request, field))


def _is_repeated(descriptor: Any) -> bool:
    # protobuf >= 5 exposes is_repeated; older ones only the label
    flag = getattr(descriptor, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return descriptor.label == descriptor.LABEL_REPEATED


def check_request(request: Any) -> None:
    """Raise INVALID_ARGUMENT when ``request`` lacks a required field or breaks a size limit."""
    name = type(request).__name__
    missing = [f for f in REQUIRED.get(name, ()) if not _present(request, f)]
    if missing:
        raise invalid(f"{name}: missing required field(s): {', '.join(missing)}")
    _check_sizes(request, name)
    for field in ("volume_capability", "volume_capabilities"):
        if field in request.DESCRIPTOR.fields_by_name:
            value = getattr(request, field)
            caps = value if _is_repeated(request.DESCRIPTOR.fields_by_name[field]) else [value]
            if field == "volume_capability" and not request.HasField(field):
                caps = []
            for index, cap in enumerate(caps):
                check_capability(cap, f"{field}[{index}]" if len(caps) > 1 else field)
    for field in PATH_FIELDS:
        if field in request.DESCRIPTOR.fields_by_name and getattr(request, field):
            check_path(getattr(request, field), field)


def _check_sizes(request: Any, name: str) -> None:
    for descriptor in request.DESCRIPTOR.fields:
        value = getattr(request, descriptor.name)
        if isinstance(value, str):
            limit = MAX_NODE_ID if descriptor.name == "node_id" else MAX_STRING
            if descriptor.name in PATH_FIELDS:
                limit = 4096
            if len(value.encode()) > limit:
                raise invalid(f"{name}.{descriptor.name}: longer than {limit} bytes")
        elif descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry:
            size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
            if size > MAX_MAP:
                raise invalid(f"{name}.{descriptor.name}: larger than {MAX_MAP} bytes")


def check_capability(cap: csi_pb2.VolumeCapability, field: str) -> None:
    """A capability needs an access type and a known access mode."""
    if cap.WhichOneof("access_type") is None:
        raise invalid(f"{field}: access_type (block or mount) is required")
    if not cap.HasField("access_mode") or cap.access_mode.mode == 0:
        raise invalid(f"{field}: access_mode.mode is required")
    if cap.access_mode.mode not in csi_pb2.VolumeCapability.AccessMode.Mode.values():
        raise invalid(f"{field}: unknown access mode {cap.access_mode.mode}")


def check_path(path: str, field: str) -> None:
    """Paths must be absolute and normalised: no ``..``, no ``.``, no doubled slashes."""
    if not os.path.isabs(path):
        raise invalid(f"{field}: {path!r} is not an absolute path")
    if os.path.normpath(path) != path.rstrip("/") or "\0" in path:
        raise invalid(f"{field}: {path!r} is not a normalised path")


def valid_id(object_id: str, kind: str) -> bool:
    """True when ``object_id`` has the shape of an id this driver issues for ``kind``."""
    match = ID_PATTERN.match(object_id)
    return bool(match) and match.group(1) == kind
