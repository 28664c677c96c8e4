"""Container RPCs: create/start/stop/remove, status and list, logs, ExecSync, stats, updates."""

# ruff: noqa: N802 - servicer method names are the RPC names fixed by api.proto

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from reference_impl.cri import oci
from reference_impl.cri.context import CGROUP_ROOT, Context
from reference_impl.cri.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    rpc,
)
from reference_impl.cri.streaming import Session, StreamServer
from wire.proto.cri import api_pb2 as pb

log = logging.getLogger(__name__)

# RuntimeDefault: allow by default, refuse what containers must not do (kernel keyrings,
# module and kexec loading, clock and swap changes, reboot, BPF, perf, userfaultfd).
DEFAULT_SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {
            "names": [
                "add_key",
                "keyctl",
                "request_key",
                "init_module",
                "finit_module",
                "delete_module",
                "kexec_load",
                "kexec_file_load",
                "reboot",
                "swapon",
                "swapoff",
                "settimeofday",
                "clock_settime",
                "clock_adjtime",
                "adjtimex",
                "acct",
                "bpf",
                "perf_event_open",
                "userfaultfd",
                "open_by_handle_at",
                "lookup_dcookie",
                "quotactl",
                "nfsservctl",
                "vm86",
                "vm86old",
                "iopl",
                "ioperm",
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
        }
    ],
}


def _args(config: pb.ContainerConfig, image: dict[str, Any]) -> list[str]:
    entrypoint = list(image.get("Entrypoint") or [])
    cmd = list(image.get("Cmd") or [])
    if config.command:
        return [*config.command, *config.args]
    if config.args:
        return [*entrypoint, *config.args]
    return [*entrypoint, *cmd]


def _env(config: pb.ContainerConfig, image: dict[str, Any]) -> list[str]:
    env: dict[str, str] = {}
    for item in image.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    for kv in config.envs:
        env[kv.key] = kv.value
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return [f"{k}={v}" for k, v in env.items()]


def _seccomp(ctx: pb.LinuxContainerSecurityContext) -> dict[str, Any] | None:
    if ctx.privileged:
        return None
    if ctx.HasField("seccomp"):
        kind = ctx.seccomp.profile_type
        if kind == pb.SecurityProfile.Unconfined:
            return None
        if kind == pb.SecurityProfile.RuntimeDefault:
            return DEFAULT_SECCOMP
        return _localhost_profile(ctx.seccomp.localhost_ref)
    path = ctx.seccomp_profile_path
    if path in ("", "unconfined"):
        return None
    if path in ("runtime/default", "docker/default"):
        return DEFAULT_SECCOMP
    return _localhost_profile(path.removeprefix("localhost/"))


def _localhost_profile(path: str) -> dict[str, Any]:
    try:
        return dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError) as err:
        raise InvalidArgument(f"seccomp profile {path!r}: {err}") from err


def _mounts(config: pb.ContainerConfig, pod_dir: Path) -> list[dict[str, Any]]:
    mounts = oci.base_mounts()
    shm_opts = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
    mounts.append(
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": shm_opts}
    )
    user_paths = {m.container_path for m in config.mounts}
    for name in ("resolv.conf", "hostname", "hosts"):
        if f"/etc/{name}" not in user_paths:
            mounts.append(
                {
                    "destination": f"/etc/{name}",
                    "type": "bind",
                    "source": str(pod_dir / name),
                    "options": ["rbind", "rprivate", "rw"],
                }
            )
    for m in config.mounts:
        if m.image.image:
            raise InvalidArgument(f"mount {m.container_path!r}: image volumes are not supported")
        if m.recursive_read_only:
            raise InvalidArgument(f"mount {m.container_path!r}: recursive read-only unsupported")
        if not m.container_path.startswith("/"):
            raise InvalidArgument(f"mount {m.container_path!r}: container_path is not absolute")
        source = os.path.realpath(m.host_path)
        if not os.path.exists(source):
            raise InvalidArgument(f"mount {m.container_path!r}: host path {m.host_path!r} missing")
        options = ["rbind", oci.PROPAGATION.get(m.propagation, "rprivate")]
        options.append("ro" if m.readonly else "rw")
        mounts.append({"destination": m.container_path, "type": "bind", "source": source,
                       "options": options})  # fmt: skip
    return mounts


def _namespaces(
    sec: pb.LinuxContainerSecurityContext, pod: dict[str, Any], target_pid: int = 0
) -> list[dict]:
    opts = sec.namespace_options
    pid = pod.get("pid")
    out = [{"type": "mount"}]
    pod_opts = (
        pod["config"].get("linux", {}).get("security_context", {}).get("namespace_options", {})
    )
    if pod.get("netns"):
        out.append({"type": "network", "path": pod["netns"]})
    if pod_opts.get("ipc") != "NODE":
        out.append({"type": "ipc", "path": f"/proc/{pid}/ns/ipc"})
    if pod_opts.get("network") != "NODE":
        out.append({"type": "uts", "path": f"/proc/{pid}/ns/uts"})
    if opts.pid == pb.POD:
        out.append({"type": "pid", "path": f"/proc/{pid}/ns/pid"})
    elif opts.pid == pb.TARGET:
        out.append({"type": "pid", "path": f"/proc/{target_pid}/ns/pid"})
    elif opts.pid == pb.CONTAINER:
        out.append({"type": "pid"})
    return out


class ContainerRpcs:
    """Container lifecycle, status, logs and exec."""

    ctx: Context
    streams: StreamServer

    def _container(self, container_id: str) -> dict[str, Any]:
        if not container_id:
            raise InvalidArgument("container_id is empty")
        record = self.ctx.containers.resolve(container_id)
        if record is None:
            raise NotFound(f"container {container_id!r} not found")
        return record

    @staticmethod
    def _ctr_config(record: dict[str, Any]) -> pb.ContainerConfig:
        return json_format.ParseDict(record["config"], pb.ContainerConfig())

    # -- create -----------------------------------------------------------------------------

    @rpc
    def CreateContainer(self, request: pb.CreateContainerRequest, context: Any) -> Any:
        """Unpack the image into a bundle and create the container (CREATED)."""
        config = request.config
        if not config.metadata.name:
            raise InvalidArgument("config.metadata.name is empty")
        if not config.image.image:
            raise InvalidArgument("config.image.image is empty")
        pod = self._sandbox(request.pod_sandbox_id)  # type: ignore[attr-defined]
        if self._state(pod) != pb.SANDBOX_READY:  # type: ignore[attr-defined]
            raise FailedPrecondition(f"pod sandbox {pod['id']!r} is not ready")
        image = self.ctx.images.find(config.image.image)
        if image is None:
            raise NotFound(f"image {config.image.image!r} not found (pull it first)")
        sec = config.linux.security_context
        if sec.HasField("run_as_group") and not (
            sec.HasField("run_as_user") or sec.run_as_username
        ):
            raise InvalidArgument("run_as_group is set without run_as_user or run_as_username")
        key = f"{config.metadata.name}_{pod['key']}_{config.metadata.attempt}"
        cid = secrets.token_hex(32)
        with self.ctx.lock:
            for other in self.ctx.containers:
                if other["key"] == key:
                    raise AlreadyExists(f"container {key!r} is already reserved by {other['id']!r}")
            log_path = ""
            pod_log_dir = pod["config"].get("log_directory", "")
            if config.log_path and pod_log_dir:
                log_path = os.path.join(pod_log_dir, config.log_path)
            record = {
                "id": cid,
                "key": key,
                "sandbox_id": pod["id"],
                "config": json_format.MessageToDict(config, preserving_proto_field_name=True),
                "image_id": image["image_id"],
                "image_ref": (image["repo_digests"] or [image["image_id"]])[0],
                "created_at": time.time_ns(),
                "started_at": 0,
                "log_path": log_path,
                "pid": 0,
                "cgroup": f"{pod['cgroup']}/{cid[:16]}",
            }
            self.ctx.containers.put(record)
        bundle = self.ctx.container_dir(cid)
        try:
            rootfs = bundle / "rootfs"
            self.ctx.images.unpack(image, rootfs)
            spec = self._spec(config, image, pod, record, rootfs)
            (bundle / "config.json").write_text(json.dumps(spec))
            fifo = str(bundle / "stdin.fifo") if config.stdin else ""
            pid, shim = self.ctx.runtime.spawn(cid, bundle, log_path, fifo)
            self.ctx.containers.update(cid, pid=pid, shim_pid=shim)
        except BaseException:
            self.ctx.runtime.delete(cid)
            shutil.rmtree(bundle, ignore_errors=True)
            self.ctx.containers.delete(cid)
            raise
        return pb.CreateContainerResponse(container_id=cid)

    def _spec(
        self,
        config: pb.ContainerConfig,
        image: dict[str, Any],
        pod: dict[str, Any],
        record: dict[str, Any],
        rootfs: Path,
    ) -> dict[str, Any]:
        image_cfg = image.get("config", {})
        sec = config.linux.security_context
        args = _args(config, image_cfg)
        if not args:
            raise InvalidArgument("no command: neither the config nor the image names one")
        caps = oci._caps(sec)
        process: dict[str, Any] = {
            "terminal": False,
            "user": oci.process_user(sec, str(image_cfg.get("User") or ""), rootfs),
            "args": args,
            "env": _env(config, image_cfg),
            "cwd": config.working_dir or image_cfg.get("WorkingDir") or "/",
            "capabilities": {
                k: caps for k in ("bounding", "effective", "permitted", "inheritable")
            },
            "noNewPrivileges": sec.no_new_privs,
        }
        if "inheritable" in process["capabilities"] and not sec.privileged:
            process["capabilities"]["inheritable"] = []
        linux: dict[str, Any] = {
            "namespaces": _namespaces(sec, pod, self._target_pid(sec, pod)),
            "cgroupsPath": record["cgroup"],
            "resources": oci.resources(config.linux.resources),
        }
        if not sec.privileged:
            linux["maskedPaths"] = list(sec.masked_paths) if sec.masked_paths else oci.MASKED
            linux["readonlyPaths"] = (
                list(sec.readonly_paths) if sec.readonly_paths else oci.READONLY
            )
        # a BIDIRECTIONAL mount only reaches the host when the container's root is rshared;
        # HOST_TO_CONTAINER needs at least rslave (containerd does the same)
        props = {m.propagation for m in config.mounts}
        if pb.PROPAGATION_BIDIRECTIONAL in props:
            linux["rootfsPropagation"] = "rshared"
        elif pb.PROPAGATION_HOST_TO_CONTAINER in props:
            linux["rootfsPropagation"] = "rslave"
        seccomp = _seccomp(sec)
        if seccomp is not None:
            linux["seccomp"] = seccomp
        mounts = _mounts(config, self.ctx.sandbox_dir(pod["id"]))
        if sec.privileged:
            for m in mounts:
                if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                    m["options"] = [o for o in m["options"] if o != "ro"]
        return {
            "ociVersion": "1.0.2",
            "process": process,
            "root": {"path": str(rootfs), "readonly": sec.readonly_rootfs},
            "mounts": mounts,
            "linux": linux,
            "annotations": dict(config.annotations),
        }

    def _target_pid(self, sec: pb.LinuxContainerSecurityContext, pod: dict[str, Any]) -> int:
        """Init pid of the running container a PID namespace TARGET names (same pod)."""
        if sec.namespace_options.pid != pb.TARGET:
            return 0
        target = self.ctx.containers.resolve(sec.namespace_options.target_id)
        if target is None or target["sandbox_id"] != pod["id"]:
            raise NotFound(
                f"PID namespace target {sec.namespace_options.target_id!r} is not a container "
                f"of pod {pod['id']!r}"
            )
        if self._ctr_state(target)[0] != pb.CONTAINER_RUNNING:
            raise FailedPrecondition(f"PID namespace target {target['id']!r} is not running")
        return int(target["pid"])

    # -- start / stop / remove --------------------------------------------------------------

    def _exit(self, record: dict[str, Any]) -> dict[str, Any] | None:
        path = self.ctx.container_dir(record["id"]) / "exit.json"
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None

    @rpc
    def StartContainer(self, request: pb.StartContainerRequest, context: Any) -> Any:
        """Start a CREATED container."""
        record = self._container(request.container_id)
        if record["started_at"] or self._exit(record) is not None:
            raise FailedPrecondition(f"container {record['id']!r} is not in the CREATED state")
        self.ctx.containers.update(record["id"], started_at=time.time_ns())
        try:
            self.ctx.runtime.run("start", record["id"])
        except Internal:
            self.ctx.containers.update(record["id"], started_at=0)
            raise
        return pb.StartContainerResponse()

    def _stop_container(self, record: dict[str, Any], timeout: int) -> None:
        bundle = self.ctx.container_dir(record["id"])
        if self._exit(record) is not None:
            return
        if not record["started_at"]:
            # never started: killing the waiting init is the stop (containerd does the same)
            self.ctx.runtime.kill(record["id"], signal.SIGKILL)
        else:
            config = self._ctr_config(record)
            sig = signal.SIGTERM
            if config.stop_signal:
                sig = oci.signal_number(pb.Signal.Name(config.stop_signal))
            if timeout > 0:
                self.ctx.runtime.kill(record["id"], sig)
                if oci.wait_exit(bundle, timeout) is not None:
                    return
            self.ctx.runtime.kill(record["id"], signal.SIGKILL, all_procs=True)
        if oci.wait_exit(bundle, 10.0) is None:
            raise Internal(f"container {record['id']!r} did not exit after SIGKILL")

    @rpc
    def StopContainer(self, request: pb.StopContainerRequest, context: Any) -> Any:
        """TERM (or the stop signal), KILL after ``timeout`` seconds; absent ids are fine."""
        if not request.container_id:
            raise InvalidArgument("container_id is empty")
        record = self.ctx.containers.resolve(request.container_id)
        if record is not None:
            self._stop_container(record, int(request.timeout))
        return pb.StopContainerResponse()

    def _remove_container(self, record: dict[str, Any]) -> None:
        self._stop_container(record, 0)
        self.ctx.runtime.delete(record["id"])
        shutil.rmtree(self.ctx.container_dir(record["id"]), ignore_errors=True)
        self.ctx.containers.delete(record["id"])

    @rpc
    def RemoveContainer(self, request: pb.RemoveContainerRequest, context: Any) -> Any:
        """Force-remove the container in any state; absent ids are fine."""
        if not request.container_id:
            raise InvalidArgument("container_id is empty")
        record = self.ctx.containers.resolve(request.container_id)
        if record is not None:
            self._remove_container(record)
        return pb.RemoveContainerResponse()

    # -- status / list ----------------------------------------------------------------------

    def _ctr_state(self, record: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        exit_rec = self._exit(record)
        if exit_rec is not None:
            return pb.CONTAINER_EXITED, exit_rec
        if record["started_at"]:
            if record.get("pid") and not os.path.exists(f"/proc/{record['pid']}"):
                exit_rec = oci.wait_exit(self.ctx.container_dir(record["id"]), 1.0)
                return (pb.CONTAINER_EXITED, exit_rec) if exit_rec else (pb.CONTAINER_UNKNOWN, None)
            return pb.CONTAINER_RUNNING, None
        return pb.CONTAINER_CREATED, None

    def _oom_killed(self, record: dict[str, Any]) -> bool:
        """Whether the kernel OOM-killed in the container's memory cgroup (cached)."""
        if "oom" not in record:
            control = CGROUP_ROOT / "memory" / record["cgroup"].lstrip("/") / "memory.oom_control"
            try:
                fields = dict(line.split() for line in control.read_text().splitlines())
            except (OSError, ValueError):
                return False  # cgroup gone (removed) or v2: only a later read can tell
            record = self.ctx.containers.update(
                record["id"], oom=int(fields.get("oom_kill", "0")) > 0
            )
        return bool(record["oom"])

    def _ctr_status(self, record: dict[str, Any]) -> pb.ContainerStatus:
        config = self._ctr_config(record)
        state, exit_rec = self._ctr_state(record)
        status = pb.ContainerStatus(
            id=record["id"],
            metadata=config.metadata,
            state=state,
            created_at=record["created_at"],
            started_at=record["started_at"],
            image=config.image,
            image_ref=record["image_ref"],
            image_id=record["image_id"],
            labels=config.labels,
            annotations=config.annotations,
            mounts=config.mounts,
            log_path=record["log_path"],
            stop_signal=config.stop_signal,
        )
        if exit_rec is not None:
            status.finished_at = int(exit_rec.get("finished_at", 0))
            status.exit_code = int(exit_rec.get("exit_code", 0))
            status.reason = "Completed" if status.exit_code == 0 else "Error"
            if status.exit_code != 0 and self._oom_killed(record):
                status.reason = "OOMKilled"
        res = config.linux.resources
        status.resources.linux.CopyFrom(res)
        return status

    @rpc
    def ContainerStatus(self, request: pb.ContainerStatusRequest, context: Any) -> Any:
        """Status of the container; NOT_FOUND when absent."""
        record = self._container(request.container_id)
        resp = pb.ContainerStatusResponse(status=self._ctr_status(record))
        if request.verbose:
            resp.info["info"] = json.dumps({"pid": record.get("pid"), "cgroup": record["cgroup"]})
        return resp

    def _matches(self, record: dict[str, Any], flt: Any, labels: Any) -> bool:
        if flt.id and not record["id"].startswith(flt.id):
            return False
        if flt.pod_sandbox_id and not record["sandbox_id"].startswith(flt.pod_sandbox_id):
            return False
        return all(labels.get(k) == v for k, v in flt.label_selector.items())

    @rpc
    def ListContainers(self, request: pb.ListContainersRequest, context: Any) -> Any:
        """Containers matching the filter (id, state, pod, labels)."""
        flt = request.filter
        out = []
        for record in self.ctx.containers:
            status = self._ctr_status(record)
            if not self._matches(record, flt, status.labels):
                continue
            if flt.HasField("state") and status.state != flt.state.state:
                continue
            out.append(
                pb.Container(
                    id=status.id,
                    pod_sandbox_id=record["sandbox_id"],
                    metadata=status.metadata,
                    image=status.image,
                    image_ref=status.image_ref,
                    image_id=status.image_id,
                    state=status.state,
                    created_at=status.created_at,
                    labels=status.labels,
                    annotations=status.annotations,
                )
            )
        return pb.ListContainersResponse(containers=out)

    # -- logs, updates ----------------------------------------------------------------------

    @rpc
    def ReopenContainerLog(self, request: pb.ReopenContainerLogRequest, context: Any) -> Any:
        """Ask the container's shim to reopen its log file (running containers only)."""
        record = self._container(request.container_id)
        state, _ = self._ctr_state(record)
        if state != pb.CONTAINER_RUNNING:
            raise FailedPrecondition(f"container {record['id']!r} is not running")
        shim = record.get("shim_pid")
        if not shim or not record["log_path"]:
            raise FailedPrecondition(f"container {record['id']!r} has no log")
        before = Path(record["log_path"])
        os.kill(shim, signal.SIGUSR1)
        # the reopen is asynchronous in the shim: wait until the file is back
        deadline = time.monotonic() + 5
        while not before.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return pb.ReopenContainerLogResponse()

    @rpc
    def UpdateContainerResources(
        self, request: pb.UpdateContainerResourcesRequest, context: Any
    ) -> Any:
        """Apply new cgroup limits with ``runtime update`` before answering."""
        record = self._container(request.container_id)
        res = oci.resources(request.linux)
        args = []
        if "memory" in res:
            args += ["--memory", str(res["memory"]["limit"])]
        cpu = res.get("cpu", {})
        for key, flag in (("shares", "--cpu-share"), ("quota", "--cpu-quota"),
                          ("period", "--cpu-period"), ("cpus", "--cpuset-cpus"),
                          ("mems", "--cpuset-mems")):  # fmt: skip
            if key in cpu:
                args += [flag, str(cpu[key])]
        state, _ = self._ctr_state(record)
        if args and state in (pb.CONTAINER_RUNNING, pb.CONTAINER_CREATED):
            self.ctx.runtime.run("update", *args, record["id"])
        config = record["config"]
        config.setdefault("linux", {})["resources"] = json_format.MessageToDict(
            request.linux, preserving_proto_field_name=True
        )
        self.ctx.containers.update(record["id"], config=config)
        return pb.UpdateContainerResourcesResponse()

    # -- exec -------------------------------------------------------------------------------

    @rpc
    def ExecSync(self, request: pb.ExecSyncRequest, context: Any) -> Any:
        """Run ``cmd`` in the running container; on timeout kill it and answer DEADLINE_EXCEEDED."""
        record = self._container(request.container_id)
        if not request.cmd:
            raise InvalidArgument("cmd is empty")
        state, _ = self._ctr_state(record)
        if state != pb.CONTAINER_RUNNING:
            raise FailedPrecondition(f"container {record['id']!r} is not running")
        pid_file = self.ctx.state / "exec" / f"{secrets.token_hex(8)}.pid"
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [self.ctx.runtime.path, "--root", str(self.ctx.runtime.root), "exec",
               "--pid-file", str(pid_file), record["id"], *request.cmd]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = proc.communicate(timeout=request.timeout or None)
        except subprocess.TimeoutExpired:
            self._kill_exec(pid_file)
            proc.kill()
            proc.communicate()
            raise DeadlineExceeded(
                f"command {list(request.cmd)!r} in {record['id']!r} timed out after "
                f"{request.timeout}s and was killed"
            ) from None
        finally:
            pid_file.unlink(missing_ok=True)
        code = proc.returncode
        if code < 0:
            code = 128 - code
        return pb.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)

    # -- streaming --------------------------------------------------------------------------

    def _running(self, container_id: str) -> dict[str, Any]:
        record = self._container(container_id)
        state, _ = self._ctr_state(record)
        if state != pb.CONTAINER_RUNNING:
            raise FailedPrecondition(f"container {record['id']!r} is not running")
        return record

    @rpc
    def Exec(self, request: pb.ExecRequest, context: Any) -> Any:
        """A streaming URL that runs ``cmd`` in the container."""
        record = self._running(request.container_id)
        if not request.cmd:
            raise InvalidArgument("cmd is empty")
        if not (request.stdin or request.stdout or request.stderr):
            raise InvalidArgument("one of stdin, stdout and stderr must be set")
        session = Session(
            "exec",
            container_id=record["id"],
            cmd=list(request.cmd),
            tty=request.tty,
            stdin=request.stdin,
            stdout=request.stdout,
            stderr=request.stderr and not request.tty,
        )
        return pb.ExecResponse(url=self.streams.url(session))

    @rpc
    def Attach(self, request: pb.AttachRequest, context: Any) -> Any:
        """A streaming URL attached to the container's main process (stdin FIFO, log output)."""
        record = self._running(request.container_id)
        config = self._ctr_config(record)
        if request.stdin and not config.stdin:
            raise InvalidArgument(f"container {record['id']!r} was not created with stdin")
        fifo = self.ctx.container_dir(record["id"]) / "stdin.fifo"
        session = Session(
            "attach",
            container_id=record["id"],
            stdin=request.stdin,
            log_path=record["log_path"],
            stdin_fifo=str(fifo) if config.stdin else "",
        )
        return pb.AttachResponse(url=self.streams.url(session))

    @staticmethod
    def _kill_exec(pid_file: Path) -> None:
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
