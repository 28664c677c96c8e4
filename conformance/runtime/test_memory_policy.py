"""Memory policy (config-linux.md, Memory policy, since v1.3): the process's NUMA policy.

The probe reads its own task policy with get_mempolicy(2); the tests compare mode, flags and
nodes with the config. The runtime is started with a policy of the harness's choosing on
the test's thread (processes inherit it across fork and execve), so a runtime that ignores
memoryPolicy is caught even when the policy asked for equals the kernel's default.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest

from conformance.core import check, check_equal, current_evidence, skip_host
from conformance.runtime import numa
from conformance.runtime.bundle import CGROUP_PARENT, Bundle
from conformance.runtime.driver import Container, Runtime, run_probe
from conformance.runtime.leftovers import host_view

NodePick = Callable[[list[int]], str | None]


def _first(nodes: list[int]) -> str | None:
    return str(nodes[0])


def _none(nodes: list[int]) -> str | None:
    return ""


def _two(nodes: list[int]) -> str | None:
    return f"{nodes[0]},{nodes[1]}" if len(nodes) > 1 else None


def _range(nodes: list[int]) -> str | None:
    pairs = [(a, b) for a, b in pairwise(nodes) if b == a + 1]
    return f"{pairs[0][0]}-{pairs[0][1]}" if pairs else None


VALID: dict[str, tuple[str, tuple[str, ...], NodePick]] = {
    "bind": ("MPOL_BIND", (), _first),
    "preferred": ("MPOL_PREFERRED", (), _first),
    "interleave": ("MPOL_INTERLEAVE", (), _first),
    "preferred-many": ("MPOL_PREFERRED_MANY", (), _first),
    "weighted-interleave": ("MPOL_WEIGHTED_INTERLEAVE", (), _first),
    "local": ("MPOL_LOCAL", (), _none),
    "default": ("MPOL_DEFAULT", (), _none),
    "bind-static-nodes": ("MPOL_BIND", ("MPOL_F_STATIC_NODES",), _first),
    "bind-relative-nodes": ("MPOL_BIND", ("MPOL_F_RELATIVE_NODES",), _first),
    "bind-numa-balancing": ("MPOL_BIND", ("MPOL_F_NUMA_BALANCING",), _first),
    "bind-node-list": ("MPOL_BIND", (), _two),
    "interleave-node-range": ("MPOL_INTERLEAVE", (), _range),
}
"""Policies valid on any host with enough memory nodes: mode, flags, how to pick nodes."""


def _background(mode: str, nodes: list[int]) -> tuple[str, list[int]]:
    """A policy for the runtime itself that the container's must not be confused with."""
    return ("MPOL_INTERLEAVE" if mode == "MPOL_PREFERRED" else "MPOL_PREFERRED"), nodes[:1]


def _expected(mode: str, flags: tuple[str, ...], nodes: str) -> dict[str, object]:
    return {"mode": mode, "flags": sorted(flags), "nodes": sorted(numa.parse_nodes(nodes))}


def _run_under(
    container: Container, bundle: Bundle, mode: str, nodes: list[int]
) -> dict[str, object]:
    """Run the probe with the runtime started under the policy (mode, nodes)."""
    with numa.thread_policy(mode, (), nodes) as err:
        if err:
            skip_host(f"the harness cannot run under {mode} on nodes {nodes}: errno {err}")
        current_evidence().note("runtime started under", mode=mode, nodes=nodes)
        return run_probe(container, bundle)


@pytest.mark.requirement("linux-memory-policy")
@pytest.mark.parametrize("case", list(VALID))
def test_memory_policy_is_applied(container: Container, bundle: Bundle, case: str) -> None:
    """The container process runs with the memoryPolicy's mode, flags and nodes."""
    mode, flags, pick = VALID[case]
    host = numa.host_memory_nodes()
    nodes = pick(host)
    if nodes is None:
        skip_host(f"{case} needs more memory nodes than the host has ({host})")
    refused = numa.host_refuses(mode, flags, numa.parse_nodes(nodes))
    if refused:
        skip_host(refused)
    bundle.linux["memoryPolicy"] = numa.config_policy(mode, nodes, flags)

    report = _run_under(container, bundle, *_background(mode, host))

    check_equal(
        numa.seen_policy(report), _expected(mode, flags, nodes), "get_mempolicy in the container"
    )


@pytest.mark.requirement("linux-memory-policy-unset")
def test_unset_memory_policy_leaves_the_inherited_one(container: Container, bundle: Bundle) -> None:
    """Without memoryPolicy the process keeps the policy the runtime was started with."""
    first = numa.host_memory_nodes()[:1]
    bundle.linux.pop("memoryPolicy", None)

    report = _run_under(container, bundle, "MPOL_PREFERRED", first)

    check_equal(
        numa.seen_policy(report),
        {"mode": "MPOL_PREFERRED", "flags": [], "nodes": first},
        "get_mempolicy in the container (the runtime ran under MPOL_PREFERRED)",
    )


def _first_host() -> str:
    return str(numa.host_memory_nodes()[0])


INVALID: dict[str, tuple[str, tuple[str, ...], Callable[[], str], bool]] = {
    "unknown-mode": ("MPOL_NOT_A_MODE", (), _first_host, False),
    "unknown-flag": ("MPOL_BIND", ("MPOL_F_NOT_A_FLAG",), _first_host, False),
    "malformed-nodes": ("MPOL_BIND", (), lambda: f"{_first_host()}-x", False),
    "absent-node": ("MPOL_BIND", (), lambda: str(numa.absent_node()), True),
    "nodes-on-default": ("MPOL_DEFAULT", (), _first_host, True),
    "nodes-on-local": ("MPOL_LOCAL", (), _first_host, True),
    "bind-without-nodes": ("MPOL_BIND", (), lambda: "", True),
    "static-and-relative": (
        "MPOL_BIND",
        ("MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"),
        _first_host,
        True,
    ),
    "numa-balancing-on-interleave": (
        "MPOL_INTERLEAVE",
        ("MPOL_F_NUMA_BALANCING",),
        _first_host,
        True,
    ),
}
"""Policies no runtime can apply: mode, flags, nodes, and whether the kernel is the judge."""


@pytest.mark.requirement("linux-memory-policy-invalid")
@pytest.mark.parametrize("case", list(INVALID))
def test_unappliable_memory_policy_fails_create(
    runtime: Runtime, container: Container, bundle: Bundle, case: str
) -> None:
    """A memoryPolicy that cannot be applied fails create and leaves the host as it was."""
    mode, flags, pick, kernel_judged = INVALID[case]
    nodes = pick()
    if kernel_judged and not numa.host_refuses(mode, flags, numa.parse_nodes(nodes)):
        skip_host(f"this kernel accepts {case} ({mode} {list(flags)} nodes {nodes!r})")
    bundle.linux["memoryPolicy"] = numa.config_policy(mode, nodes, flags)
    if runtime.target.cgroups:
        # A cgroup named after the id, so one left behind shows in the host view.
        bundle.linux["cgroupsPath"] = f"/{CGROUP_PARENT}/{container.cid}"
    before = host_view(runtime.target.root, container.cid, container.bundle)

    res = container.create()

    check(not res.ok, f"create with memoryPolicy {case}", "a non-zero exit status", res.returncode)
    diff = before.differences(host_view(runtime.target.root, container.cid, container.bundle))
    check_equal(diff, {}, f"host after the failed create ({case})")
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")
