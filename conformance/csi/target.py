"""How the suite reaches a CSI plugin, and how it starts the bundled reference driver.

A :class:`CsiTarget` holds the stubs, what the plugin advertised (plugin, controller, node and
group controller capabilities) and the test settings (paths, access type, size, parameters,
secrets). Tests gate on the advertised capabilities with :meth:`CsiTarget.require`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

from conformance.core import ConfigurationError, EnvironmentProblem, skip_capability
from conformance.csi.client import Services, open_channel
from wire.proto.csi import csi_pb2

log = logging.getLogger(__name__)

_PluginService = csi_pb2.PluginCapability.Service
_ControllerRPC = csi_pb2.ControllerServiceCapability.RPC
_NodeRPC = csi_pb2.NodeServiceCapability.RPC
_GroupRPC = csi_pb2.GroupControllerServiceCapability.RPC

SECRET_KEYS = {
    "CreateVolumeRequest": "CreateVolumeSecret",
    "DeleteVolumeRequest": "DeleteVolumeSecret",
    "ControllerPublishVolumeRequest": "ControllerPublishVolumeSecret",
    "ControllerUnpublishVolumeRequest": "ControllerUnpublishVolumeSecret",
    "ValidateVolumeCapabilitiesRequest": "ControllerValidateVolumeCapabilitiesSecret",
    "NodeStageVolumeRequest": "NodeStageVolumeSecret",
    "NodePublishVolumeRequest": "NodePublishVolumeSecret",
    "CreateSnapshotRequest": "CreateSnapshotSecret",
    "DeleteSnapshotRequest": "DeleteSnapshotSecret",
    "ListSnapshotsRequest": "ListSnapshotsSecret",
    "GetSnapshotRequest": "GetSnapshotSecret",
    "ControllerExpandVolumeRequest": "ControllerExpandVolumeSecret",
    "NodeExpandVolumeRequest": "NodeExpandVolumeSecret",
    "ControllerModifyVolumeRequest": "ControllerModifyVolumeSecret",
    "CreateVolumeGroupSnapshotRequest": "CreateVolumeGroupSnapshotSecret",
    "DeleteVolumeGroupSnapshotRequest": "DeleteVolumeGroupSnapshotSecret",
    "GetVolumeGroupSnapshotRequest": "GetVolumeGroupSnapshotSecret",
}
"""Request type -> key in the secrets map of ``--csi-params`` (csi-sanity's names)."""


@dataclass(frozen=True)
class Params:
    """Parameters and secrets the user supplies for test volumes and snapshots."""

    volume: dict[str, str] = field(default_factory=dict)
    mutable: dict[str, str] = field(default_factory=dict)
    invalid_mutable: dict[str, str] = field(
        default_factory=lambda: {"conformance.csi/unsupported-parameter": "1"}
    )
    snapshot: dict[str, str] = field(default_factory=dict)
    group_snapshot: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None) -> Params:
        """Read ``--csi-params``; missing keys keep their defaults."""
        if not path:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigurationError(f"--csi-params {path}: {err}") from err
        if not isinstance(data, dict):
            raise ConfigurationError(f"--csi-params {path}: expected a mapping at the top")

        def strings(key: str, default: Any = None) -> Any:
            value = data.get(key, default)
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise ConfigurationError(f"--csi-params {path}: {key} must be a mapping")
            return {str(k): str(v) for k, v in value.items()}

        defaults = cls()
        return cls(
            volume=strings("volumeParameters"),
            mutable=strings("mutableParameters"),
            invalid_mutable=strings("invalidMutableParameters", defaults.invalid_mutable),
            snapshot=strings("snapshotParameters"),
            group_snapshot=strings("groupSnapshotParameters"),
            secrets={
                str(k): {str(a): str(b) for a, b in (v or {}).items()}
                for k, v in (data.get("secrets") or {}).items()
            },
        )

    def secrets_for(self, request_type: str) -> dict[str, str]:
        """The secrets configured for one request type (empty when none)."""
        return dict(self.secrets.get(SECRET_KEYS.get(request_type, ""), {}))


@dataclass
class CsiTarget:
    """One plugin under test, as the suite sees it."""

    endpoint: str
    controller_endpoint: str
    services: Services
    staging_dir: Path
    target_dir: Path
    access_type: str
    volume_size: int
    fs_type: str
    params: Params
    attach_limit_max: int
    plugin_info: csi_pb2.GetPluginInfoResponse = field(
        default_factory=csi_pb2.GetPluginInfoResponse
    )
    plugin_caps: set[str] = field(default_factory=set)
    expansion: set[str] = field(default_factory=set)
    controller_caps: set[str] = field(default_factory=set)
    node_caps: set[str] = field(default_factory=set)
    group_caps: set[str] = field(default_factory=set)
    node_info: csi_pb2.NodeGetInfoResponse = field(default_factory=csi_pb2.NodeGetInfoResponse)
    owned_dir: Path | None = None
    """A temporary directory the suite made for paths, removed at the end of the session."""

    # -- discovery -------------------------------------------------------------------------

    def discover(self) -> None:
        """Ask the plugin what it offers; failures here are the harness's to report."""
        try:
            self.plugin_info = self.services.identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
            self._plugin_capabilities()
            self._service_capabilities()
        except grpc.RpcError as err:
            raise EnvironmentProblem(
                f"cannot query the CSI plugin at {self.endpoint}: {err.code().name}: "
                f"{err.details()}"
            ) from err

    def _plugin_capabilities(self) -> None:
        for identity in {self.services.identity, self.services.controller_identity}:
            caps = identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest())
            for cap in caps.capabilities:
                if cap.WhichOneof("type") == "service":
                    self.plugin_caps.add(_PluginService.Type.Name(cap.service.type))
                elif cap.WhichOneof("type") == "volume_expansion":
                    kind = csi_pb2.PluginCapability.VolumeExpansion.Type
                    self.expansion.add(kind.Name(cap.volume_expansion.type))

    def _service_capabilities(self) -> None:
        if "CONTROLLER_SERVICE" in self.plugin_caps:
            reply = self.services.controller.ControllerGetCapabilities(
                csi_pb2.ControllerGetCapabilitiesRequest()
            )
            self.controller_caps = {
                _ControllerRPC.Type.Name(c.rpc.type) for c in reply.capabilities
            }
        reply = self.services.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest())
        self.node_caps = {_NodeRPC.Type.Name(c.rpc.type) for c in reply.capabilities}
        self.node_info = self.services.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
        if "GROUP_CONTROLLER_SERVICE" in self.plugin_caps:
            reply = self.services.group.GroupControllerGetCapabilities(
                csi_pb2.GroupControllerGetCapabilitiesRequest()
            )
            self.group_caps = {_GroupRPC.Type.Name(c.rpc.type) for c in reply.capabilities}

    # -- gating ----------------------------------------------------------------------------

    def require(self, *caps: str, node: tuple[str, ...] = (), plugin: tuple[str, ...] = ()) -> None:
        """Skip unless the plugin advertises every named capability.

        Args:
            caps: controller RPC capabilities (CONTROLLER_SERVICE is implied).
            node: node RPC capabilities.
            plugin: plugin service capabilities.
        """
        needed_plugin = (*plugin, "CONTROLLER_SERVICE") if caps else plugin
        for cap in needed_plugin:
            if cap not in self.plugin_caps:
                skip_capability(cap)
        for cap in caps:
            if cap not in self.controller_caps:
                skip_capability(cap)
        for cap in node:
            if cap not in self.node_caps:
                skip_capability(f"node {cap}")

    def require_group(self) -> None:
        """Skip unless group snapshots are offered."""
        self.require(plugin=("GROUP_CONTROLLER_SERVICE",))
        if "CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT" not in self.group_caps:
            skip_capability("CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT")

    @property
    def stages(self) -> bool:
        """True when the node needs NodeStageVolume before NodePublishVolume."""
        return "STAGE_UNSTAGE_VOLUME" in self.node_caps

    @property
    def node_id(self) -> str:
        """The node id the plugin reported."""
        return self.node_info.node_id

    # -- request building ------------------------------------------------------------------

    def capability(self, access_type: str | None = None, mode: int = 1) -> csi_pb2.VolumeCapability:
        """A volume capability of the configured access type (SINGLE_NODE_WRITER by default)."""
        kind = access_type or self.access_type
        cap = csi_pb2.VolumeCapability(
            access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode)  # type: ignore[arg-type]
        )
        if kind == "block":
            cap.block.SetInParent()
        else:
            cap.mount.fs_type = self.fs_type
        return cap

    def with_secrets(self, request: Any) -> Any:
        """Fill ``request.secrets`` from ``--csi-params`` when that request type has some."""
        secrets = self.params.secrets_for(type(request).__name__)
        if secrets and "secrets" in request.DESCRIPTOR.fields_by_name:
            request.secrets.update(secrets)
        return request

    def staging_path(self) -> str:
        """A fresh staging path; the CO (we) creates it, as the spec expects."""
        path = self.staging_dir / f"stage-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        return str(path)

    def target_path(self) -> str:
        """A fresh target path whose parent exists and which itself does not."""
        parent = self.target_dir / f"pub-{uuid.uuid4().hex[:12]}"
        parent.mkdir(parents=True)
        return str(parent / "target")


def unique_name(prefix: str = "csi-conf") -> str:
    """A volume or snapshot name no other test (or xdist worker) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# -- the bundled reference --------------------------------------------------------------------


class ReferenceDriver:
    """The bundled reference driver in a subprocess on a temporary UNIX socket."""

    def __init__(self, max_volumes: int = 8) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="csi-ref-"))
        self.socket = self.workdir / "csi.sock"
        self.state_dir = self.workdir / "state"
        self.node_id = f"conformance-node-{uuid.uuid4().hex[:8]}"
        self.max_volumes = max_volumes
        self.log_path = self.workdir / "driver.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The ``unix://`` endpoint the driver serves on."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the driver and wait until it answers Probe."""
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
        argv = [
            sys.executable,
            "-m",
            "reference_impl.csi",
            "--endpoint",
            self.endpoint,
            "--state-dir",
            str(self.state_dir),
            "--node-id",
            self.node_id,
            "--max-volumes",
            str(self.max_volumes),
        ]
        log.info("starting reference CSI driver: %s", " ".join(argv))
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise EnvironmentProblem(
                    f"reference CSI driver exited with {self.process.returncode}: "
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            if self.socket.exists():
                channel = grpc.insecure_channel(self.endpoint)
                try:
                    grpc.channel_ready_future(channel).result(timeout=1)
                    return
                except grpc.FutureTimeoutError:
                    pass
                finally:
                    channel.close()
            time.sleep(0.05)
        raise EnvironmentProblem(f"reference CSI driver not ready within {timeout} s")

    def stop(self) -> None:
        """Stop the driver, undo mounts or loop devices it left, and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        leftovers = release_under(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if leftovers:
            raise EnvironmentProblem(f"reference driver left mounts/loop devices: {leftovers}")


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory`` (deepest first)."""
    prefix = str(directory.resolve())
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def loops_under(directory: Path) -> list[str]:
    """Loop devices whose backing file lies below ``directory``."""
    if shutil.which("losetup") is None:
        return []
    out = subprocess.run(
        ["losetup", "--noheadings", "--output", "NAME,BACK-FILE", "--list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    prefix = str(directory.resolve()) + "/"
    devices = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(prefix):
            devices.append(parts[0])
    return devices


def release_under(directory: Path) -> list[str]:
    """Unmount and detach everything under ``directory``; returns what had to be released."""
    released = []
    for point in mounts_under(directory):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", "-l", point], check=True, capture_output=True)
        released.append(f"mount {point}")
    for device in loops_under(directory):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["losetup", "-d", device], check=True, capture_output=True)
        released.append(f"loop {device}")
    return released


def _path_dirs(opt: Any, reference: ReferenceDriver | None) -> tuple[Path, Path, Path | None]:
    """Staging and target parents, and the temporary directory made for them (if any)."""
    staging, targets = opt("--csi-staging-dir"), opt("--csi-target-dir")
    owned = None
    if reference is not None:
        base = reference.workdir
    elif staging and targets:
        base = Path(staging)
    else:
        base = owned = Path(tempfile.mkdtemp(prefix="csi-conf-"))
    return Path(staging or base / "staging"), Path(targets or base / "targets"), owned


def open_target(opt: Any, reference: ReferenceDriver | None) -> CsiTarget:
    """Build the target from the options (``opt`` is the ``conformance.option`` function)."""
    endpoint = reference.endpoint if reference else opt("--csi-endpoint")
    controller_endpoint = opt("--csi-controller-endpoint") or endpoint
    access_type = str(opt("--csi-access-type")).lower()
    if access_type not in ("mount", "block"):
        raise ConfigurationError(f"--csi-access-type: {access_type!r} is not mount or block")
    params = Params.load(opt("--csi-params"))
    if reference is not None and not params.mutable:
        # The reference accepts these keys (its --mutable-parameters default).
        params = dataclasses.replace(params, mutable={"iops": "3000"})
    node = open_channel(endpoint)
    controller = open_channel(controller_endpoint) if controller_endpoint != endpoint else node
    staging_dir, target_dir, owned = _path_dirs(opt, reference)
    target = CsiTarget(
        endpoint=endpoint,
        controller_endpoint=controller_endpoint,
        services=Services(node, controller),
        staging_dir=staging_dir,
        target_dir=target_dir,
        access_type=access_type,
        volume_size=int(opt("--csi-volume-size")),
        fs_type=str(opt("--csi-fs-type") or ""),
        params=params,
        attach_limit_max=int(opt("--csi-attach-limit-max")),
        owned_dir=owned,
    )
    try:
        target.staging_dir.mkdir(parents=True, exist_ok=True)
        target.target_dir.mkdir(parents=True, exist_ok=True)
        target.discover()
    except BaseException:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
        raise
    return target
