"""Runtime information RPCs (Version, Status, configs) and container/pod statistics."""

# ruff: noqa: N802 - servicer method names are the RPC names fixed by api.proto

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from reference_impl.cri import RUNTIME_NAME, RUNTIME_VERSION
from reference_impl.cri.context import CGROUP_ROOT, Context
from reference_impl.cri.errors import rpc
from wire.proto.cri import api_pb2 as pb

API_VERSION = "v1"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cgroup_usage(cgroup: str) -> tuple[int | None, int | None]:
    """(cpu ns, memory bytes) of a cgroup v1 path (None where unreadable)."""
    rel = cgroup.lstrip("/")
    cpu = _read_int(CGROUP_ROOT / "cpuacct" / rel / "cpuacct.usage")
    mem = _read_int(CGROUP_ROOT / "memory" / rel / "memory.usage_in_bytes")
    if cpu is None:  # cgroup v2
        stat = CGROUP_ROOT / "unified" / rel / "cpu.stat"
        if stat.exists():
            cpu = int(stat.read_text().split()[1]) * 1000
    return cpu, mem


class InfoRpcs:
    """Version, Status, UpdateRuntimeConfig, RuntimeConfig and the stats RPCs."""

    ctx: Context

    @rpc
    def Version(self, request: pb.VersionRequest, context: Any) -> pb.VersionResponse:
        """Our name and version; the CRI API version is v1."""
        return pb.VersionResponse(
            version="0.1.0",
            runtime_name=RUNTIME_NAME,
            runtime_version=RUNTIME_VERSION,
            runtime_api_version=API_VERSION,
        )

    @rpc
    def Status(self, request: pb.StatusRequest, context: Any) -> pb.StatusResponse:
        """RuntimeReady when the runtime answers; NetworkReady with a CNI config or none set."""
        runtime_ok = Path(self.ctx.runtime.path).exists()
        conf_dir = self.ctx.settings.cni_conf_dir
        net_ok = conf_dir is None or self.ctx.cni.config() is not None
        conditions = [
            pb.RuntimeCondition(
                type="RuntimeReady",
                status=runtime_ok,
                reason="" if runtime_ok else "RuntimeMissing",
                message="" if runtime_ok else f"{self.ctx.runtime.path} not found",
            ),
            pb.RuntimeCondition(
                type="NetworkReady",
                status=net_ok,
                reason="" if net_ok else "NetworkPluginNotReady",
                message="" if net_ok else f"no CNI network config in {conf_dir}",
            ),
        ]
        resp = pb.StatusResponse(status=pb.RuntimeStatus(conditions=conditions))
        resp.runtime_handlers.append(pb.RuntimeHandler(name=""))
        if request.verbose:
            resp.info["config"] = json.dumps(
                {
                    "runtime": self.ctx.runtime.path,
                    "root": str(self.ctx.root),
                    "state": str(self.ctx.state),
                    "cniConfDir": str(conf_dir or ""),
                    "cniBinDirs": self.ctx.cni.bin_dirs,
                }
            )
        return resp

    @rpc
    def UpdateRuntimeConfig(self, request: pb.UpdateRuntimeConfigRequest, context: Any) -> Any:
        """Accepted; the pod CIDR comes from the CNI config, so it is only recorded."""
        return pb.UpdateRuntimeConfigResponse()

    @rpc
    def RuntimeConfig(self, request: pb.RuntimeConfigRequest, context: Any) -> Any:
        """The cgroup driver: cgroupfs (pods get plain paths, no systemd slices)."""
        resp = pb.RuntimeConfigResponse()
        resp.linux.cgroup_driver = pb.CGROUPFS
        return resp

    # -- stats ------------------------------------------------------------------------------

    def _ctr_stats(self, record: dict[str, Any]) -> pb.ContainerStats:
        config = self._ctr_config(record)  # type: ignore[attr-defined]
        now = time.time_ns()
        cpu, mem = cgroup_usage(record["cgroup"])
        stats = pb.ContainerStats(
            attributes=pb.ContainerAttributes(
                id=record["id"],
                metadata=config.metadata,
                labels=config.labels,
                annotations=config.annotations,
            )
        )
        stats.cpu.timestamp = now
        stats.cpu.usage_core_nano_seconds.value = cpu or 0
        stats.memory.timestamp = now
        stats.memory.working_set_bytes.value = mem or 0
        stats.memory.usage_bytes.value = mem or 0
        stats.writable_layer.timestamp = now
        stats.writable_layer.fs_id.mountpoint = str(self.ctx.container_dir(record["id"]))
        return stats

    @rpc
    def ContainerStats(self, request: pb.ContainerStatsRequest, context: Any) -> Any:
        """CPU and memory of one container from its cgroup."""
        record = self._container(request.container_id)  # type: ignore[attr-defined]
        return pb.ContainerStatsResponse(stats=self._ctr_stats(record))

    @rpc
    def ListContainerStats(self, request: pb.ListContainerStatsRequest, context: Any) -> Any:
        """Stats of the containers matching the filter (id, pod, labels)."""
        out = []
        for record in self.ctx.containers:
            labels = record["config"].get("labels", {})
            if self._matches(record, request.filter, labels):  # type: ignore[attr-defined]
                out.append(self._ctr_stats(record))
        return pb.ListContainerStatsResponse(stats=out)

    def _pod_stats(self, record: dict[str, Any]) -> pb.PodSandboxStats:
        config = self._pod_config(record)  # type: ignore[attr-defined]
        now = time.time_ns()
        cpu, mem = cgroup_usage(record["cgroup"])
        stats = pb.PodSandboxStats(
            attributes=pb.PodSandboxAttributes(
                id=record["id"],
                metadata=config.metadata,
                labels=config.labels,
                annotations=config.annotations,
            )
        )
        stats.linux.cpu.timestamp = now
        stats.linux.cpu.usage_core_nano_seconds.value = cpu or 0
        stats.linux.memory.timestamp = now
        stats.linux.memory.working_set_bytes.value = mem or 0
        for ctr in self.ctx.containers:
            if ctr["sandbox_id"] == record["id"]:
                stats.linux.containers.append(self._ctr_stats(ctr))
        return stats

    @rpc
    def PodSandboxStats(self, request: pb.PodSandboxStatsRequest, context: Any) -> Any:
        """CPU and memory of the pod's cgroup with its containers."""
        record = self._sandbox(request.pod_sandbox_id)  # type: ignore[attr-defined]
        return pb.PodSandboxStatsResponse(stats=self._pod_stats(record))

    @rpc
    def ListPodSandboxStats(self, request: pb.ListPodSandboxStatsRequest, context: Any) -> Any:
        """Stats of the pods matching the filter (id, labels)."""
        out = []
        flt = request.filter
        for record in self.ctx.sandboxes:
            labels = record["config"].get("labels", {})
            if flt.id and not record["id"].startswith(flt.id):
                continue
            if any(labels.get(k) != v for k, v in flt.label_selector.items()):
                continue
            out.append(self._pod_stats(record))
        return pb.ListPodSandboxStatsResponse(stats=out)
