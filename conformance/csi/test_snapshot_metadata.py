"""SnapshotMetadata service: allocated and changed blocks of block-volume snapshots.

Spec: spec.md "Snapshot Metadata Service RPC" (alpha in v1.12, tested when offered). Data is
written through a real block publish, so the ranges checked are ones the suite wrote.
"""

from __future__ import annotations

import os

import grpc
import pytest

from conformance.core import Violation, check, check_equal, not_applicable
from conformance.csi.client import expect_code
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNKNOWN_SNAPSHOT = "conformance-unknown-snapshot-0000"
MiB = 1024 * 1024


def require_metadata(csi) -> None:
    """Skip unless the plugin offers snapshot metadata and block snapshots."""
    csi.require(
        "CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", plugin=("SNAPSHOT_METADATA_SERVICE",)
    )


def write_at(csi, tracker, volume_id: str, offset: int, data: bytes) -> None:
    """Publish the block volume, write ``data`` at ``offset``, and unpublish again."""
    cap = csi.capability("block")
    target = tracker.make_available(volume_id, cap=cap)
    fd = os.open(target, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    tracker.release_node()


def block_volume(csi, tracker, size: int):
    """A new block volume of at least ``size`` bytes."""
    cap = csi.capability("block")
    try:
        return tracker.create_volume(caps=[cap], size=size)
    except Violation as err:
        if "INVALID_ARGUMENT" in str(err.got):
            not_applicable("the plugin does not offer block volumes")
        raise


def stream(call, request) -> list:
    """Every message of a server stream; a status error becomes a Violation."""
    try:
        return list(call(request))
    except grpc.RpcError as err:
        raise Violation(
            call.__name__, "a complete stream", f"{err.code().name}: {err.details()}"
        ) from None


def covered(messages, offset: int, length: int) -> bool:
    """True when the ranges in ``messages`` cover [offset, offset + length)."""
    ranges = [
        (m.byte_offset, m.byte_offset + m.size_bytes) for r in messages for m in r.block_metadata
    ]
    return any(start <= offset and offset + length <= end for start, end in ranges)


def check_well_formed(messages, where: str) -> None:
    """Ranges ascend without overlap; type and capacity stay constant over the stream."""
    check(messages, where, "at least one message", [])
    kinds = {m.block_metadata_type for m in messages}
    sizes = {m.volume_capacity_bytes for m in messages}
    check_equal(len(kinds), 1, f"{where}.block_metadata_type values")
    check_equal(len(sizes), 1, f"{where}.volume_capacity_bytes values")
    check(kinds != {0}, f"{where}.block_metadata_type", "FIXED_LENGTH or VARIABLE_LENGTH", 0)
    end = -1
    lengths = set()
    for message in messages:
        for block in message.block_metadata:
            check(
                block.byte_offset >= end,
                f"{where}.block_metadata",
                "ascending, non-overlapping ranges",
                block.byte_offset,
            )
            end = block.byte_offset + block.size_bytes
            lengths.add(block.size_bytes)
    if kinds == {csi_pb2.BlockMetadataType.FIXED_LENGTH}:
        check(
            len(lengths) <= 2,
            f"{where}.block_metadata.size_bytes",
            "one block size (the last block may be shorter)",
            sorted(lengths),
        )


@pytest.mark.requirement("GetMetadataAllocated-missing-id-invalid-argument")
def test_get_metadata_allocated_without_snapshot_id_is_invalid_argument(csi):
    """GetMetadataAllocated without a snapshot id fails with INVALID_ARGUMENT."""
    require_metadata(csi)
    request = csi_pb2.GetMetadataAllocatedRequest()

    expect_code(
        lambda r: list(csi.services.metadata.GetMetadataAllocated(r)),
        request,
        INVALID,
        "GetMetadataAllocated",
    )


@pytest.mark.requirement("GetMetadataAllocated-unknown-not-found")
def test_get_metadata_allocated_of_unknown_snapshot_is_not_found(csi):
    """GetMetadataAllocated of a snapshot that does not exist fails with NOT_FOUND."""
    require_metadata(csi)
    request = csi.with_secrets(csi_pb2.GetMetadataAllocatedRequest(snapshot_id=UNKNOWN_SNAPSHOT))

    expect_code(
        lambda r: list(csi.services.metadata.GetMetadataAllocated(r)),
        request,
        NOT_FOUND,
        "GetMetadataAllocated",
    )


@pytest.mark.requirement("GetMetadataAllocated-lists-written-data")
def test_get_metadata_allocated_covers_written_range(csi, tracker):
    """The allocated ranges of a snapshot are well formed and cover data written before it."""
    require_metadata(csi)
    volume = block_volume(csi, tracker, 8 * MiB)
    write_at(csi, tracker, volume.volume_id, 3 * MiB, b"\xa5" * 4096)
    snapshot = tracker.create_snapshot(volume.volume_id)

    messages = stream(
        csi.services.metadata.GetMetadataAllocated,
        csi.with_secrets(csi_pb2.GetMetadataAllocatedRequest(snapshot_id=snapshot.snapshot_id)),
    )

    check_well_formed(messages, "GetMetadataAllocatedResponse")
    check(
        covered(messages, 3 * MiB, 4096),
        "GetMetadataAllocatedResponse.block_metadata",
        f"a range covering the 4 KiB written at {3 * MiB}",
        "not covered",
    )


@pytest.mark.requirement("GetMetadataAllocated-offset-out-of-range")
def test_get_metadata_allocated_beyond_volume_is_out_of_range(csi, tracker):
    """A starting offset beyond the volume fails with OUT_OF_RANGE."""
    require_metadata(csi)
    volume = block_volume(csi, tracker, 8 * MiB)
    snapshot = tracker.create_snapshot(volume.volume_id)
    request = csi.with_secrets(
        csi_pb2.GetMetadataAllocatedRequest(
            snapshot_id=snapshot.snapshot_id, starting_offset=volume.capacity_bytes * 4 + 8 * MiB
        )
    )

    expect_code(
        lambda r: list(csi.services.metadata.GetMetadataAllocated(r)),
        request,
        grpc.StatusCode.OUT_OF_RANGE,
        "GetMetadataAllocated",
    )


@pytest.mark.requirement("GetMetadataDelta-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["base_snapshot_id", "target_snapshot_id"])
def test_get_metadata_delta_without_snapshot_id_is_invalid_argument(csi, missing):
    """GetMetadataDelta without a base or target snapshot id fails with INVALID_ARGUMENT."""
    require_metadata(csi)
    request = csi_pb2.GetMetadataDeltaRequest(base_snapshot_id="a", target_snapshot_id="b")
    setattr(request, missing, "")

    expect_code(
        lambda r: list(csi.services.metadata.GetMetadataDelta(r)),
        request,
        INVALID,
        "GetMetadataDelta",
    )


@pytest.mark.requirement("GetMetadataDelta-unknown-not-found")
def test_get_metadata_delta_of_unknown_snapshots_is_not_found(csi):
    """GetMetadataDelta naming snapshots that do not exist fails with NOT_FOUND."""
    require_metadata(csi)
    request = csi.with_secrets(
        csi_pb2.GetMetadataDeltaRequest(
            base_snapshot_id=UNKNOWN_SNAPSHOT, target_snapshot_id=UNKNOWN_SNAPSHOT + "1"
        )
    )

    expect_code(
        lambda r: list(csi.services.metadata.GetMetadataDelta(r)),
        request,
        NOT_FOUND,
        "GetMetadataDelta",
    )


@pytest.mark.requirement("GetMetadataDelta-lists-changes")
def test_get_metadata_delta_covers_range_changed_between_snapshots(csi, tracker):
    """The delta between two snapshots is well formed and covers what changed in between."""
    require_metadata(csi)
    volume = block_volume(csi, tracker, 8 * MiB)
    write_at(csi, tracker, volume.volume_id, 1 * MiB, b"\x11" * 4096)
    base = tracker.create_snapshot(volume.volume_id)
    write_at(csi, tracker, volume.volume_id, 5 * MiB, b"\x22" * 4096)
    target = tracker.create_snapshot(volume.volume_id)
    request = csi.with_secrets(
        csi_pb2.GetMetadataDeltaRequest(
            base_snapshot_id=base.snapshot_id, target_snapshot_id=target.snapshot_id
        )
    )

    try:
        messages = list(csi.services.metadata.GetMetadataDelta(request))
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.FAILED_PRECONDITION:
            not_applicable(f"changed block tracking is off: {err.details()}")
        raise Violation(
            "GetMetadataDelta", "a complete stream", f"{err.code().name}: {err.details()}"
        ) from None

    check_well_formed(messages, "GetMetadataDeltaResponse")
    check(
        covered(messages, 5 * MiB, 4096),
        "GetMetadataDeltaResponse.block_metadata",
        f"a range covering the 4 KiB changed at {5 * MiB}",
        "not covered",
    )
