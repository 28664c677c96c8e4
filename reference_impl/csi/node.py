"""The Node service (spec.md "Node Service RPC"): real bind mounts and loop devices.

Mount volumes: staging bind-mounts the volume directory onto ``staging_target_path``;
publishing bind-mounts the staging path onto ``target_path`` (read-only when asked).
Block volumes: staging attaches the image file to a loop device; publishing bind-mounts the
device node onto a file at ``target_path``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from reference_impl.csi import host
from reference_impl.csi.controller import READ_ONLY_MODES
from reference_impl.csi.driver import Driver
from reference_impl.csi.errors import already_exists, invalid, not_found, precondition, rpc
from wire.proto.csi import csi_pb2, csi_pb2_grpc

log = logging.getLogger(__name__)

_RPC = csi_pb2.NodeServiceCapability.RPC
_Mode = csi_pb2.VolumeCapability.AccessMode
NODE_CAPABILITIES = (
    _RPC.STAGE_UNSTAGE_VOLUME,
    _RPC.GET_VOLUME_STATS,
    _RPC.EXPAND_VOLUME,
    _RPC.VOLUME_CONDITION,
    _RPC.SINGLE_NODE_MULTI_WRITER,
)


def _mode(cap: csi_pb2.VolumeCapability) -> int:
    return int(cap.access_mode.mode)


class NodeService(csi_pb2_grpc.NodeServicer):
    """Stages, publishes, measures and grows volumes on this node."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.store = driver.store

    def _own_path(self, path: str, field: str) -> None:
        if self.driver.inside_state(path):
            raise invalid(f"{field}: {path!r} lies inside the driver's state directory")

    @staticmethod
    def _fresh_target(path: str, field: str) -> None:
        """Refuse to mount over a directory that already holds something (not ours)."""
        if os.path.isdir(path) and not os.path.ismount(path) and os.listdir(path):
            raise invalid(f"{field}: {path!r} exists and is not empty")

    def _check_type(self, record: dict, cap: csi_pb2.VolumeCapability) -> None:
        if (cap.WhichOneof("access_type") == "block") != record["block"]:
            kind = "block" if record["block"] else "mount"
            raise precondition(f"volume_capability: the volume is a {kind} volume")

    # -- staging ---------------------------------------------------------------------------

    @rpc
    def NodeStageVolume(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.volume_id):
            record = self.driver.volume(request.volume_id)
            path = request.staging_target_path
            self._own_path(path, "staging_target_path")
            self._check_type(record, request.volume_capability)
            wanted = {"mode": _mode(request.volume_capability)}
            if path in record["staged"]:
                if record["staged"][path] != wanted:
                    raise already_exists(
                        f"staging_target_path: volume staged at {path} with other capability"
                    )
                return csi_pb2.NodeStageVolumeResponse()
            if record["staged"]:
                other = next(iter(record["staged"]))
                raise precondition(f"staging_target_path: volume already staged at {other}")
            self._fresh_target(path, "staging_target_path")
            self._stage(record, path)
            with self.store.mutex:
                record["staged"][path] = wanted
                self.store.save()
            return csi_pb2.NodeStageVolumeResponse()

    def _stage(self, record: dict, path: str) -> None:
        if record["block"]:
            record["loop"] = host.loop_attach(self.driver.volume_data(record))
            return
        Path(path).mkdir(parents=True, exist_ok=True)
        host.bind_mount(str(self.driver.volume_data(record)), path, readonly=False)

    @rpc
    def NodeUnstageVolume(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.volume_id):
            record = self.driver.volume(request.volume_id)
            path = request.staging_target_path
            if path not in record["staged"]:
                return csi_pb2.NodeUnstageVolumeResponse()
            if record["published"]:
                raise precondition(
                    f"staging_target_path: volume still published at {sorted(record['published'])}"
                )
            if record["block"]:
                if record["loop"]:
                    host.loop_detach(record["loop"])
                record["loop"] = ""
            else:
                host.unmount(path)
            with self.store.mutex:
                del record["staged"][path]
                self.store.save()
            return csi_pb2.NodeUnstageVolumeResponse()

    # -- publishing ------------------------------------------------------------------------

    @rpc
    def NodePublishVolume(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.volume_id):
            record = self.driver.volume(request.volume_id)
            target, staging = request.target_path, request.staging_target_path
            self._own_path(target, "target_path")
            if not staging:
                raise precondition(
                    "staging_target_path: required because the volume must be staged"
                )
            if staging not in record["staged"]:
                raise precondition(f"staging_target_path: volume is not staged at {staging}")
            self._check_type(record, request.volume_capability)
            mode = _mode(request.volume_capability)
            readonly = request.readonly or mode in READ_ONLY_MODES
            wanted = {"readonly": readonly, "mode": mode}
            known = record["published"].get(target)
            if known is not None:
                if known != wanted:
                    raise already_exists(f"target_path: published at {target} differently")
                return csi_pb2.NodePublishVolumeResponse()
            single = (mode, *(p["mode"] for p in record["published"].values()))
            if record["published"] and _Mode.SINGLE_NODE_SINGLE_WRITER in single:
                raise precondition(
                    "volume_capability: SINGLE_NODE_SINGLE_WRITER volume is already "
                    f"published at {sorted(record['published'])}"
                )
            self._fresh_target(target, "target_path")
            device = self._publish(record, staging, target, readonly)
            with self.store.mutex:
                record["published"][target] = wanted
                if device:
                    record.setdefault("readonly_loops", {})[target] = device
                self.store.save()
            return csi_pb2.NodePublishVolumeResponse()

    def _publish(self, record: dict, staging: str, target: str, readonly: bool) -> str:
        """Mount the volume at ``target``; returns a read-only loop device made for it."""
        if not record["block"]:
            Path(target).mkdir(parents=True, exist_ok=True)
            host.bind_mount(staging, target, readonly=readonly)
            return ""
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).touch(exist_ok=True)
        device = record["loop"]
        if readonly:
            device = host.loop_attach_readonly(self.driver.volume_data(record))
        try:
            host.bind_mount(device, target, readonly=readonly)
        except host.HostError:
            if readonly:
                host.loop_detach(device)
            raise
        return device if readonly else ""

    @rpc
    def NodeUnpublishVolume(self, request, context):  # noqa: N802
        with self.driver.locks.hold(request.volume_id):
            record = self.driver.volume(request.volume_id)
            target = request.target_path
            if target not in record["published"]:
                return csi_pb2.NodeUnpublishVolumeResponse()
            host.unmount(target)
            device = record.get("readonly_loops", {}).pop(target, "")
            if device:
                host.loop_detach(device)
            # The plugin created the target, so it removes it (spec.md "NodeUnpublishVolume").
            with contextlib.suppress(FileNotFoundError):
                if os.path.isdir(target):
                    os.rmdir(target)
                else:
                    os.unlink(target)
            with self.store.mutex:
                del record["published"][target]
                self.store.save()
            return csi_pb2.NodeUnpublishVolumeResponse()

    # -- stats, expansion, info ------------------------------------------------------------

    def _where(self, record: dict, path: str, field: str) -> None:
        if path not in record["published"] and path not in record["staged"]:
            raise not_found(f"{field}: volume {record['id']} is not staged or published at {path}")

    @rpc
    def NodeGetVolumeStats(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        self._where(record, request.volume_path, "volume_path")
        usage = self._usage(record, request.volume_path)
        return csi_pb2.NodeGetVolumeStatsResponse(
            usage=usage, volume_condition=self.driver.condition(record)
        )

    def _usage(self, record: dict, path: str) -> list[csi_pb2.VolumeUsage]:
        unit = csi_pb2.VolumeUsage
        if record["block"]:
            total = host.block_size(record["loop"]) if record["loop"] else record["capacity"]
            return [unit(total=total, unit=unit.BYTES)]
        stat = os.statvfs(path)
        total, free = stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize
        used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        inodes_used = stat.f_files - stat.f_ffree
        return [
            unit(available=free, total=total, used=used, unit=unit.BYTES),
            unit(available=stat.f_favail, total=stat.f_files, used=inodes_used, unit=unit.INODES),
        ]

    @rpc
    def NodeExpandVolume(self, request, context):  # noqa: N802
        record = self.driver.volume(request.volume_id)
        self._where(record, request.volume_path, "volume_path")
        required = request.capacity_range.required_bytes
        if required > int(record["capacity"]):
            raise invalid(
                f"capacity_range.required_bytes: {required} exceeds the volume's "
                f"{record['capacity']} bytes; expand it on the controller first"
            )
        with self.driver.locks.hold(record["id"]):
            if record["block"] and record["loop"]:
                host.loop_refresh(record["loop"])
                return csi_pb2.NodeExpandVolumeResponse(
                    capacity_bytes=host.block_size(record["loop"])
                )
        return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=int(record["capacity"]))

    @rpc
    def NodeGetCapabilities(self, request, context):  # noqa: N802
        caps = [csi_pb2.NodeServiceCapability(rpc=_RPC(type=t)) for t in NODE_CAPABILITIES]
        return csi_pb2.NodeGetCapabilitiesResponse(capabilities=caps)

    @rpc
    def NodeGetInfo(self, request, context):  # noqa: N802
        return csi_pb2.NodeGetInfoResponse(
            node_id=self.driver.config.node_id,
            max_volumes_per_node=self.driver.config.max_volumes,
            accessible_topology=self.driver.topology(),
        )


__all__ = ["NODE_CAPABILITIES", "NodeService"]
