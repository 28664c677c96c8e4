"""TrafficSplit: weighted shares of the root service's traffic, matches, and the root service.

Every world here has a root service ``web`` whose own pods are the ``web-stable`` backend, and
versioned backend services ``web-v1`` and ``web-v2`` (``web-v3`` where a test deploys it); all
run as service account ``web``, which the client may reach on every port. Distribution checks
use a chi-square goodness-of-fit test (see :mod:`conformance.smi.stats`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from conformance.core import Violation, check, check_equal, current_evidence
from conformance.smi import stats
from conformance.smi.conftest import World, converge
from conformance.smi.target import HttpCall, HttpResult, MeshApiError, ServicePort, Workload

ROOT = "web"


@dataclass
class SplitWorld:
    """The world of a split test: root, versioned backends and one client."""

    world: World
    client: Workload

    def split(
        self, weights: dict[str, int], *, name: str = "split", matches: list[str] | None = None
    ) -> None:
        """Create the TrafficSplit of ``web`` with these backend weights."""
        spec: dict[str, object] = {
            "service": ROOT,
            "backends": [{"service": s, "weight": w} for s, w in weights.items()],
        }
        if matches:
            spec["matches"] = [{"kind": "HTTPRouteGroup", "name": m} for m in matches]
        self.world.create("TrafficSplit", name, spec)

    def send(self, count: int, call: HttpCall | None = None) -> list[HttpResult]:
        """Send ``count`` requests to the root service."""
        return self.world.mesh.send_http(self.client, ROOT, [call or HttpCall("/")] * count)

    def reaches(self, backends: set[str], call: HttpCall | None = None) -> bool:
        """True when a probe of 5 requests lands on one of ``backends``."""
        return any(r.backend in backends for r in self.send(5, call))


def _counts(results: list[HttpResult]) -> Counter[str]:
    undelivered = [r for r in results if not r.delivered]
    if undelivered:
        raise Violation(
            f"{len(undelivered)} of {len(results)} requests",
            "every request answered by a backend",
            f"status {undelivered[0].status} {undelivered[0].body[:200]!r}",
        )
    return Counter(r.backend for r in results if r.backend)


def _check_fit(counts: Counter[str], weights: dict[str, int]) -> None:
    result = stats.fit(counts, weights)
    current_evidence().note("distribution check", **result.to_dict())
    check(
        not result.rejected,
        "share of requests per backend",
        f"weights {weights} (chi-square p >= {stats.ALPHA})",
        f"{result.observed} (p = {result.p_value:.3g})",
    )


@pytest.fixture
def split_world(world: World) -> SplitWorld:
    """Root ``web`` (its pods: web-stable), backends web-v1 and web-v2, client ``client``."""
    world.backend("web-stable", account="web", version="stable", service=False)
    world.mesh.create_service(
        world.ns, ROOT, {"app": "web-stable"}, (ServicePort(80, 8080, "http"),)
    )
    for version in ("v1", "v2"):
        world.backend(f"web-{version}", account="web", version=version)
    client = world.client("client")
    world.allow_all_ports("web", ["client"])
    return SplitWorld(world, client)


def _distribution(split_world: SplitWorld, weights: dict[str, int], n: int) -> None:
    split_world.split(weights)
    converge(lambda: split_world.reaches(set(weights)), "traffic reaches the split backends")
    counts = _counts(split_world.send(n))
    check_equal(counts.get("web-stable", 0), 0, "requests answered by the root's own pods")
    for backend, weight in weights.items():
        if weight == 0:
            check_equal(counts.get(backend, 0), 0, f"requests answered by {backend} (weight 0)")
    _check_fit(counts, weights)


@pytest.mark.requirement("SPLIT-003")
def test_requests_are_shared_in_proportion_to_weights(
    split_world: SplitWorld, split_requests: int
) -> None:
    """Weights 3:1 give shares 3/4 and 1/4 (chi-square goodness of fit, alpha 0.001).

    With N = 600 requests the test has power above 0.99 against a 10-point shift of share
    (75/25 observed as 65/35): the non-central chi-square noncentrality is N * sum((p1-p0)^2/p0)
    = 600 * (0.01/0.75 + 0.01/0.25) = 32, far above the critical value 10.8 (1 degree of freedom).
    """
    _distribution(split_world, {"web-v1": 3, "web-v2": 1}, split_requests)


@pytest.mark.requirement("SPLIT-003")
def test_three_way_split_follows_weights(split_world: SplitWorld, split_requests: int) -> None:
    """Weights 1:2:3 over three backends give shares 1/6, 2/6, 3/6 (chi-square, alpha 0.001).

    N = 600 (2 degrees of freedom, critical value 13.8): a 10-point shift between the first two
    backends gives noncentrality 600 * (0.01/(1/6) + 0.01/(1/3)) = 54, power above 0.99.
    """
    split_world.world.backend("web-v3", account="web", version="v3")
    _distribution(split_world, {"web-v1": 1, "web-v2": 2, "web-v3": 3}, split_requests)


@pytest.mark.requirement("SPLIT-003")
def test_each_client_sees_the_split(split_world: SplitWorld) -> None:
    """Two client pods each get the 1:1 split on their own (chi-square per client, alpha 0.001).

    Weighting applies per client: a mesh pinning each client to one backend would look right
    in aggregate but gives one client 200/0, which the per-client test rejects (p < 1e-40).
    With N = 200 per client the check targets such gross per-client bias, not small shifts.
    """
    weights = {"web-v1": 1, "web-v2": 1}
    split_world.split(weights)
    second = split_world.world.client("client", name="client-second")
    mesh = split_world.world.mesh
    for client in (split_world.client, second):
        converge(
            lambda c=client: any(
                r.backend in weights for r in mesh.send_http(c, ROOT, [HttpCall("/")] * 5)
            ),
            f"{client.name}'s traffic reaches the split",
        )
        counts = _counts(mesh.send_http(client, ROOT, [HttpCall("/")] * 200))
        check_equal(counts.get("web-stable", 0), 0, f"{client.name}: requests to the root's pods")
        _check_fit(counts, weights)


@pytest.mark.requirement("SPLIT-004")
def test_weights_are_relative_not_percentages(split_world: SplitWorld, split_requests: int) -> None:
    """Weights 1000 and 500 (sum 1500) are accepted and give shares 2/3 and 1/3 (chi-square).

    N = 600: a 10-point shift gives noncentrality 600 * (0.01/(2/3) + 0.01/(1/3)) = 27, power
    about 0.97 at alpha 0.001; a mesh treating weights as capped percentages fails outright.
    """
    _distribution(split_world, {"web-v1": 1000, "web-v2": 500}, split_requests)


@pytest.mark.requirement("SPLIT-005")
def test_backend_with_weight_zero_receives_nothing(split_world: SplitWorld) -> None:
    """With weights {v1: 1, v2: 0, v3: 1}, web-v2 answers none of 200 requests."""
    split_world.world.backend("web-v3", account="web", version="v3")
    weights = {"web-v1": 1, "web-v2": 0, "web-v3": 1}
    split_world.split(weights)
    converge(lambda: split_world.reaches({"web-v1", "web-v3"}), "traffic reaches the split")
    counts = _counts(split_world.send(200))
    check_equal(counts.get("web-v2", 0), 0, "requests answered by web-v2 (weight 0)")
    check_equal(counts.get("web-stable", 0), 0, "requests answered by the root's own pods")


@pytest.mark.requirement("SPLIT-006")
def test_single_backend_of_weight_one_gets_everything(split_world: SplitWorld) -> None:
    """A split with the one backend web-v2 of weight 1 sends all 100 requests there."""
    split_world.split({"web-v2": 1})
    converge(lambda: split_world.reaches({"web-v2"}), "traffic reaches web-v2")
    counts = _counts(split_world.send(100))
    check_equal(dict(counts), {"web-v2": 100}, "requests per backend")


@pytest.mark.requirement("SPLIT-007")
def test_missing_backend_is_accepted_and_joins_once_created(split_world: SplitWorld) -> None:
    """A split naming a not-yet-existing web-new is accepted; web-new gets traffic once deployed."""
    weights = {"web-v1": 1, "web-new": 1}
    try:
        split_world.split(weights)
    except MeshApiError as err:
        raise Violation("POST TrafficSplit", "accepted with a missing backend", err.body) from err
    converge(lambda: split_world.reaches({"web-v1"}), "traffic reaches web-v1")
    counts = _counts(split_world.send(50))
    check_equal(dict(counts), {"web-v1": 50}, "requests per backend while web-new is missing")
    split_world.world.backend("web-new", account="web", version="new")
    converge(lambda: split_world.reaches({"web-new"}), "traffic reaches web-new once it exists")


@pytest.mark.requirement("SPLIT-008")
def test_all_zero_weights_deliver_nothing_to_the_backends(split_world: SplitWorld) -> None:
    """A split changed to all weights 0 is refused, or none of its backends gets a request."""
    split_world.split({"web-v1": 1, "web-v2": 0})
    converge(lambda: split_world.reaches({"web-v1"}), "traffic reaches web-v1")
    zero = {
        "service": ROOT,
        "backends": [{"service": s, "weight": 0} for s in ("web-v1", "web-v2")],
    }
    try:
        split_world.world.replace("TrafficSplit", "split", zero)
    except MeshApiError as err:
        current_evidence().note("all-zero split refused at admission", status=err.status)
        return
    converge(lambda: not split_world.reaches({"web-v1"}), "web-v1 stops receiving traffic")
    counts = Counter(r.backend for r in split_world.send(50))
    check_equal(
        counts.get("web-v1", 0) + counts.get("web-v2", 0), 0, "requests to weight-0 backends"
    )


@pytest.mark.requirement("SPLIT-010")
def test_backend_without_the_called_port_is_left_out(split_world: SplitWorld) -> None:
    """A backend whose service lacks port 80 gets none of the root's port-80 traffic."""
    world = split_world.world
    world.backend(
        "web-tcp", account="web", version="tcp", service_ports=(ServicePort(81, 8080, "http-alt"),)
    )
    split_world.split({"web-v1": 1, "web-tcp": 1})
    converge(lambda: split_world.reaches({"web-v1"}), "traffic reaches web-v1")
    counts = Counter(r.backend for r in split_world.send(60))
    check_equal(counts.get("web-tcp", 0), 0, "requests to the backend without port 80")
    check_equal(counts.get("web-v1", 0), 60, "requests to web-v1")


@pytest.fixture
def canary_routes(split_world: SplitWorld) -> SplitWorld:
    """HTTPRouteGroups ``canary-header`` (x-canary: yes) and ``canary-path`` (/beta/.*)."""
    split_world.world.create(
        "HTTPRouteGroup",
        "canary-header",
        {"matches": [{"name": "hdr", "headers": [{"x-canary": "yes"}]}]},
    )
    split_world.world.create(
        "HTTPRouteGroup", "canary-path", {"matches": [{"name": "beta", "pathRegex": "/beta/.*"}]}
    )
    return split_world


@pytest.mark.requirement("SPLIT-013")
def test_matching_requests_are_split_and_others_go_to_the_root(canary_routes: SplitWorld) -> None:
    """With a header match, x-canary: yes goes to web-v2 and other requests to the root's pods."""
    canary_routes.split({"web-v2": 1}, matches=["canary-header"])
    canary = HttpCall("/", headers={"x-canary": "yes"})
    converge(lambda: canary_routes.reaches({"web-v2"}, canary), "canary traffic reaches web-v2")
    matching = _counts(canary_routes.send(40, canary))
    others = _counts(canary_routes.send(40, HttpCall("/", headers={"x-canary": "no"})))
    check_equal(dict(matching), {"web-v2": 40}, "matching requests per backend")
    check_equal(dict(others), {"web-stable": 40}, "non-matching requests per backend")


@pytest.mark.requirement("SPLIT-014")
def test_several_route_groups_in_matches_are_alternatives(canary_routes: SplitWorld) -> None:
    """A request matching either route group is split; one matching neither goes to the root."""
    canary_routes.split({"web-v2": 1}, matches=["canary-header", "canary-path"])
    by_header = HttpCall("/", headers={"x-canary": "yes"})
    converge(lambda: canary_routes.reaches({"web-v2"}, by_header), "canary traffic reaches web-v2")
    check_equal(dict(_counts(canary_routes.send(20, by_header))), {"web-v2": 20}, "header match")
    by_path = HttpCall("/beta/feature")
    check_equal(dict(_counts(canary_routes.send(20, by_path))), {"web-v2": 20}, "path match")
    neither = HttpCall("/stable")
    check_equal(dict(_counts(canary_routes.send(20, neither))), {"web-stable": 20}, "no match")


@pytest.mark.requirement("split-root-passthrough")
def test_root_service_without_split_reaches_its_own_pods(split_world: SplitWorld) -> None:
    """Without any TrafficSplit, requests to web are answered by the pods web selects."""
    converge(lambda: split_world.reaches({"web-stable"}), "traffic reaches web-stable")
    check_equal(dict(_counts(split_world.send(30))), {"web-stable": 30}, "requests per backend")


@pytest.mark.requirement("SPLIT-018")
def test_weight_change_takes_effect(split_world: SplitWorld) -> None:
    """Moving all weight from web-v1 to web-v2 moves the traffic (convergence time recorded)."""
    split_world.split({"web-v1": 1, "web-v2": 0})
    converge(lambda: split_world.reaches({"web-v1"}), "traffic reaches web-v1")
    split_world.world.replace(
        "TrafficSplit",
        "split",
        {
            "service": ROOT,
            "backends": [{"service": "web-v1", "weight": 0}, {"service": "web-v2", "weight": 1}],
        },
    )
    converge(
        lambda: set(_counts(split_world.send(10))) == {"web-v2"}, "all traffic moves to web-v2"
    )
    check_equal(dict(_counts(split_world.send(50))), {"web-v2": 50}, "requests after the change")
