"""Building blocks of the tests: configs, a tracker that removes what a test made, polling.

Every pod, container and image a test creates goes through a :class:`Tracker`; its
``cleanup`` (a fixture finalizer) stops and removes them, tolerating NOT_FOUND, also when the
test failed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc

from conformance.core import Violation, current_evidence
from conformance.cri.client import CriClient
from wire.proto.cri import api_pb2 as pb

log = logging.getLogger(__name__)

T = TypeVar("T")

API_REF = "https://github.com/kubernetes/cri-api/blob/v0.36.0/pkg/apis/runtime/v1/api.proto"


def unique(prefix: str) -> str:
    """A name unique to this test run (pods, containers, repositories)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rpc_code(call: Callable[[], Any]) -> tuple[grpc.StatusCode, Any]:
    """Run ``call``; returns (OK, response) or (code, the error)."""
    try:
        return grpc.StatusCode.OK, call()
    except grpc.RpcError as err:
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
        return code, err


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; a :class:`Violation` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise Violation(what, f"within {timeout} s", f"not reached (last: {last!r})")


class Context:
    """What tests know about the target: client, images, handler, registry."""

    def __init__(
        self,
        client: CriClient,
        images: dict[str, Any],
        registry: Any,
        runtime_handler: str = "",
    ) -> None:
        self.client = client
        self.images = images
        self.registry = registry
        self.runtime_handler = runtime_handler

    def image_ref(self, name: str) -> str:
        """The pull reference of a base test image (``busybox``, ``pause`` ...)."""
        return self.registry.ref(self.images[name].repo)


class Tracker:
    """Creates pods, containers and images for one test and removes them afterwards."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.pods: list[str] = []
        self.containers: list[str] = []
        self.images: list[str] = []
        self._dirs: list[Path] = []
        self._cgroups: list[str] = []

    # -- configs ----------------------------------------------------------------------------

    def tempdir(self, prefix: str = "cri-test-") -> Path:
        """A temporary host directory deleted at cleanup."""
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self._dirs.append(path)
        return path

    def cgroup_parent(self) -> str:
        """A unique cgroupfs parent for a pod; its directories are removed at cleanup.

        Runtimes remove the cgroups of the containers they made but not the parent itself.
        """
        parent = "/" + unique("cri-conformance")
        self._cgroups.append(parent)
        return parent

    def pod_config(self, name: str = "pod", **linux: Any) -> pb.PodSandboxConfig:
        """A minimal sandbox config with unique metadata and a log directory."""
        pod_name = unique(name)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(
                name=pod_name, uid=uuid.uuid4().hex, namespace="cri-conformance", attempt=1
            ),
            log_directory=str(self.tempdir("cri-logs-")),
            linux=pb.LinuxPodSandboxConfig(**linux),
        )
        return config

    def container_config(
        self,
        image: str = "busybox",
        command: tuple[str, ...] = ("sleep", "3600"),
        name: str = "ctr",
        **kwargs: Any,
    ) -> pb.ContainerConfig:
        """A container config running ``command`` from a base test image."""
        cname = unique(name)
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=cname, attempt=1),
            image=pb.ImageSpec(image=self.ctx.image_ref(image)),
            command=list(command),
            log_path=f"{cname}.log",
            **kwargs,
        )

    # -- pods -------------------------------------------------------------------------------

    def run_pod(self, config: pb.PodSandboxConfig | None = None) -> tuple[str, pb.PodSandboxConfig]:
        """RunPodSandbox; the id is tracked before anything can fail."""
        config = config or self.pod_config()
        resp = self.client.runtime.RunPodSandbox(
            pb.RunPodSandboxRequest(config=config, runtime_handler=self.ctx.runtime_handler),
            timeout=max(self.client.timeout, 60),
        )
        self.pods.append(resp.pod_sandbox_id)
        return resp.pod_sandbox_id, config

    def pod_status(self, pod_id: str, verbose: bool = False) -> pb.PodSandboxStatus:
        """PodSandboxStatus of ``pod_id``."""
        req = pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=verbose)
        return self.client.runtime.PodSandboxStatus(req).status

    # -- containers -------------------------------------------------------------------------

    def ensure_image(self, name: str) -> str:
        """Pull a base test image (idempotent); returns the runtime's image ref."""
        spec = pb.ImageSpec(image=self.ctx.image_ref(name))
        status = self.client.image.ImageStatus(pb.ImageStatusRequest(image=spec))
        if status.HasField("image"):
            return str(status.image.id)
        return str(self.client.image.PullImage(pb.PullImageRequest(image=spec)).image_ref)

    def create_container(
        self, pod_id: str, pod_config: pb.PodSandboxConfig, config: pb.ContainerConfig
    ) -> str:
        """Pull the container's image if needed and create the container; tracked."""
        image = config.image.image
        short = image.rsplit("/", 1)[-1].split(":")[0]
        if short in self.ctx.images:
            self.ensure_image(short)
        resp = self.client.runtime.CreateContainer(
            pb.CreateContainerRequest(
                pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config
            )
        )
        self.containers.append(resp.container_id)
        return str(resp.container_id)

    def start(self, container_id: str) -> None:
        """StartContainer."""
        self.client.runtime.StartContainer(pb.StartContainerRequest(container_id=container_id))

    def run_container(
        self,
        pod_id: str,
        pod_config: pb.PodSandboxConfig,
        config: pb.ContainerConfig | None = None,
    ) -> str:
        """Create and start a container (``sleep 3600`` in busybox by default)."""
        cid = self.create_container(pod_id, pod_config, config or self.container_config())
        self.start(cid)
        return cid

    def status(self, container_id: str, verbose: bool = False) -> pb.ContainerStatus:
        """ContainerStatus of ``container_id``."""
        req = pb.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        return self.client.runtime.ContainerStatus(req).status

    def wait_exited(self, container_id: str, timeout: float = 20.0) -> pb.ContainerStatus:
        """Poll until the container is EXITED; a violation when it never gets there."""
        return wait_for(
            lambda: (s := self.status(container_id)).state == pb.CONTAINER_EXITED and s,
            f"ContainerStatus({container_id}).state",
            timeout,
        )

    def exec_sync(
        self, container_id: str, cmd: list[str], timeout: int = 0, deadline: float | None = None
    ) -> pb.ExecSyncResponse:
        """ExecSync ``cmd``; the gRPC deadline leaves room for the exec's own timeout."""
        req = pb.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout)
        return self.client.runtime.ExecSync(req, timeout=deadline or self.client.timeout + timeout)

    def exec_ok(self, container_id: str, cmd: list[str]) -> str:
        """ExecSync that must exit 0; returns stdout as text."""
        resp = self.exec_sync(container_id, cmd)
        if resp.exit_code != 0:
            raise Violation(
                f"ExecSync({cmd!r}).exit_code",
                0,
                f"{resp.exit_code}; stderr={resp.stderr.decode(errors='replace')!r}",
                API_REF,
            )
        return resp.stdout.decode(errors="replace")

    # -- images -----------------------------------------------------------------------------

    def pull(self, ref: str, **kwargs: Any) -> str:
        """PullImage; the result is tracked for removal."""
        resp = self.client.image.PullImage(
            pb.PullImageRequest(image=pb.ImageSpec(image=ref), **kwargs)
        )
        self.images.append(ref)
        return str(resp.image_ref)

    # -- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stop and remove everything tracked; NOT_FOUND is fine, other errors are noted."""
        rt = self.client.runtime
        steps: list[tuple[str, Callable[[], Any]]] = []
        for cid in reversed(self.containers):
            steps.append(
                (
                    "RemoveContainer",
                    lambda c=cid: rt.RemoveContainer(pb.RemoveContainerRequest(container_id=c)),
                )
            )
        for pid in reversed(self.pods):
            steps.append(
                (
                    "StopPodSandbox",
                    lambda p=pid: rt.StopPodSandbox(
                        pb.StopPodSandboxRequest(pod_sandbox_id=p), timeout=60
                    ),
                )
            )
            steps.append(
                (
                    "RemovePodSandbox",
                    lambda p=pid: rt.RemovePodSandbox(
                        pb.RemovePodSandboxRequest(pod_sandbox_id=p), timeout=60
                    ),
                )
            )
        for ref in self.images:
            steps.append(
                (
                    "RemoveImage",
                    lambda r=ref: self.client.image.RemoveImage(
                        pb.RemoveImageRequest(image=pb.ImageSpec(image=r))
                    ),
                )
            )
        problems = []
        done = (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)
        for what, step in steps:
            code, err = rpc_code(step)
            if code not in done:
                # one retry: a loaded runtime may time out tearing a pod's network down
                code, err = rpc_code(step)
            if code not in done:
                problems.append(f"{what}: {code.name} {err}")
        for path in self._dirs:
            shutil.rmtree(path, ignore_errors=True)
        for parent in self._cgroups:
            problems += remove_cgroup(parent)
        if problems:
            current_evidence().note("cleanup problems", problems=problems)
            log.warning("cleanup problems: %s", problems)


def cgroup_mounts() -> list[Path]:
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 unified one)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype in ("cgroup", "cgroup2"):
            points.append(Path(fields[4]))
    return points


def remove_cgroup(parent: str) -> list[str]:
    """Remove the directories of cgroup ``parent`` in every hierarchy; returns failures."""
    failures = []
    for mount in cgroup_mounts():
        path = mount / parent.lstrip("/")
        if path.is_dir():
            try:
                path.rmdir()
            except OSError as err:
                failures.append(f"rmdir {path}: {err}")
    return failures


@contextlib.contextmanager
def tracked(ctx: Context) -> Iterator[Tracker]:
    """A tracker whose cleanup runs however the block ends."""
    tracker = Tracker(ctx)
    try:
        yield tracker
    finally:
        tracker.cleanup()
