"""Container lifecycle, attributes, filters, idempotence, resources and volumes."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from conformance.core import check, check_equal
from conformance.cri.helpers import rpc_code, wait_for
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _state(cri, cid: str) -> str:
    return pb.ContainerState.Name(cri.status(cid).state)


def _list(cri, **filters):
    flt = pb.ContainerFilter(**filters)
    return cri.client.runtime.ListContainers(pb.ListContainersRequest(filter=flt)).containers


def _stop(cri, cid: str, timeout: int = 10) -> None:
    req = pb.StopContainerRequest(container_id=cid, timeout=timeout)
    cri.client.runtime.StopContainer(req, timeout=timeout + 30)


@pytest.mark.requirement("CRI-030")
def test_create_container_is_created_and_listed_with_attributes(cri):
    """A new container is CREATED, listed in its pod, with metadata, labels and annotations."""
    pod_id, pod_config = cri.run_pod()
    config = cri.container_config()
    config.labels.update({"conformance.cri/test": "attrs"})
    config.annotations.update({"conformance.cri/note": "value with spaces, =;"})

    cid = cri.create_container(pod_id, pod_config, config)

    status = cri.status(cid)
    check_equal(pb.ContainerState.Name(status.state), "CONTAINER_CREATED", "ContainerStatus.state")
    check_equal(status.metadata, config.metadata, "ContainerStatus.metadata")
    check_equal(dict(status.labels), dict(config.labels), "ContainerStatus.labels")
    check_equal(dict(status.annotations), dict(config.annotations), "ContainerStatus.annotations")
    listed = _list(cri, pod_sandbox_id=pod_id)
    check_equal([c.id for c in listed], [cid], f"ListContainers(pod {pod_id}) ids")
    check_equal(listed[0].metadata, config.metadata, "ListContainers.containers[0].metadata")
    check_equal(dict(listed[0].labels), dict(config.labels), "ListContainers.containers[0].labels")
    check_equal(
        dict(listed[0].annotations),
        dict(config.annotations),
        "ListContainers.containers[0].annotations",
    )


@pytest.mark.requirement("CRI-031", "CRI-034")
def test_start_container_makes_it_running_with_status_fields(cri):
    """A started container is RUNNING and its status names its image, times and log path."""
    pod_id, pod_config = cri.run_pod()
    config = cri.container_config()
    cid = cri.create_container(pod_id, pod_config, config)
    before = time.time_ns()

    cri.start(cid)

    status = cri.status(cid)
    check_equal(pb.ContainerState.Name(status.state), "CONTAINER_RUNNING", "ContainerStatus.state")
    check(
        status.created_at and status.started_at >= status.created_at,
        "ContainerStatus.started_at",
        f">= created_at {status.created_at}",
        status.started_at,
    )
    check(
        status.started_at > before - 60e9,
        "ContainerStatus.started_at",
        "nanoseconds",
        status.started_at,
    )
    check(status.image_ref, "ContainerStatus.image_ref", "the image's reference", status.image_ref)
    check_equal(status.image.image, config.image.image, "ContainerStatus.image.image")
    check(
        status.log_path.endswith(config.log_path),
        "ContainerStatus.log_path",
        f"ends with {config.log_path}",
        status.log_path,
    )


@pytest.mark.requirement("CRI-032", "CRI-034")
def test_stop_container_ends_it_with_exit_code(cri):
    """StopContainer ends a running container: EXITED with finish time and exit code."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)

    _stop(cri, cid, timeout=2)

    status = cri.status(cid)
    check_equal(pb.ContainerState.Name(status.state), "CONTAINER_EXITED", "ContainerStatus.state")
    check(
        status.finished_at >= status.started_at > 0,
        "ContainerStatus.finished_at",
        f">= started_at {status.started_at}",
        status.finished_at,
    )
    check(
        status.exit_code != 0,
        "ContainerStatus.exit_code",
        "non-zero (killed by a signal)",
        status.exit_code,
    )


@pytest.mark.requirement("CRI-032")
def test_stop_container_kills_after_grace_period(cri):
    """A process ignoring SIGTERM is killed once the StopContainer timeout passes."""
    pod_id, pod_config = cri.run_pod()
    script = "trap '' TERM; echo trap-set; while :; do sleep 1; done"
    config = cri.container_config(command=("sh", "-c", script))
    cid = cri.run_container(pod_id, pod_config, config)
    log = Path(pod_config.log_directory) / config.log_path
    wait_for(lambda: log.is_file() and "trap-set" in log.read_text(), "the TERM trap set")
    started = time.monotonic()

    _stop(cri, cid, timeout=2)

    elapsed = time.monotonic() - started
    status = cri.status(cid)
    check_equal(pb.ContainerState.Name(status.state), "CONTAINER_EXITED", "ContainerStatus.state")
    check(1.5 < elapsed < 20, "StopContainer duration", "the 2 s grace period plus slack", elapsed)
    check_equal(status.exit_code, 137, "ContainerStatus.exit_code (killed by SIGKILL)")


@pytest.mark.requirement("CRI-032")
def test_stop_container_returns_early_when_process_exits(cri):
    """StopContainer with a long timeout returns soon after the process exits on SIGTERM."""
    pod_id, pod_config = cri.run_pod()
    # until the trap is set, SIGTERM from outside would kill the shell (exit 143): wait for it
    script = "trap 'exit 0' TERM; echo trap-set; while :; do sleep 0.1; done"
    config = cri.container_config(command=("sh", "-c", script))
    cid = cri.run_container(pod_id, pod_config, config)
    log = Path(pod_config.log_directory) / config.log_path
    wait_for(lambda: log.is_file() and "trap-set" in log.read_text(), "the TERM trap set")
    started = time.monotonic()

    _stop(cri, cid, timeout=30)

    elapsed = time.monotonic() - started
    check(elapsed < 15, "StopContainer duration", "well before the 30 s timeout", elapsed)
    status = cri.status(cid)
    check_equal(status.exit_code, 0, "ContainerStatus.exit_code after a clean TERM exit")


@pytest.mark.requirement("CRI-033")
@pytest.mark.parametrize("state", ["created", "running", "exited"])
def test_remove_container_in_any_state(cri, state):
    """RemoveContainer removes a created, running or exited container."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.create_container(pod_id, pod_config, cri.container_config())
    if state != "created":
        cri.start(cid)
    if state == "exited":
        _stop(cri, cid, timeout=2)

    cri.client.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=60)

    code, _ = rpc_code(lambda: cri.status(cid))
    check_equal(code, grpc.StatusCode.NOT_FOUND, "ContainerStatus of a removed container")
    check_equal(_list(cri, id=cid), [], "ListContainers of a removed container")


@pytest.mark.requirement("CRI-034")
def test_container_status_of_unknown_container_is_not_found(cri):
    """ContainerStatus of an id that never existed fails with NOT_FOUND."""
    code, _ = rpc_code(lambda: cri.status("0" * 64))

    check_equal(code, grpc.StatusCode.NOT_FOUND, "ContainerStatus(unknown id) status code")


@pytest.mark.requirement("CRI-034")
def test_exited_container_reports_its_exit_code(cri):
    """A container whose command exits 3 is EXITED with exit_code 3."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(
        pod_id, pod_config, cri.container_config(command=("sh", "-c", "exit 3"))
    )

    status = cri.wait_exited(cid)

    check_equal(status.exit_code, 3, "ContainerStatus.exit_code")


@pytest.mark.requirement("CRI-032")
def test_stop_container_twice_succeeds(cri):
    """StopContainer of an exited container succeeds; so does removing it twice."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)
    _stop(cri, cid, timeout=2)

    code, _ = rpc_code(lambda: _stop(cri, cid, timeout=2))

    check_equal(code, grpc.StatusCode.OK, "second StopContainer status code")


@pytest.mark.requirement("CRI-032")
def test_stop_container_of_absent_container_succeeds(cri):
    """StopContainer of an id the runtime does not know succeeds (it is idempotent)."""
    code, _ = rpc_code(lambda: _stop(cri, "d" * 64, timeout=1))

    check_equal(code, grpc.StatusCode.OK, "StopContainer(absent id) status code")


@pytest.mark.requirement("CRI-033")
def test_remove_container_of_absent_container_succeeds(cri):
    """RemoveContainer of an unknown id, and of a container removed already, succeeds."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.create_container(pod_id, pod_config, cri.container_config())
    req = pb.RemoveContainerRequest(container_id=cid)
    cri.client.runtime.RemoveContainer(req)

    again, _ = rpc_code(lambda: cri.client.runtime.RemoveContainer(req))
    absent, _ = rpc_code(
        lambda: cri.client.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id="c" * 64))
    )

    check_equal(again, grpc.StatusCode.OK, "second RemoveContainer status code")
    check_equal(absent, grpc.StatusCode.OK, "RemoveContainer(absent id) status code")


@pytest.mark.requirement("CRI-036")
def test_list_containers_filters_by_id_state_pod_and_labels(cri):
    """ListContainers returns exactly what its id, state, pod and label filters select."""
    pod_id, pod_config = cri.run_pod()
    mark = pod_config.metadata.uid
    ids = []
    for i in range(2):
        config = cri.container_config(name=f"flt{i}")
        config.labels.update({"conformance.cri/run": mark, "index": str(i)})
        ids.append(cri.create_container(pod_id, pod_config, config))
    cri.start(ids[0])
    sel = {"conformance.cri/run": mark}

    check_equal([c.id for c in _list(cri, id=ids[1])], [ids[1]], "ListContainers(id) ids")
    check_equal(
        sorted(c.id for c in _list(cri, pod_sandbox_id=pod_id)),
        sorted(ids),
        "ListContainers(pod_sandbox_id) ids",
    )
    check_equal(
        sorted(c.id for c in _list(cri, label_selector=sel)),
        sorted(ids),
        "ListContainers(label_selector) ids",
    )
    running = pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)
    check_equal(
        [c.id for c in _list(cri, state=running, label_selector=sel)],
        [ids[0]],
        "ListContainers(state=RUNNING, labels) ids",
    )
    created = pb.ContainerStateValue(state=pb.CONTAINER_CREATED)
    check_equal(
        [c.id for c in _list(cri, state=created, pod_sandbox_id=pod_id)],
        [ids[1]],
        "ListContainers(state=CREATED, pod) ids",
    )


@pytest.mark.requirement("CRI-037")
def test_update_container_resources_applies_memory_limit(cri):
    """UpdateContainerResources changes the container's memory limit before it returns."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)
    limit = 200 * 1024 * 1024

    cri.client.runtime.UpdateContainerResources(
        pb.UpdateContainerResourcesRequest(
            container_id=cid,
            linux=pb.LinuxContainerResources(memory_limit_in_bytes=limit, cpu_shares=512),
        )
    )

    script = (
        "cat /sys/fs/cgroup/memory.max 2>/dev/null "
        "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
    )
    got = cri.exec_ok(cid, ["sh", "-c", script]).strip()
    check_equal(got, str(limit), "memory limit seen in the container's cgroup")


@pytest.mark.requirement("CRI-038")
@pytest.mark.parametrize("symlink", [False, True], ids=["direct", "symlinked-host-path"])
def test_host_path_volume_is_visible(cri, symlink):
    """A host directory mounted into the container shows its files, also via a symlink."""
    host = cri.tempdir("cri-vol-")
    (host / "data").mkdir()
    (host / "data" / "hello.txt").write_text("from the host\n")
    source = host / "data"
    if symlink:
        (host / "link").symlink_to(source)
        source = host / "link"
    pod_id, pod_config = cri.run_pod()
    mount = pb.Mount(container_path="/mnt/vol", host_path=str(source))
    cid = cri.run_container(pod_id, pod_config, cri.container_config(mounts=[mount]))

    got = cri.exec_ok(cid, ["cat", "/mnt/vol/hello.txt"])

    check_equal(got, "from the host\n", "/mnt/vol/hello.txt in the container")


@pytest.mark.requirement("CRI-038")
def test_readonly_volume_refuses_writes(cri):
    """A mount with readonly set cannot be written from the container."""
    host = cri.tempdir("cri-vol-")
    pod_id, pod_config = cri.run_pod()
    mount = pb.Mount(container_path="/mnt/ro", host_path=str(host), readonly=True)
    cid = cri.run_container(pod_id, pod_config, cri.container_config(mounts=[mount]))

    resp = cri.exec_sync(cid, ["touch", "/mnt/ro/file"])

    check(
        resp.exit_code != 0,
        "ExecSync(touch on a read-only mount).exit_code",
        "non-zero",
        resp.exit_code,
    )
    check(not (host / "file").exists(), str(host / "file"), "absent", "created")


@pytest.mark.requirement("CRI-035")
def test_container_over_memory_limit_is_oom_killed(cri):
    """A container whose process outgrows a 15 MiB memory limit ends with 137 and OOMKilled."""
    pod_id, pod_config = cri.run_pod()
    # tail keeps its whole input while looking for the last lines; /dev/zero has no newline
    config = cri.container_config(
        command=("sh", "-c", "head -c 200m /dev/zero | tail"),
        linux=pb.LinuxContainerConfig(
            resources=pb.LinuxContainerResources(memory_limit_in_bytes=15 * 1024 * 1024)
        ),
    )
    cid = cri.run_container(pod_id, pod_config, config)

    status = cri.wait_exited(cid, timeout=30)

    check_equal(status.exit_code, 137, "ContainerStatus.exit_code")
    check_equal(status.reason, "OOMKilled", "ContainerStatus.reason")
