"""Traffic Metrics: the samples the proxies record and the TrafficMetrics objects built from them.

A sample is one proxied HTTP request seen by the calling pod's sidecar: source pod, destination
pod, whether it succeeded and how long it took. Readings taken (also requirement notes):

* a resource's own object (``edge.resource`` empty, direction ``from``) counts the requests the
  resource received from anywhere;
* an edge with direction ``from`` counts what the peer sent to the resource, ``to`` what the
  resource sent to the peer;
* a response with status 500-599, or no response, is a failure; every other status a success;
* latencies are in milliseconds (unit ``ms``), values are Kubernetes quantities (``1234m``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

API_VERSION = "metrics.smi-spec.io/v1alpha1"
RETAIN_SECONDS = 600.0
DEFAULT_WINDOW = 30.0

PodKey = tuple[str, str]
"""``(namespace, pod name)``."""


@dataclass(frozen=True)
class Sample:
    """One proxied request."""

    at: float
    source: PodKey
    destination: PodKey
    ok: bool
    latency_ms: float


class Recorder:
    """Samples of the last ``RETAIN_SECONDS``, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: deque[Sample] = deque()

    def record(self, source: PodKey, destination: PodKey, status: int | None, ms: float) -> None:
        """Keep one request's outcome."""
        ok = status is not None and not 500 <= status <= 599
        now = time.time()
        with self._lock:
            self._samples.append(Sample(now, source, destination, ok, ms))
            while self._samples and self._samples[0].at < now - RETAIN_SECONDS:
                self._samples.popleft()

    def window(self, seconds: float) -> list[Sample]:
        """Samples of the last ``seconds``."""
        since = time.time() - seconds
        with self._lock:
            return [s for s in self._samples if s.at >= since]


def quantity(value: float) -> str:
    """A Kubernetes quantity: whole numbers plain, others in thousandths (``1234m``)."""
    if value == int(value):
        return str(int(value))
    return f"{round(value * 1000)}m"


def _quantile(sorted_values: list[float], q: float) -> float:
    # Nearest-rank quantile: always one of the observed latencies.
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def metric_values(samples: Iterable[Sample]) -> list[dict[str, str]]:
    """The five metrics of a set of samples."""
    samples = list(samples)
    latencies = sorted(s.latency_ms for s in samples)
    out = []
    for name, q in (("p99_response_latency", 0.99), ("p90_response_latency", 0.9)):
        out.append({"name": name, "unit": "ms", "value": _latency(latencies, q)})
    out.append({"name": "p50_response_latency", "unit": "ms", "value": _latency(latencies, 0.5)})
    ok = sum(1 for s in samples if s.ok)
    out.append({"name": "success_count", "value": quantity(ok)})
    out.append({"name": "failure_count", "value": quantity(len(samples) - ok)})
    return out


def _latency(latencies: list[float], q: float) -> str:
    return quantity(round(_quantile(latencies, q), 3)) if latencies else "0"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Resource:
    """A resource metrics are asked about: kind (``Pod``), namespace, name and its pods."""

    kind: str
    plural: str
    namespace: str
    name: str
    pods: frozenset[PodKey]

    def ref(self) -> dict[str, str]:
        """The object reference TrafficMetrics carries."""
        ref = {"kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        return ref

    def self_link(self) -> str:
        """The path this resource's metrics are served at."""
        if self.kind == "Namespace":
            return f"/apis/{API_VERSION}/namespaces/{self.name}"
        return f"/apis/{API_VERSION}/namespaces/{self.namespace}/{self.plural}/{self.name}"


def traffic_metrics(
    resource: Resource,
    samples: list[Sample],
    window: float,
    *,
    edge: tuple[str, dict[str, str] | None] = ("from", None),
    link: str = "",
) -> dict[str, Any]:
    """One TrafficMetrics object."""
    meta: dict[str, Any] = {"name": resource.name, "creationTimestamp": _now()}
    if resource.namespace:
        meta["namespace"] = resource.namespace
    meta["selfLink"] = link or resource.self_link()
    return {
        "kind": "TrafficMetrics",
        "apiVersion": API_VERSION,
        "metadata": meta,
        "timestamp": _now(),
        "window": f"{int(window)}s",
        "resource": resource.ref(),
        "edge": {"direction": edge[0], "resource": edge[1]},
        "metrics": metric_values(samples),
    }


def resource_metrics(resource: Resource, samples: list[Sample], window: float) -> dict[str, Any]:
    """The resource's own object: what it received from anywhere."""
    inbound = [s for s in samples if s.destination in resource.pods]
    return traffic_metrics(resource, inbound, window)


def edge_metrics(
    resource: Resource,
    samples: list[Sample],
    window: float,
    peer_of: Callable[[PodKey], Resource],
) -> dict[str, Any]:
    """A TrafficMetricsList with one item per peer and direction."""
    groups: dict[tuple[str, Resource], list[Sample]] = {}
    for s in samples:
        if s.destination in resource.pods and s.source not in resource.pods:
            groups.setdefault(("from", peer_of(s.source)), []).append(s)
        if s.source in resource.pods and s.destination not in resource.pods:
            groups.setdefault(("to", peer_of(s.destination)), []).append(s)
    link = resource.self_link() + "/edges"
    items = [
        traffic_metrics(resource, group, window, edge=(direction, peer.ref()), link=link)
        for (direction, peer), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1].namespace, kv[0][1].name)
        )
    ]
    return metrics_list(resource.kind, link, items)


def metrics_list(kind: str, link: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A TrafficMetricsList."""
    return {
        "kind": "TrafficMetricsList",
        "apiVersion": API_VERSION,
        "metadata": {"selfLink": link},
        "resource": {"kind": kind},
        "items": items,
    }
