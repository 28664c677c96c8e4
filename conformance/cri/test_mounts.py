"""Mount propagation between the host and a container (Mount.propagation)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.core import EnvironmentProblem, check, check_equal
from conformance.cri.helpers import wait_for
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvironmentProblem(f"failed to mount {args}: {done.stderr.strip()}")


def _host_mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


@pytest.fixture
def shared_dir(cri) -> Iterator[Path]:
    """A host directory that is its own rshared mount point; unmounted afterwards."""
    path = cri.tempdir("cri-prop-")
    _mount("--bind", str(path), str(path))
    try:
        _mount("--make-rshared", str(path))
        yield path
    finally:
        # lazy and recursive: the container's mounts propagated back live below it
        subprocess.run(["umount", "-R", "-l", str(path)], capture_output=True)


def _container(cri, host: Path, propagation: int, privileged: bool = False) -> str:
    pod_sc = pb.LinuxSandboxSecurityContext(privileged=privileged)
    config = cri.pod_config("prop", security_context=pod_sc)
    pod_id, _ = cri.run_pod(config)
    mount = pb.Mount(container_path="/mnt/vol", host_path=str(host), propagation=propagation)
    sc = pb.LinuxContainerSecurityContext(privileged=privileged)
    ctr = cri.container_config(mounts=[mount], linux=pb.LinuxContainerConfig(security_context=sc))
    return cri.run_container(pod_id, config, ctr)


def _sees(cri, cid: str, path: str) -> bool:
    lines = cri.exec_ok(cid, ["cat", "/proc/self/mountinfo"]).splitlines()
    return any(line.split()[4] == path for line in lines)


@pytest.mark.requirement("CRI-039")
@pytest.mark.parametrize(
    ("propagation", "visible"),
    [(pb.PROPAGATION_PRIVATE, False), (pb.PROPAGATION_HOST_TO_CONTAINER, True)],
    ids=["private", "host-to-container"],
)
def test_host_mount_reaches_container_only_when_propagated(cri, shared_dir, propagation, visible):
    """A mount made on the host after start shows in the container only with rslave/rshared
    propagation."""
    cid = _container(cri, shared_dir, propagation)
    (shared_dir / "sub").mkdir()

    _mount("-t", "tmpfs", "cri-prop", str(shared_dir / "sub"))

    if visible:
        wait_for(lambda: _sees(cri, cid, "/mnt/vol/sub"), "host mount in the container", 5)
    else:
        check(
            not _sees(cri, cid, "/mnt/vol/sub"),
            "/mnt/vol/sub in the container",
            "not mounted (private propagation)",
            "mounted",
        )
    mounts = [m for m in cri.status(cid).mounts if m.container_path == "/mnt/vol"]
    if mounts:
        check_equal(mounts[0].propagation, propagation, "ContainerStatus.mounts[].propagation")


@pytest.mark.requirement("CRI-039")
def test_bidirectional_mount_reaches_the_host(cri, shared_dir):
    """A mount made in a privileged container under a BIDIRECTIONAL volume shows on the host."""
    cid = _container(cri, shared_dir, pb.PROPAGATION_BIDIRECTIONAL, privileged=True)

    cri.exec_ok(cid, ["sh", "-c", "mkdir -p /mnt/vol/ctr && mount -t tmpfs ctr /mnt/vol/ctr"])

    target = str(shared_dir / "ctr")
    wait_for(
        lambda: any(line.split()[4] == target for line in _host_mounts().splitlines()),
        f"{target} on the host",
        5,
    )
