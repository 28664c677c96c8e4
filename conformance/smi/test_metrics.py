"""Traffic Metrics: API shape, resource kinds, edges, and numbers that agree with the traffic.

The world: backend deployment ``metered`` with two pods, a second backend ``other``, and the
client ``client`` allowed to reach both. Each test sends its own traffic in its own namespace,
so counts are exact expectations, not lower bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from conformance.core import Violation, check, check_equal
from conformance.smi.conftest import World, converge
from conformance.smi.quantity import parse_quantity
from conformance.smi.target import HttpCall, Mesh, Workload

KIND = "TrafficMetrics"
LATENCIES = ("p50_response_latency", "p90_response_latency", "p99_response_latency")
COUNTS = ("success_count", "failure_count")
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def metric_map(obj: dict[str, Any], where: str) -> dict[str, tuple[Decimal, str]]:
    """``name -> (value, unit)`` of a TrafficMetrics object; latencies normalised to seconds."""
    items = obj.get("metrics")
    check(isinstance(items, list), f"{where}.metrics", "a list of metrics", items)
    out: dict[str, tuple[Decimal, str]] = {}
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        check(isinstance(name, str), f"{where}.metrics[{i}].name", "a metric name", item)
        value = parse_quantity(item.get("value"), f"{where}.metrics[{i}].value ({name})")
        unit = str(item.get("unit") or "")
        if name in LATENCIES:
            check(
                unit in ("ms", "seconds", "s"), f"{where}.metrics[{i}].unit", "ms or seconds", unit
            )
            value = value / 1000 if unit == "ms" else value
        out[name] = (value, unit)
    return out


@dataclass
class MetricsWorld:
    """The world of a metrics test."""

    world: World
    client: Workload
    metered: Workload
    other: Workload
    prober: Workload

    @property
    def mesh(self) -> Mesh:
        """The mesh under test."""
        return self.world.mesh

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET a metrics path that must answer 200 with JSON."""
        status, body = self.mesh.get_metrics(path, params)
        check_equal(status, 200, f"GET {path}: status")
        check(isinstance(body, dict), f"GET {path}", "a JSON object", body)
        return body  # type: ignore[no-any-return]

    def pod_path(self, pod: str) -> str:
        """The metrics path of a pod in the world's namespace."""
        return f"/namespaces/{self.world.ns}/pods/{pod}"


@pytest.fixture
def metrics_world(world: World) -> MetricsWorld:
    """Backends metered (2 pods) and other; clients ``client`` and ``prober`` allowed to both.

    The prober waits until access is in force, so the client's own traffic, read back through
    the edges from the client's pod, contains no request that the mesh denied while converging.
    """
    metered = world.backend("metered", account="metered", replicas=2)
    other = world.backend("other", account="other")
    client = world.client("client")
    prober = world.client("prober")
    world.allow_all_ports("metered", ["client", "prober"])
    world.allow_all_ports("other", ["client", "prober"])
    for service in ("metered", "other"):
        converge(
            lambda s=service: world.http(prober, s, 1)[0].delivered,
            f"prober reaches {service}",
        )
    return MetricsWorld(world, client, metered, other, prober)


def edge_from(mw: MetricsWorld, pod: str, peer: str) -> dict[str, tuple[Decimal, str]]:
    """The metrics of the edge ``peer`` -> ``pod`` (direction from)."""
    body = mw.get(mw.pod_path(pod) + "/edges")
    for item in body.get("items") or []:
        edge = item.get("edge") or {}
        if edge.get("direction") == "from" and (edge.get("resource") or {}).get("name") == peer:
            return metric_map(item, f"pods/{pod}/edges[from {peer}]")
    raise Violation(f"pods/{pod}/edges", f"an item with direction from and resource {peer}", body)


def _send_and_count(mw: MetricsWorld, ok: int, failing: int) -> dict[str, dict[str, int]]:
    """Send ``ok`` good and ``failing`` 503 requests to metered; per-pod counts seen."""
    calls = [HttpCall("/")] * ok + [HttpCall("/status/503")] * failing
    results = mw.mesh.send_http(mw.client, "metered", calls)
    per_pod: dict[str, dict[str, int]] = {}
    for r in results:
        echo = r.json()
        if echo is None:
            raise Violation("request to metered", "answered by the backend", r.status)
        slot = per_pod.setdefault(str(echo["pod"]), {"success": 0, "failure": 0})
        slot["failure" if r.status and r.status >= 500 else "success"] += 1
    return per_pod


def _close(got: Decimal, want: int, where: str) -> None:
    tolerance = max(1, round(want * 0.05))
    check(abs(got - want) <= tolerance, where, f"{want} (+/- {tolerance})", str(got))


@pytest.mark.requirement("MET-001")
def test_discovery_lists_traffic_metrics_resources(metrics_world: MetricsWorld) -> None:
    """The group lists TrafficMetrics resources with get and list; namespaces are cluster-wide."""
    body = metrics_world.get("")
    resources = {r.get("name"): r for r in body.get("resources") or []}
    for name in ("pods", "namespaces"):
        check(name in resources, f"resources[{name}]", "listed", sorted(resources))
        res = resources[name]
        check_equal(res.get("kind"), KIND, f"resources[{name}].kind")
        check(
            {"get", "list"} <= set(res.get("verbs") or []),
            f"resources[{name}].verbs",
            "get and list",
            res.get("verbs"),
        )
    check_equal(
        resources["namespaces"].get("namespaced"), False, "resources[namespaces].namespaced"
    )
    check_equal(resources["pods"].get("namespaced"), True, "resources[pods].namespaced")


@pytest.mark.requirement("MET-002", "MET-003", "MET-004", "MET-005")
def test_pod_metrics_have_the_documented_shape(metrics_world: MetricsWorld) -> None:
    """A pod's TrafficMetrics names it, has edge from/none, a fresh timestamp, window, 5 metrics."""
    mw = metrics_world
    _send_and_count(mw, 20, 0)
    pod = mw.metered.pods[0]
    body = mw.get(mw.pod_path(pod))
    check_equal(body.get("kind"), KIND, "kind")
    check_equal(body.get("apiVersion"), "metrics.smi-spec.io/v1alpha1", "apiVersion")
    resource = body.get("resource") or {}
    check_equal(
        (resource.get("kind"), resource.get("namespace"), resource.get("name")),
        ("Pod", mw.world.ns, pod),
        "resource (kind, namespace, name)",
    )
    edge = body.get("edge") or {}
    check_equal(edge.get("direction"), "from", "edge.direction")
    check(not edge.get("resource"), "edge.resource", "empty (all traffic)", edge.get("resource"))
    _check_time(body)
    metrics = metric_map(body, "body")
    for name in LATENCIES + COUNTS:
        check(name in metrics, f"metrics[{name}]", "present", sorted(metrics))
    for name in COUNTS:
        check(metrics[name][0] >= 0, f"metrics[{name}]", ">= 0", str(metrics[name][0]))
    p50, p90, p99 = (metrics[n][0] for n in LATENCIES)
    check(
        p50 <= p90 <= p99, "latency quantiles", "p50 <= p90 <= p99", (str(p50), str(p90), str(p99))
    )


def _check_time(body: dict[str, Any]) -> None:
    stamp = body.get("timestamp")
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError as err:
        raise Violation("timestamp", "an RFC 3339 time", stamp) from err
    check(when.tzinfo is not None, "timestamp", "a time with a zone (RFC 3339)", stamp)
    skew = abs(datetime.now(UTC) - when)
    check(skew < timedelta(minutes=5), "timestamp", "within 5 minutes of now", stamp)
    window = body.get("window")
    check(
        isinstance(window, str) and bool(_DURATION.match(window)),
        "window",
        "a duration such as '30s'",
        window,
    )


@pytest.mark.requirement("MET-006")
def test_success_and_failure_counts_match_the_traffic(metrics_world: MetricsWorld) -> None:
    """Each pod's counts from the client equal the 2xx and 5xx answers it gave (5%)."""
    mw = metrics_world
    per_pod = _send_and_count(mw, 40, 12)
    for pod in mw.metered.pods:
        seen = per_pod.get(pod, {"success": 0, "failure": 0})
        edge = edge_from(mw, pod, mw.client.pods[0]) if any(seen.values()) else None
        if edge is not None:
            _close(edge["success_count"][0], seen["success"], f"pods/{pod} from client success")
            _close(edge["failure_count"][0], seen["failure"], f"pods/{pod} from client failure")
        total = metric_map(mw.get(mw.pod_path(pod)), pod)
        for name, key in (("success_count", "success"), ("failure_count", "failure")):
            check(
                total[name][0] >= seen[key] * Decimal("0.95"),
                f"pods/{pod} {name} (all sources)",
                f">= {seen[key]} sent by the client",
                str(total[name][0]),
            )


@pytest.mark.requirement("MET-006")
def test_latency_quantiles_reflect_backend_delay(metrics_world: MetricsWorld) -> None:
    """With a 60 ms backend delay, p50 >= 60 ms and p99 <= the slowest latency the client saw."""
    mw = metrics_world
    results = mw.mesh.send_http(mw.client, "other", [HttpCall("/delay/60")] * 12)
    check(
        all(r.delivered for r in results),
        "requests to other",
        "all delivered",
        [r.status for r in results],
    )
    observed_max = max(r.ms for r in results) / 1000
    metrics = edge_from(mw, mw.other.pods[0], mw.client.pods[0])
    p50, p99 = metrics["p50_response_latency"][0], metrics["p99_response_latency"][0]
    check(
        p50 >= Decimal("0.060"),
        "p50_response_latency",
        ">= 0.060 s (the backend's delay)",
        f"{p50} s",
    )
    check(
        p99 <= Decimal(str(observed_max)) + Decimal("0.05"),
        "p99_response_latency",
        f"<= the slowest latency the client saw ({observed_max:.3f} s) + 50 ms",
        f"{p99} s",
    )


@pytest.mark.requirement("MET-007")
def test_pod_list_has_one_item_per_pod_and_honours_label_selector(
    metrics_world: MetricsWorld,
) -> None:
    """Listing pods gives one item per pod; labelSelector app=metered keeps metered's pods only."""
    mw = metrics_world
    _send_and_count(mw, 10, 0)
    path = f"/namespaces/{mw.world.ns}/pods"
    body = mw.get(path)
    check_equal(body.get("kind"), "TrafficMetricsList", "kind")
    check_equal((body.get("resource") or {}).get("kind"), "Pod", "resource.kind")
    names = sorted((i.get("resource") or {}).get("name") for i in body.get("items") or [])
    expected = sorted([*mw.metered.pods, *mw.other.pods, *mw.client.pods, *mw.prober.pods])
    check_equal(names, expected, "items[].resource.name")
    selected = mw.get(path, {"labelSelector": "app=metered"})
    names = sorted((i.get("resource") or {}).get("name") for i in selected.get("items") or [])
    check_equal(
        names, sorted(mw.metered.pods), "items[].resource.name with labelSelector app=metered"
    )


@pytest.mark.requirement("MET-008")
def test_edges_name_each_peer_with_direction(metrics_world: MetricsWorld) -> None:
    """metered's pod edges show the client 'from'; the client's edges show its callees 'to'."""
    mw = metrics_world
    per_pod = _send_and_count(mw, 20, 0)
    mw.mesh.send_http(mw.client, "other", [HttpCall("/")] * 5)
    pod = next(p for p in mw.metered.pods if per_pod.get(p))
    edges = mw.get(mw.pod_path(pod) + "/edges")
    items = edges.get("items") or []
    peers = {
        (
            (i.get("edge") or {}).get("direction"),
            ((i.get("edge") or {}).get("resource") or {}).get("name"),
        )
        for i in items
    }
    check(
        ("from", mw.client.pods[0]) in peers,
        f"pods/{pod}/edges",
        f"an item from {mw.client.pods[0]}",
        sorted(map(str, peers)),
    )
    item = next(
        i for i in items if (i["edge"].get("resource") or {}).get("name") == mw.client.pods[0]
    )
    _close(
        metric_map(item, "edge")["success_count"][0], per_pod[pod]["success"], "edge success_count"
    )
    client_edges = mw.get(mw.pod_path(mw.client.pods[0]) + "/edges")
    to = {
        ((i.get("edge") or {}).get("resource") or {}).get("name")
        for i in client_edges.get("items") or []
        if (i.get("edge") or {}).get("direction") == "to"
    }
    wanted = {p for p in mw.metered.pods if per_pod.get(p)} | set(mw.other.pods)
    check(wanted <= to, "client edges with direction 'to'", sorted(wanted), sorted(map(str, to)))


@pytest.mark.requirement("MET-011")
def test_deployment_and_namespace_metrics_add_up_their_pods(metrics_world: MetricsWorld) -> None:
    """Deployment counts are the sum over its two pods; the namespace's over all its pods."""
    mw = metrics_world
    _send_and_count(mw, 30, 6)
    mw.mesh.send_http(mw.client, "other", [HttpCall("/")] * 8)
    pod_sums = {"success_count": Decimal(0), "failure_count": Decimal(0)}
    for pod in mw.metered.pods:
        metrics = metric_map(mw.get(mw.pod_path(pod)), pod)
        for name in pod_sums:
            pod_sums[name] += metrics[name][0]
    deployment = metric_map(mw.get(f"/namespaces/{mw.world.ns}/deployments/metered"), "deployment")
    for name, total in pod_sums.items():
        _close(deployment[name][0], int(total), f"deployments/metered {name} vs its pods")
    pods = mw.get(f"/namespaces/{mw.world.ns}/pods").get("items") or []
    all_pods = {"success_count": Decimal(0), "failure_count": Decimal(0)}
    for item in pods:
        metrics = metric_map(item, f"pods/{(item.get('resource') or {}).get('name')}")
        for name in all_pods:
            all_pods[name] += metrics[name][0]
    namespace = metric_map(mw.get(f"/namespaces/{mw.world.ns}"), "namespace")
    for name, total in all_pods.items():
        _close(namespace[name][0], int(total), f"namespace {name} vs all its pods")
    check(all_pods["failure_count"] >= 6, "failure_count over all pods", ">= 6 sent", "fewer")


@pytest.mark.requirement("MET-012")
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/namespaces/{ns}/pods/no-such-pod", id="unknown-pod"),
        pytest.param("/namespaces/{ns}/configmaps/anything", id="unserved-kind"),
    ],
)
def test_unknown_resource_or_kind_answers_404(metrics_world: MetricsWorld, path: str) -> None:
    """Metrics of a pod that does not exist, or of a kind not served, answer 404."""
    full = path.format(ns=metrics_world.world.ns)
    status, _ = metrics_world.mesh.get_metrics(full)
    check_equal(status, 404, f"GET {full}: status")
