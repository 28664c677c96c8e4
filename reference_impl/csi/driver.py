"""Shared driver context: configuration, state, locks, data layout and record conversion."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reference_impl.csi import validate
from reference_impl.csi.errors import CsiError, invalid, not_found
from reference_impl.csi.state import KeyedLocks, Store
from wire.proto.csi import csi_pb2

log = logging.getLogger(__name__)

NAME = "reference.csi.conformance.test"
VERSION = "0.1.0"
TOPOLOGY_KEY = "topology.reference.csi/node"
MiB = 1024 * 1024
GiB = 1024 * MiB
DEFAULT_SIZE = 16 * MiB
FAULTS_ENV = "CSI_REFERENCE_FAULTS"
FAULTS = frozenset(
    {
        "skip-validation",
        "missing-is-ok",
        "duplicate-names",
        "accept-any-token",
        "hide-snapshot-metadata",
    }
)
"""Deliberate misbehaviour for showing that the suite's negative tests can fail."""


@dataclass
class Config:
    """How the driver was started.

    Attributes:
        endpoint: ``unix:///path`` to listen on.
        state_dir: where volumes, snapshots and ``state.json`` live.
        node_id: this node's id, also its topology segment value.
        max_volumes: volumes attachable to this node; 0 means no limit.
        capacity: bytes all volumes may take together.
        max_volume_size: the largest single volume in bytes.
        mutable_keys: ``mutable_parameters`` keys CreateVolume and ModifyVolume accept.
        faults: deliberate misbehaviours (see :data:`FAULTS`), for testing the suite only.
    """

    endpoint: str
    state_dir: Path
    node_id: str
    max_volumes: int = 0
    capacity: int = 64 * GiB
    max_volume_size: int = 16 * GiB
    mutable_keys: frozenset[str] = frozenset({"iops", "throughput"})
    faults: frozenset[str] = field(default_factory=frozenset)


class Driver:
    """State and helpers the Identity, Controller, Node and GroupController services share."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = config.state_dir
        for sub in ("volumes", "snapshots"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.store = Store(self.root)
        self.locks = KeyedLocks()

    # -- faults and validation ---------------------------------------------------------

    def fault(self, name: str) -> bool:
        """True when the deliberate misbehaviour ``name`` is switched on."""
        return name in self.config.faults

    def check(self, request: Any) -> None:
        """Validate ``request`` (unless validation is deliberately switched off)."""
        if not self.fault("skip-validation"):
            validate.check_request(request)

    # -- topology ------------------------------------------------------------------------

    def topology(self) -> csi_pb2.Topology:
        """The one topology segment of this node."""
        return csi_pb2.Topology(segments={TOPOLOGY_KEY: self.config.node_id})

    def topology_matches(self, topology: csi_pb2.Topology) -> bool:
        """True when ``topology`` names no segment that differs from this node's."""
        ours = dict(self.topology().segments)
        return all(ours.get(k) == v for k, v in topology.segments.items())

    # -- data layout ---------------------------------------------------------------------

    def volume_data(self, record: dict[str, Any]) -> Path:
        """The directory (mount volume) or image file (block volume) behind ``record``."""
        suffix = ".img" if record["block"] else ""
        return self.root / "volumes" / (record["id"] + suffix)

    def snapshot_data(self, record: dict[str, Any]) -> Path:
        """The archive (mount) or image copy (block) of a snapshot."""
        suffix = ".img" if record["block"] else ".tar"
        return self.root / "snapshots" / (record["id"] + suffix)

    def inside_state(self, path: str) -> bool:
        """True when ``path`` lies in the driver's own state directory."""
        root = str(self.root.resolve())
        real = os.path.realpath(path)
        return real == root or real.startswith(root + os.sep)

    def make_volume_data(self, record: dict[str, Any], source: Path | None) -> None:
        """Create the backing store of a new volume, filled from ``source`` when given."""
        target = self.volume_data(record)
        if record["block"]:
            if source is not None:
                _copy_sparse(source, target)
            with open(target, "ab") as handle:
                handle.truncate(record["capacity"])
        elif source is None:
            target.mkdir()
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            target.mkdir()
            with tarfile.open(source) as archive:
                archive.extractall(target, filter="data")

    def remove_volume_data(self, record: dict[str, Any]) -> None:
        """Delete a volume's backing store."""
        path = self.volume_data(record)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def make_snapshot_data(self, snapshot: dict[str, Any], volume: dict[str, Any]) -> int:
        """Cut a snapshot of ``volume``; returns its size in bytes."""
        source = self.volume_data(volume)
        target = self.snapshot_data(snapshot)
        if volume["block"]:
            _copy_sparse(source, target)
        else:
            with tarfile.open(target, "w") as archive:
                archive.add(source, arcname=".")
        return int(volume["capacity"])

    # -- lookups -------------------------------------------------------------------------

    def volume(self, volume_id: str, field_name: str = "volume_id") -> dict[str, Any]:
        """The record of ``volume_id``, else NOT_FOUND naming the field."""
        record = None
        if validate.valid_id(volume_id, "vol"):
            record = self.store.volumes.get(volume_id)
        if record is None:
            raise not_found(f"{field_name}: volume {volume_id!r} does not exist")
        return record

    def snapshot(self, snapshot_id: str, field_name: str = "snapshot_id") -> dict[str, Any]:
        """The record of ``snapshot_id``, else NOT_FOUND naming the field."""
        record = None
        if validate.valid_id(snapshot_id, "snap"):
            record = self.store.snapshots.get(snapshot_id)
        if record is None:
            raise not_found(f"{field_name}: snapshot {snapshot_id!r} does not exist")
        return record

    def used_bytes(self) -> int:
        """Bytes allocated to volumes."""
        return sum(int(v["capacity"]) for v in self.store.volumes.values())

    def condition(self, record: dict[str, Any]) -> csi_pb2.VolumeCondition:
        """Abnormal when the backing store has gone missing."""
        if self.volume_data(record).exists():
            return csi_pb2.VolumeCondition(abnormal=False, message="volume is healthy")
        return csi_pb2.VolumeCondition(abnormal=True, message="backing store is missing")

    # -- conversions ---------------------------------------------------------------------

    def volume_message(self, record: dict[str, Any]) -> csi_pb2.Volume:
        """The ``Volume`` message of a record."""
        volume = csi_pb2.Volume(
            capacity_bytes=int(record["capacity"]),
            volume_id=record["id"],
            accessible_topology=[self.topology()],
        )
        source = record.get("source") or {}
        if "snapshot" in source:
            volume.content_source.snapshot.snapshot_id = source["snapshot"]
        elif "volume" in source:
            volume.content_source.volume.volume_id = source["volume"]
        return volume

    def snapshot_message(self, record: dict[str, Any]) -> csi_pb2.Snapshot:
        """The ``Snapshot`` message of a record."""
        created = Timestamp()
        created.FromNanoseconds(int(record["created"] * 1e9))
        return csi_pb2.Snapshot(
            size_bytes=int(record["size"]),
            snapshot_id=record["id"],
            source_volume_id=record["source_volume_id"],
            creation_time=created,
            ready_to_use=True,
            group_snapshot_id=record.get("group_id", ""),
        )

    # -- paging --------------------------------------------------------------------------

    def page(self, ids: list[str], max_entries: int, token: str) -> tuple[list[str], str]:
        """One page of sorted ``ids`` after ``token``; the token names the last id served.

        Tokens stay valid when the object they name is deleted in between, because a page
        starts at the first id sorting after it (spec.md "ListVolumes").
        """
        if max_entries < 0:
            raise invalid("max_entries: must not be negative")
        ids = sorted(ids)
        if token:
            after = self._decode_token(token)
            ids = [i for i in ids if i > after]
        if max_entries == 0 or len(ids) <= max_entries:
            return ids, ""
        chosen = ids[:max_entries]
        return chosen, base64.urlsafe_b64encode(chosen[-1].encode()).decode()

    def _decode_token(self, token: str) -> str:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            after = ""
        if not validate.ID_PATTERN.match(after):
            if self.fault("accept-any-token"):
                return ""
            raise CsiError(grpc.StatusCode.ABORTED, f"starting_token: {token!r} is not valid")
        return after


def _copy_sparse(source: Path, target: Path) -> None:
    """Copy a file keeping its holes (cp does this better than shutil)."""
    log.debug("exec cp --sparse=always %s %s", source, target)
    subprocess.run(["cp", "--sparse=always", str(source), str(target)], check=True)
