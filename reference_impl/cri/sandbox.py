"""Pod sandbox RPCs: the pod is a pause process (run by the OCI runtime) holding its namespaces.

The pause container gets new IPC, UTS and PID namespaces and joins the pod's named network
namespace (set up by CNI); app containers join these by path (``/proc/<pause>/ns/*``).
"""

# ruff: noqa: N802 - servicer method names are the RPC names fixed by api.proto

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from reference_impl.cri import network, oci
from reference_impl.cri.context import Context, remove_cgroup
from reference_impl.cri.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    rpc,
)
from reference_impl.cri.streaming import Session
from wire.proto.cri import api_pb2 as pb

log = logging.getLogger(__name__)

READY, NOTREADY = "READY", "NOTREADY"


def _resolv_conf(dns: pb.DNSConfig) -> str:
    if not (dns.servers or dns.searches or dns.options):
        try:
            return Path("/etc/resolv.conf").read_text()
        except OSError:
            return ""
    lines = [f"nameserver {s}" for s in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def validate_pod_config(config: pb.PodSandboxConfig) -> None:
    """Reject configs missing the metadata every pod needs."""
    meta = config.metadata
    for field in ("name", "uid", "namespace"):
        if not getattr(meta, field):
            raise InvalidArgument(f"config.metadata.{field} is empty")


def pause_spec(ctx: Context, record: dict[str, Any], config: pb.PodSandboxConfig) -> dict:
    """The runtime config of the pause process."""
    opts = config.linux.security_context.namespace_options
    namespaces = [{"type": "mount"}]
    if opts.pid != pb.NODE:
        namespaces.append({"type": "pid"})
    if opts.ipc != pb.NODE:
        namespaces.append({"type": "ipc"})
    if record["netns"]:
        namespaces.append({"type": "network", "path": record["netns"]})
    host_net = opts.network == pb.NODE
    if not host_net:
        namespaces.append({"type": "uts"})
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/busybox", "sleep", "2147483647"],
            "env": ["PATH=/"],
            "cwd": "/",
            "capabilities": {
                k: list(oci.DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")
            },
            "noNewPrivileges": True,
        },
        "root": {"path": str(ctx.pause_rootfs), "readonly": True},
        "mounts": [m for m in oci.base_mounts() if m["destination"] in ("/proc", "/dev")],
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": f"{record['cgroup']}/pause",
            "sysctl": dict(config.linux.sysctls),
            "maskedPaths": oci.MASKED,
            "readonlyPaths": oci.READONLY,
        },
    }
    if not host_net:
        spec["hostname"] = config.hostname or config.metadata.name
    return spec


class SandboxRpcs:
    """RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox."""

    ctx: Context

    # -- helpers ----------------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> dict[str, Any]:
        if not sandbox_id:
            raise InvalidArgument("pod_sandbox_id is empty")
        record = self.ctx.sandboxes.resolve(sandbox_id)
        if record is None:
            raise NotFound(f"pod sandbox {sandbox_id!r} not found")
        return record

    @staticmethod
    def _pod_config(record: dict[str, Any]) -> pb.PodSandboxConfig:
        return json_format.ParseDict(record["config"], pb.PodSandboxConfig())

    def _cni_args(self, record: dict[str, Any]) -> str:
        meta = record["config"].get("metadata", {})
        return (
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};"
            "K8S_POD_UID={}".format(
                meta.get("namespace", ""), meta.get("name", ""), record["id"], meta.get("uid", "")
            )
        )

    def _cni_runtime(self, config: pb.PodSandboxConfig) -> dict[str, Any]:
        ports = [
            {
                "hostPort": p.host_port,
                "containerPort": p.container_port,
                "protocol": pb.Protocol.Name(p.protocol).lower(),
                "hostIP": p.host_ip,
            }
            for p in config.port_mappings
            if p.host_port
        ]
        return {"portMappings": ports} if ports else {}

    # -- run --------------------------------------------------------------------------------

    @rpc
    def RunPodSandbox(self, request: pb.RunPodSandboxRequest, context: Any) -> Any:
        """Create the namespaces, the network and the pause process; READY on success."""
        config = request.config
        validate_pod_config(config)
        meta = config.metadata
        key = f"{meta.name}_{meta.namespace}_{meta.uid}_{meta.attempt}"
        sandbox_id = secrets.token_hex(32)
        with self.ctx.lock:
            for other in self.ctx.sandboxes:
                if other["key"] == key:
                    raise AlreadyExists(f"pod {key!r} is already reserved by {other['id']!r}")
            parent = config.linux.cgroup_parent or self.ctx.cgroup_parent
            record: dict[str, Any] = {
                "id": sandbox_id,
                "key": key,
                "config": json_format.MessageToDict(config, preserving_proto_field_name=True),
                "runtime_handler": request.runtime_handler,
                "created_at": time.time_ns(),
                "state": NOTREADY,
                "netns": "",
                "netns_name": "",
                "ip": "",
                "extra_ips": [],
                "pid": 0,
                "cgroup": f"{parent.rstrip('/')}/pod{sandbox_id[:16]}",
                "owns_cgroup_parent": not config.linux.cgroup_parent,
            }
            self.ctx.sandboxes.put(record)
        try:
            record = self._start_sandbox(record, config)
        except BaseException:
            self._teardown(record)
            self.ctx.sandboxes.delete(sandbox_id)
            raise
        return pb.RunPodSandboxResponse(pod_sandbox_id=sandbox_id)

    def _start_sandbox(self, record: dict[str, Any], config: pb.PodSandboxConfig) -> dict:
        sid = record["id"]
        pod_dir = self.ctx.sandbox_dir(sid)
        pod_dir.mkdir(parents=True, exist_ok=True)
        (pod_dir / "resolv.conf").write_text(_resolv_conf(config.dns_config))
        hostname = config.hostname or config.metadata.name
        host_net = config.linux.security_context.namespace_options.network == pb.NODE
        if host_net:
            hostname = os.uname().nodename
        (pod_dir / "hostname").write_text(hostname + "\n")
        (pod_dir / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
        if not host_net:
            name = f"cri-{sid[:16]}"
            record = self.ctx.sandboxes.update(sid, netns_name=name)
            netns = network.create_netns(name)
            record = self.ctx.sandboxes.update(sid, netns=netns)
            if self.ctx.cni.config() is not None:
                result = self.ctx.cni.add(
                    sid, netns, self._cni_args(record), self._cni_runtime(config)
                )
                ip, extra = network.first_ip(result)
                record = self.ctx.sandboxes.update(sid, ip=ip, extra_ips=extra, cni=True)
            else:
                network.loopback_up(netns)
        bundle = pod_dir / "bundle"
        bundle.mkdir(exist_ok=True)
        (bundle / "config.json").write_text(json.dumps(pause_spec(self.ctx, record, config)))
        pid, shim = self.ctx.runtime.spawn(sid, bundle, "")
        record = self.ctx.sandboxes.update(sid, pid=pid, shim_pid=shim)
        self.ctx.runtime.run("start", sid)
        return self.ctx.sandboxes.update(sid, state=READY)

    # -- stop / remove ----------------------------------------------------------------------

    def _stop_sandbox(self, record: dict[str, Any]) -> None:
        for ctr in self.ctx.containers:
            if ctr["sandbox_id"] == record["id"]:
                self._stop_container(ctr, 0)  # type: ignore[attr-defined]
        bundle = self.ctx.sandbox_dir(record["id"]) / "bundle"
        if record.get("pid") and not (bundle / "exit.json").exists():
            self.ctx.runtime.kill(record["id"], 9, all_procs=True)
            oci.wait_exit(bundle, 10.0)
        self._teardown_network(record)
        self.ctx.sandboxes.update(record["id"], state=NOTREADY)

    def _teardown_network(self, record: dict[str, Any]) -> None:
        if record.get("cni") and record.get("netns"):
            config = self._pod_config(record)
            self.ctx.cni.delete(
                record["id"], record["netns"], self._cni_args(record), self._cni_runtime(config)
            )
            self.ctx.sandboxes.update(record["id"], cni=False)
        if record.get("netns_name"):
            network.remove_netns(record["netns_name"])

    def _teardown(self, record: dict[str, Any]) -> None:
        """Undo everything a (partly) started sandbox has; used on failure and removal."""
        record = self.ctx.sandboxes.get(record["id"]) or record
        with contextlib.suppress(Exception):
            self.ctx.runtime.kill(record["id"], 9, all_procs=True)
        self.ctx.runtime.delete(record["id"])
        with contextlib.suppress(Exception):
            self._teardown_network(record)
        remove_cgroup(record["cgroup"])
        if record.get("owns_cgroup_parent"):
            # our shared parent goes with its last pod (rmdir fails while others remain)
            remove_cgroup(self.ctx.cgroup_parent, recursive=False)
        shutil.rmtree(self.ctx.sandbox_dir(record["id"]), ignore_errors=True)

    @rpc
    def StopPodSandbox(self, request: pb.StopPodSandboxRequest, context: Any) -> Any:
        """Stop every container and the pause process; absent or stopped pods are fine."""
        if not request.pod_sandbox_id:
            raise InvalidArgument("pod_sandbox_id is empty")
        record = self.ctx.sandboxes.resolve(request.pod_sandbox_id)
        if record is not None:
            self._stop_sandbox(record)
        return pb.StopPodSandboxResponse()

    @rpc
    def RemovePodSandbox(self, request: pb.RemovePodSandboxRequest, context: Any) -> Any:
        """Force-remove the containers and the pod; absent pods are fine."""
        if not request.pod_sandbox_id:
            raise InvalidArgument("pod_sandbox_id is empty")
        record = self.ctx.sandboxes.resolve(request.pod_sandbox_id)
        if record is None:
            return pb.RemovePodSandboxResponse()
        self._stop_sandbox(record)
        for ctr in self.ctx.containers:
            if ctr["sandbox_id"] == record["id"]:
                self._remove_container(ctr)  # type: ignore[attr-defined]
        self._teardown(record)
        self.ctx.sandboxes.delete(record["id"])
        return pb.RemovePodSandboxResponse()

    # -- status / list ----------------------------------------------------------------------

    def _state(self, record: dict[str, Any]) -> int:
        if record["state"] != READY:
            return pb.SANDBOX_NOTREADY
        bundle = self.ctx.sandbox_dir(record["id"]) / "bundle"
        if (bundle / "exit.json").exists():
            return pb.SANDBOX_NOTREADY
        return pb.SANDBOX_READY

    def _status(self, record: dict[str, Any]) -> pb.PodSandboxStatus:
        config = self._pod_config(record)
        status = pb.PodSandboxStatus(
            id=record["id"],
            metadata=config.metadata,
            state=self._state(record),
            created_at=record["created_at"],
            labels=config.labels,
            annotations=config.annotations,
            runtime_handler=record.get("runtime_handler", ""),
        )
        status.linux.namespaces.options.CopyFrom(config.linux.security_context.namespace_options)
        if record.get("ip"):
            status.network.ip = record["ip"]
            status.network.additional_ips.extend(
                pb.PodIP(ip=ip) for ip in record.get("extra_ips", [])
            )
        return status

    @rpc
    def PodSandboxStatus(self, request: pb.PodSandboxStatusRequest, context: Any) -> Any:
        """Status of the pod; NOT_FOUND when absent."""
        record = self._sandbox(request.pod_sandbox_id)
        resp = pb.PodSandboxStatusResponse(status=self._status(record))
        if request.verbose:
            resp.info["info"] = json.dumps(
                {"pid": record.get("pid"), "netns": record.get("netns"),
                 "cgroup": record.get("cgroup"), "runtime": self.ctx.runtime.path}
            )  # fmt: skip
        return resp

    @rpc
    def PortForward(self, request: pb.PortForwardRequest, context: Any) -> Any:
        """A streaming URL forwarding to ports on the pod's loopback (in its netns)."""
        record = self._sandbox(request.pod_sandbox_id)
        if self._state(record) != pb.SANDBOX_READY:
            raise FailedPrecondition(f"pod sandbox {record['id']!r} is not ready")
        session = Session("portforward", netns=record.get("netns", ""), ports=list(request.port))
        return pb.PortForwardResponse(url=self.streams.url(session))  # type: ignore[attr-defined]

    @rpc
    def ListPodSandbox(self, request: pb.ListPodSandboxRequest, context: Any) -> Any:
        """Pods matching the filter (id prefix, state, labels)."""
        flt = request.filter if request.HasField("filter") else None
        items = []
        for record in self.ctx.sandboxes:
            status = self._status(record)
            if flt is not None:
                if flt.id and not record["id"].startswith(flt.id):
                    continue
                if flt.HasField("state") and status.state != flt.state.state:
                    continue
                if any(status.labels.get(k) != v for k, v in flt.label_selector.items()):
                    continue
            items.append(
                pb.PodSandbox(
                    id=status.id,
                    metadata=status.metadata,
                    state=status.state,
                    created_at=status.created_at,
                    labels=status.labels,
                    annotations=status.annotations,
                    runtime_handler=status.runtime_handler,
                )
            )
        return pb.ListPodSandboxResponse(items=items)
