"""The SnapshotMetadata service (spec.md "Snapshot Metadata Service RPC", alpha).

Only block-volume snapshots carry block metadata. Allocated ranges come from the sparse
snapshot image itself (``SEEK_DATA``/``SEEK_HOLE``, extent-based); deltas compare two
snapshots of one volume in fixed 64 KiB blocks.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import grpc

from reference_impl.csi.driver import Driver
from reference_impl.csi.errors import CsiError, invalid, stream_rpc
from wire.proto.csi import csi_pb2, csi_pb2_grpc

BLOCK = 64 * 1024
"""Block size of delta metadata (FIXED_LENGTH)."""
DEFAULT_RESULTS = 256


def out_of_range(message: str) -> CsiError:
    """OUT_OF_RANGE: the starting offset lies beyond the volume."""
    return CsiError(grpc.StatusCode.OUT_OF_RANGE, message)


def allocated_extents(path: str, start: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of the data extents of a sparse file from ``start`` on."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        offset = start
        while offset < size:
            try:
                data = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as err:
                if err.errno == errno.ENXIO:  # no data after offset
                    return
                raise
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            yield data, hole - data
            offset = hole
    finally:
        os.close(fd)


def changed_blocks(base: str, target: str, start: int) -> Iterator[tuple[int, int]]:
    """(offset, BLOCK) of every block that differs between two images, from ``start`` on."""
    size = os.path.getsize(target)
    with open(base, "rb") as old, open(target, "rb") as new:
        offset = start - start % BLOCK
        old.seek(offset)
        new.seek(offset)
        while offset < size:
            if old.read(BLOCK) != new.read(BLOCK):
                yield offset, min(BLOCK, size - offset)
            offset += BLOCK


class SnapshotMetadataService(csi_pb2_grpc.SnapshotMetadataServicer):
    """Allocated and changed block ranges of block-volume snapshots."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def _block_snapshot(self, snapshot_id: str, field: str) -> dict:
        record = self.driver.snapshot(snapshot_id, field)
        if not record["block"]:
            raise invalid(f"{field}: snapshot {snapshot_id} is not of a block volume")
        return record

    def _check_offset(self, offset: int, size: int) -> None:
        if offset < 0:
            raise invalid("starting_offset: must not be negative")
        if offset >= size:
            raise out_of_range(f"starting_offset: {offset} is beyond the volume's {size} bytes")

    @stream_rpc
    def GetMetadataAllocated(self, request, context):  # noqa: N802
        record = self._block_snapshot(request.snapshot_id, "snapshot_id")
        path = str(self.driver.snapshot_data(record))
        size = os.path.getsize(path)
        self._check_offset(request.starting_offset, size)
        kind = csi_pb2.BlockMetadataType.VARIABLE_LENGTH
        extents = allocated_extents(path, request.starting_offset)
        for chunk in _chunks(extents, request.max_results or DEFAULT_RESULTS):
            yield csi_pb2.GetMetadataAllocatedResponse(
                block_metadata_type=kind, volume_capacity_bytes=size, block_metadata=chunk
            )

    @stream_rpc
    def GetMetadataDelta(self, request, context):  # noqa: N802
        base = self._block_snapshot(request.base_snapshot_id, "base_snapshot_id")
        target = self._block_snapshot(request.target_snapshot_id, "target_snapshot_id")
        if base["source_volume_id"] != target["source_volume_id"]:
            raise invalid("target_snapshot_id: snapshots are of different volumes")
        target_path = str(self.driver.snapshot_data(target))
        size = os.path.getsize(target_path)
        self._check_offset(request.starting_offset, size)
        kind = csi_pb2.BlockMetadataType.FIXED_LENGTH
        blocks = changed_blocks(
            str(self.driver.snapshot_data(base)), target_path, request.starting_offset
        )
        for chunk in _chunks(blocks, request.max_results or DEFAULT_RESULTS):
            yield csi_pb2.GetMetadataDeltaResponse(
                block_metadata_type=kind, volume_capacity_bytes=size, block_metadata=chunk
            )


def _chunks(ranges: Iterator[tuple[int, int]], size: int) -> Iterator[list[csi_pb2.BlockMetadata]]:
    chunk: list[csi_pb2.BlockMetadata] = []
    for offset, length in ranges:
        chunk.append(csi_pb2.BlockMetadata(byte_offset=offset, size_bytes=length))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
