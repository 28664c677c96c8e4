"""Container and pod statistics."""

from __future__ import annotations

import grpc
import pytest

from conformance.core import check, check_equal, not_applicable
from conformance.cri.helpers import rpc_code
from wire.proto.cri import api_pb2 as pb

pytestmark = pytest.mark.timeout(90)


def _check_usage(stats: pb.ContainerStats, cid: str) -> None:
    check_equal(stats.attributes.id, cid, "ContainerStats.attributes.id")
    check(
        stats.attributes.metadata.name,
        "ContainerStats.attributes.metadata.name",
        "set",
        stats.attributes,
    )
    check(stats.cpu.timestamp > 0, "ContainerStats.cpu.timestamp", "> 0", stats.cpu)
    check(stats.memory.timestamp > 0, "ContainerStats.memory.timestamp", "> 0", stats.memory)
    check(
        stats.memory.HasField("working_set_bytes"),
        "ContainerStats.memory.working_set_bytes",
        "set",
        stats.memory,
    )


@pytest.mark.requirement("CRI-053")
def test_container_stats_of_running_container(cri):
    """ContainerStats of a running container names it and has timestamped CPU and memory."""
    pod_id, pod_config = cri.run_pod()
    cid = cri.run_container(pod_id, pod_config)

    resp = cri.client.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=cid))

    _check_usage(resp.stats, cid)


@pytest.mark.requirement("CRI-053")
def test_list_container_stats_filters_by_id_pod_and_labels(cri):
    """ListContainerStats returns the containers its id, pod and label filters select."""
    pod_id, pod_config = cri.run_pod()
    ids = []
    for i in range(3):
        config = cri.container_config(name=f"stats{i}")
        config.labels.update({"conformance.cri/stats": pod_config.metadata.uid, "i": str(i)})
        ids.append(cri.run_container(pod_id, pod_config, config))

    def listed(**flt) -> list[str]:
        req = pb.ListContainerStatsRequest(filter=pb.ContainerStatsFilter(**flt))
        return sorted(s.attributes.id for s in cri.client.runtime.ListContainerStats(req).stats)

    check_equal(listed(id=ids[0]), [ids[0]], "ListContainerStats(id)")
    check_equal(listed(pod_sandbox_id=pod_id), sorted(ids), "ListContainerStats(pod_sandbox_id)")
    sel = {"conformance.cri/stats": pod_config.metadata.uid, "i": "2"}
    check_equal(listed(label_selector=sel), [ids[2]], "ListContainerStats(label_selector)")
    every = listed()
    check(set(ids) <= set(every), "ListContainerStats(no filter)", f"includes {ids}", every)


@pytest.mark.requirement("CRI-054")
def test_pod_sandbox_stats_describe_the_pod(cri):
    """PodSandboxStats, when implemented, names the pod and its containers."""
    # kubelet always gives pods a cgroup parent; runtimes may read pod stats from it
    pod_id, pod_config = cri.run_pod(cri.pod_config("pstats", cgroup_parent=cri.cgroup_parent()))
    cid = cri.run_container(pod_id, pod_config)

    code, resp = rpc_code(
        lambda: cri.client.runtime.PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id=pod_id))
    )

    if code == grpc.StatusCode.UNIMPLEMENTED:
        not_applicable("PodSandboxStats is not implemented (optional)")
    check_equal(code, grpc.StatusCode.OK, "PodSandboxStats status code")
    check_equal(resp.stats.attributes.id, pod_id, "PodSandboxStats.attributes.id")
    ids = [c.attributes.id for c in resp.stats.linux.containers]
    check(cid in ids, "PodSandboxStats.linux.containers", f"includes {cid}", ids)
