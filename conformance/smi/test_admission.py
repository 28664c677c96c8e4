"""Admission: the mesh's API stores valid SMI objects as sent and refuses invalid ones.

A refused object must come back as a Kubernetes ``Status`` and must not be stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.core import Violation, check, check_equal
from conformance.smi.target import Mesh, MeshApiError, smi_object

SPLIT_OK = {"service": "web", "backends": [{"service": "web-v1", "weight": 1}]}
TARGET_OK = {
    "destination": {"kind": "ServiceAccount", "name": "api"},
    "rules": [{"kind": "HTTPRouteGroup", "name": "routes", "matches": ["all"]}],
    "sources": [{"kind": "ServiceAccount", "name": "client"}],
}
ROUTES_OK = {
    "matches": [
        {"name": "all", "methods": ["GET", "POST"], "pathRegex": "/api/.*"},
        {"name": "canary", "headers": [{"x-canary": "true"}]},
    ]
}


def _refused(mesh: Mesh, kind: str, namespace: str, name: str, spec: Any) -> MeshApiError:
    """Create the object, expect a refusal, and check that nothing was stored."""
    try:
        stored = mesh.create(smi_object(kind, namespace, name, spec))
    except MeshApiError as err:
        refusal = err
    else:
        raise Violation(f"POST {kind} {name}", "a 4xx refusal", f"stored: {stored.get('spec')}")
    check(
        400 <= refusal.status < 500,
        f"POST {kind} {name}: status",
        "4xx (422 Invalid for a schema error)",
        refusal.status,
    )
    try:
        mesh.get(kind, namespace, name)
    except MeshApiError as err:
        check_equal(err.status, 404, f"GET {kind} {name} after refusal: status")
    else:
        raise Violation(f"GET {kind} {name}", "404: a refused object is not stored", "found")
    return refusal


def _accepted(mesh: Mesh, kind: str, namespace: str, name: str, spec: Any) -> dict[str, Any]:
    try:
        stored = mesh.create(smi_object(kind, namespace, name, spec))
    except MeshApiError as err:
        raise Violation(f"POST {kind} {name}", "201 Created", f"{err.status} {err.body}") from err
    check_equal(stored.get("spec"), spec, f"{kind} {name}: stored spec")
    check_equal(mesh.get(kind, namespace, name).get("spec"), spec, f"GET {kind} {name}: spec")
    return stored


@pytest.mark.requirement("SPLIT-001")
def test_complete_traffic_split_is_stored_as_sent(mesh: Mesh, namespace: str) -> None:
    """A TrafficSplit with a service and weighted backends is accepted and read back unchanged."""
    _accepted(mesh, "TrafficSplit", namespace, "complete", SPLIT_OK)


@pytest.mark.requirement("SPLIT-001")
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"backends": SPLIT_OK["backends"]}, id="no-service"),
        pytest.param({"service": "web"}, id="no-backends"),
        pytest.param({"service": "web", "backends": [{"weight": 1}]}, id="backend-without-service"),
        pytest.param(
            {"service": "web", "backends": [{"service": "v1"}]}, id="backend-without-weight"
        ),
        pytest.param(
            {"service": "web", "backends": [{"service": "v1", "weight": "x"}]}, id="text-weight"
        ),
    ],
)
def test_incomplete_traffic_split_is_refused(mesh: Mesh, namespace: str, spec: Any) -> None:
    """A TrafficSplit missing its service, backends, a backend's service or weight is refused."""
    _refused(mesh, "TrafficSplit", namespace, "incomplete", spec)


@pytest.mark.requirement("SPLIT-002")
@pytest.mark.parametrize(
    "match",
    [
        pytest.param({"kind": "TCPRoute", "name": "r"}, id="tcproute-kind"),
        pytest.param({"kind": "HTTPRouteGroup"}, id="no-name"),
        pytest.param({"name": "r"}, id="no-kind"),
    ],
)
def test_split_match_of_wrong_shape_is_refused(mesh: Mesh, namespace: str, match: Any) -> None:
    """A TrafficSplit match must name kind HTTPRouteGroup and a name."""
    _refused(mesh, "TrafficSplit", namespace, "bad-match", {**SPLIT_OK, "matches": [match]})


@pytest.mark.requirement("SPLIT-002")
def test_split_with_httproutegroup_match_is_stored(mesh: Mesh, namespace: str) -> None:
    """A TrafficSplit matching an HTTPRouteGroup by kind and name is accepted."""
    spec = {**SPLIT_OK, "matches": [{"kind": "HTTPRouteGroup", "name": "canary"}]}
    _accepted(mesh, "TrafficSplit", namespace, "with-match", spec)


@pytest.mark.requirement("SPLIT-009")
@pytest.mark.parametrize(
    "weight", [pytest.param(1.5, id="fraction"), pytest.param(-1, id="negative")]
)
def test_split_weight_that_is_not_a_whole_number_is_refused(
    mesh: Mesh, namespace: str, weight: float
) -> None:
    """Weights are whole numbers of zero or more."""
    spec = {"service": "web", "backends": [{"service": "web-v1", "weight": weight}]}
    _refused(mesh, "TrafficSplit", namespace, "odd-weight", spec)


@pytest.mark.requirement("ACC-001")
def test_complete_traffic_target_is_stored_as_sent(mesh: Mesh, namespace: str) -> None:
    """A TrafficTarget with destination, rules and sources is accepted and read back unchanged."""
    _accepted(mesh, "TrafficTarget", namespace, "complete", TARGET_OK)


@pytest.mark.requirement("ACC-001")
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"destination": None}, id="no-destination"),
        pytest.param({"destination": {"kind": "ServiceAccount"}}, id="destination-without-name"),
        pytest.param({"rules": [{"kind": "Ingress", "name": "r"}]}, id="unknown-rule-kind"),
        pytest.param({"rules": [{"kind": "TCPRoute"}]}, id="rule-without-name"),
        pytest.param(
            {"rules": [{"kind": "HTTPRouteGroup", "name": "r", "matches": "all"}]},
            id="matches-not-a-list",
        ),
        pytest.param({"sources": [{"kind": "ServiceAccount"}]}, id="source-without-name"),
    ],
)
def test_malformed_traffic_target_is_refused(
    mesh: Mesh, namespace: str, change: dict[str, Any]
) -> None:
    """A TrafficTarget with a malformed destination, rule or source is refused."""
    spec = {k: v for k, v in {**TARGET_OK, **change}.items() if v is not None}
    _refused(mesh, "TrafficTarget", namespace, "malformed", spec)


@pytest.mark.requirement("ACC-002")
@pytest.mark.parametrize("field", ["sources", "rules"])
def test_traffic_target_with_empty_list_is_refused(mesh: Mesh, namespace: str, field: str) -> None:
    """A TrafficTarget with no source or no rule is refused."""
    _refused(mesh, "TrafficTarget", namespace, "empty", {**TARGET_OK, field: []})


@pytest.mark.requirement("SPEC-001")
def test_http_route_group_in_crd_shape_is_stored_as_sent(mesh: Mesh, namespace: str) -> None:
    """An HTTPRouteGroup with named matches, methods, pathRegex and list-shaped headers is kept."""
    _accepted(mesh, "HTTPRouteGroup", namespace, "routes", ROUTES_OK)


@pytest.mark.requirement("SPEC-001")
@pytest.mark.parametrize(
    "match",
    [
        pytest.param({"methods": ["GET"]}, id="no-name"),
        pytest.param({"name": "m", "methods": ["FETCH"]}, id="unknown-method"),
    ],
)
def test_malformed_http_route_group_is_refused(mesh: Mesh, namespace: str, match: Any) -> None:
    """An HTTPRouteGroup match without a name or with an unknown method is refused."""
    _refused(mesh, "HTTPRouteGroup", namespace, "bad-routes", {"matches": [match]})


@pytest.mark.requirement("spec-tcproute-ports-required")
@pytest.mark.parametrize("kind", ["TCPRoute", "UDPRoute"])
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"matches": {}}, id="no-ports"),
        pytest.param({"matches": {"ports": [70000]}}, id="port-out-of-range"),
    ],
)
def test_port_route_without_valid_ports_is_refused(
    mesh: Mesh, namespace: str, kind: str, spec: Any
) -> None:
    """A TCPRoute or UDPRoute needs matches.ports, each a valid port number."""
    _refused(mesh, kind, namespace, "bad-ports", spec)


@pytest.mark.requirement("SPEC-009")
@pytest.mark.parametrize("kind", ["TCPRoute", "UDPRoute"])
def test_port_route_with_empty_port_list_is_stored(mesh: Mesh, namespace: str, kind: str) -> None:
    """A TCPRoute or UDPRoute with ports [] (every port) is accepted as sent."""
    _accepted(mesh, kind, namespace, "every-port", {"matches": {"ports": []}})


def _check_status(refusal: MeshApiError, code: int, reason: str) -> None:
    body = refusal.body
    check(isinstance(body, dict), "response body", "a JSON Status object", body)
    check_equal(body.get("kind"), "Status", "body.kind")
    check_equal(body.get("status"), "Failure", "body.status")
    check_equal(body.get("code"), code, "body.code")
    check_equal(body.get("reason"), reason, "body.reason")
    check(bool(body.get("message")), "body.message", "a message saying what is wrong", body)


@pytest.mark.requirement("api-status-errors")
def test_schema_error_answers_422_status_with_causes(mesh: Mesh, namespace: str) -> None:
    """A schema violation answers 422 with a Status of reason Invalid naming the field."""
    refusal = _refused(mesh, "TrafficSplit", namespace, "invalid", {"service": "web"})
    check_equal(refusal.status, 422, "HTTP status")
    _check_status(refusal, 422, "Invalid")
    causes = (refusal.body.get("details") or {}).get("causes") or []
    check(
        any("backends" in (c.get("field", "") + c.get("message", "")) for c in causes),
        "body.details.causes",
        "a cause naming spec.backends",
        causes,
    )


@pytest.mark.requirement("api-status-errors")
def test_body_that_is_not_json_answers_400_status(mesh: Mesh, namespace: str) -> None:
    """A request body that is not JSON answers 400 with a Status of reason BadRequest."""
    status, body = mesh.post_raw("TrafficSplit", namespace, b"{not json")
    check_equal(status, 400, "HTTP status")
    _check_status(MeshApiError(status, body), 400, "BadRequest")


@pytest.mark.requirement("api-status-errors")
def test_refused_update_keeps_the_stored_object(mesh: Mesh, namespace: str) -> None:
    """An invalid replacement is refused and the object stored before stays as it was."""
    _accepted(mesh, "TrafficSplit", namespace, "kept", SPLIT_OK)
    stored = mesh.get("TrafficSplit", namespace, "kept")
    bad = smi_object("TrafficSplit", namespace, "kept", {"service": "web", "backends": "none"})
    bad["metadata"]["resourceVersion"] = stored["metadata"].get("resourceVersion", "")
    try:
        mesh.replace(bad)
    except MeshApiError as err:
        check_equal(err.status, 422, "PUT invalid TrafficSplit: status")
    else:
        raise Violation("PUT TrafficSplit kept", "422 refusal", "accepted")
    check_equal(mesh.get("TrafficSplit", namespace, "kept").get("spec"), SPLIT_OK, "stored spec")
