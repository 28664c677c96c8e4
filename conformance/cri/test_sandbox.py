"""Pod sandbox lifecycle, attributes, filters, idempotence and sysctls."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from conformance.core import check, check_equal
from conformance.cri.helpers import rpc_code
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _list(cri, **filters):
    flt = pb.PodSandboxFilter(**filters)
    return cri.client.runtime.ListPodSandbox(pb.ListPodSandboxRequest(filter=flt)).items


@pytest.mark.requirement("CRI-010", "CRI-018")
def test_run_pod_sandbox_returns_id_of_ready_pod(cri):
    """RunPodSandbox returns an id whose status is READY with a creation time and an IP."""
    before = time.time_ns()
    pod_id, _ = cri.run_pod()

    check(pod_id, "RunPodSandboxResponse.pod_sandbox_id", "non-empty", pod_id)
    status = cri.pod_status(pod_id)
    check_equal(pb.PodSandboxState.Name(status.state), "SANDBOX_READY", "PodSandboxStatus.state")
    check_equal(status.id, pod_id, "PodSandboxStatus.id")
    # created_at is in nanoseconds since the epoch: a seconds value would be far in the past
    check(
        before - 60e9 < status.created_at < time.time_ns() + 60e9,
        "PodSandboxStatus.created_at",
        f"nanoseconds near {before}",
        status.created_at,
    )
    check(status.network.ip, "PodSandboxStatus.network.ip", "the pod IP", status.network.ip)
    check(
        status.linux.namespaces.HasField("options"),
        "PodSandboxStatus.linux.namespaces.options",
        "set",
        status.linux,
    )


@pytest.mark.requirement("CRI-011")
def test_pod_metadata_labels_and_annotations_round_trip(cri):
    """Metadata, labels and annotations come back unchanged in status and list."""
    config = cri.pod_config("attrs")
    config.labels.update({"conformance.cri/test": "attrs", "tier": "one"})
    config.annotations.update({"conformance.cri/note": "kept as given: =,; ", "empty": ""})
    pod_id, _ = cri.run_pod(config)

    status = cri.pod_status(pod_id)
    check_equal(status.metadata, config.metadata, "PodSandboxStatus.metadata")
    check_equal(dict(status.labels), dict(config.labels), "PodSandboxStatus.labels")
    check_equal(dict(status.annotations), dict(config.annotations), "PodSandboxStatus.annotations")
    listed = _list(cri, id=pod_id)
    check_equal(len(listed), 1, f"ListPodSandbox(id={pod_id}) item count")
    check_equal(listed[0].metadata, config.metadata, "ListPodSandbox.items[0].metadata")
    check_equal(dict(listed[0].labels), dict(config.labels), "ListPodSandbox.items[0].labels")
    check_equal(
        dict(listed[0].annotations), dict(config.annotations), "ListPodSandbox.items[0].annotations"
    )


@pytest.mark.requirement("CRI-015")
def test_stop_pod_sandbox_makes_it_not_ready_and_stops_containers(cri):
    """StopPodSandbox leaves the pod NOTREADY and its containers EXITED."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)

    cri.client.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)

    status = cri.pod_status(pod_id)
    check_equal(pb.PodSandboxState.Name(status.state), "SANDBOX_NOTREADY", "PodSandboxStatus.state")
    state = cri.status(cid).state
    check_equal(pb.ContainerState.Name(state), "CONTAINER_EXITED", "ContainerStatus.state")


@pytest.mark.requirement("CRI-016", "CRI-017")
def test_remove_pod_sandbox_removes_pod_and_containers(cri):
    """RemovePodSandbox removes the pod and its containers; status then gives NOT_FOUND."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)
    cri.client.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)

    cri.client.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id))

    code, _ = rpc_code(lambda: cri.pod_status(pod_id))
    check_equal(code, grpc.StatusCode.NOT_FOUND, "PodSandboxStatus of a removed pod: code")
    check_equal(len(_list(cri, id=pod_id)), 0, "ListPodSandbox of a removed pod")
    code, _ = rpc_code(lambda: cri.status(cid))
    check_equal(code, grpc.StatusCode.NOT_FOUND, "ContainerStatus of a removed pod's container")


@pytest.mark.requirement("CRI-016")
def test_remove_running_pod_sandbox_force_removes_it(cri):
    """RemovePodSandbox on a READY pod with a running container removes both."""
    pod_id, config = cri.run_pod()
    cid = cri.run_container(pod_id, config)

    cri.client.runtime.RemovePodSandbox(
        pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60
    )

    check_equal(len(_list(cri, id=pod_id)), 0, "ListPodSandbox of a removed pod")
    code, _ = rpc_code(lambda: cri.status(cid))
    check_equal(code, grpc.StatusCode.NOT_FOUND, "ContainerStatus of a removed pod's container")


@pytest.mark.requirement("CRI-017")
def test_pod_sandbox_status_of_unknown_pod_is_not_found(cri):
    """PodSandboxStatus of an id that never existed fails with NOT_FOUND."""
    code, _ = rpc_code(lambda: cri.pod_status("0" * 64))

    check_equal(code, grpc.StatusCode.NOT_FOUND, "PodSandboxStatus(unknown id) status code")


@pytest.mark.requirement("CRI-019")
def test_list_pod_sandbox_filters_by_id_state_and_labels(cri):
    """ListPodSandbox returns exactly the pods its id, state and label filters select."""
    mark = cri.pod_config().metadata.uid
    pods = []
    for i in range(2):
        config = cri.pod_config(f"filter{i}")
        config.labels.update({"conformance.cri/run": mark, "index": str(i)})
        pods.append(cri.run_pod(config)[0])
    cri.client.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pods[1]), timeout=60)

    by_id = [p.id for p in _list(cri, id=pods[0])]
    check_equal(by_id, [pods[0]], "ListPodSandbox(filter.id) ids")
    by_label = sorted(p.id for p in _list(cri, label_selector={"conformance.cri/run": mark}))
    check_equal(by_label, sorted(pods), "ListPodSandbox(filter.label_selector) ids")
    both = [p.id for p in _list(cri, label_selector={"conformance.cri/run": mark, "index": "1"})]
    check_equal(both, [pods[1]], "ListPodSandbox(two labels) ids")
    ready = pb.PodSandboxStateValue(state=pb.SANDBOX_READY)
    by_state = [p.id for p in _list(cri, state=ready, label_selector={"conformance.cri/run": mark})]
    check_equal(by_state, [pods[0]], "ListPodSandbox(state=READY, labels) ids")
    notready = pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)
    stopped = [
        p.id for p in _list(cri, state=notready, label_selector={"conformance.cri/run": mark})
    ]
    check_equal(stopped, [pods[1]], "ListPodSandbox(state=NOTREADY, labels) ids")


@pytest.mark.requirement("CRI-015")
def test_stop_pod_sandbox_twice_succeeds(cri):
    """A second StopPodSandbox of a stopped pod succeeds."""
    pod_id, _ = cri.run_pod()
    req = pb.StopPodSandboxRequest(pod_sandbox_id=pod_id)
    cri.client.runtime.StopPodSandbox(req, timeout=60)

    code, _ = rpc_code(lambda: cri.client.runtime.StopPodSandbox(req, timeout=60))

    check_equal(code, grpc.StatusCode.OK, "second StopPodSandbox status code")


@pytest.mark.requirement("CRI-015")
def test_stop_pod_sandbox_of_absent_pod_succeeds(cri):
    """StopPodSandbox of an id the runtime does not know succeeds (it is idempotent)."""
    req = pb.StopPodSandboxRequest(pod_sandbox_id="f" * 64)

    code, _ = rpc_code(lambda: cri.client.runtime.StopPodSandbox(req))

    check_equal(code, grpc.StatusCode.OK, "StopPodSandbox(absent id) status code")


@pytest.mark.requirement("CRI-016")
def test_remove_pod_sandbox_of_absent_pod_succeeds(cri):
    """RemovePodSandbox of an unknown id, and of an already removed pod, succeeds."""
    pod_id, _ = cri.run_pod()
    cri.client.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    req = pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id)
    cri.client.runtime.RemovePodSandbox(req)

    again, _ = rpc_code(lambda: cri.client.runtime.RemovePodSandbox(req))
    absent, _ = rpc_code(
        lambda: cri.client.runtime.RemovePodSandbox(
            pb.RemovePodSandboxRequest(pod_sandbox_id="e" * 64)
        )
    )

    check_equal(again, grpc.StatusCode.OK, "second RemovePodSandbox status code")
    check_equal(absent, grpc.StatusCode.OK, "RemovePodSandbox(absent id) status code")


@pytest.mark.requirement("CRI-020")
@pytest.mark.parametrize(
    ("sysctl", "value"),
    [("kernel.shm_rmid_forced", "1"), ("fs.mqueue.msg_max", "17")],
    ids=["safe", "unsafe"],
)
def test_pod_sysctls_are_applied(cri, sysctl, value):
    """A namespaced sysctl given in the pod config is visible inside its containers."""
    config = cri.pod_config("sysctl", sysctls={sysctl: value})
    pod_id, _ = cri.run_pod(config)
    cid = cri.run_container(pod_id, config)

    got = cri.exec_ok(cid, ["cat", "/proc/sys/" + sysctl.replace(".", "/")]).strip()

    check_equal(got, value, f"/proc/sys for {sysctl} in the container")


@pytest.mark.requirement("CRI-021")
def test_cgroup_parent_holds_the_containers_cgroups(cri):
    """Containers of a pod with a cgroup_parent live in cgroups below that parent."""
    parent = cri.cgroup_parent()
    config = cri.pod_config("cgroup", cgroup_parent=parent)
    pod_id, _ = cri.run_pod(config)
    cid = cri.run_container(pod_id, config)

    lines = cri.exec_ok(cid, ["cat", "/proc/self/cgroup"]).splitlines()

    # inside a cgroup namespace paths are relative ("/"); the host's view is then checked
    req = pb.ContainerStatusRequest(container_id=cid, verbose=True)
    host_pid = cri.client.runtime.ContainerStatus(req).info.get("info", "")
    paths = [line.split(":", 2)[2] for line in lines]
    if all(p == "/" for p in paths) and host_pid:
        pid = json.loads(host_pid).get("pid")
        paths = [
            line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        ]
    check(
        any(p.startswith(parent + "/") for p in paths),
        "/proc/<container>/cgroup",
        f"paths below {parent}",
        paths,
    )
