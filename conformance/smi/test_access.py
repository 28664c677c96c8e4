"""TrafficTarget with HTTPRouteGroup and TCPRoute rules: who may call what, on which route.

Every world here has the destination ``api`` (service account ``api``; HTTP on service port 80,
raw TCP on 9000 and 9001) and clients ``alice`` and ``mallory``. Each test first waits until
the allowed call goes through (convergence, recorded) and only then checks what must be denied,
so a slow mesh is not mistaken for a correct one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.core import check, current_evidence
from conformance.smi.conftest import World, converge
from conformance.smi.target import HttpCall, HttpResult, Workload

pytestmark = pytest.mark.usefixtures("enforcing")

DEST = "api"


@dataclass
class AccessWorld:
    """The world of an access test."""

    world: World
    alice: Workload
    mallory: Workload

    def call(
        self, client: Workload, call: HttpCall | None = None, service: str = DEST
    ) -> HttpResult:
        """One request from ``client`` to the destination."""
        return self.world.mesh.send_http(client, service, [call or HttpCall("/")])[0]

    def delivered(self, client: Workload, call: HttpCall | None = None) -> bool:
        """True when the request reached the backend."""
        return self.call(client, call).delivered

    def routes(self, name: str, matches: list[dict[str, Any]]) -> None:
        """Create an HTTPRouteGroup."""
        self.world.create("HTTPRouteGroup", name, {"matches": matches})

    def allow_routes(
        self, name: str, sources: list[str], group: str, matches: list[str] | None = None
    ) -> None:
        """TrafficTarget ``name``: ``sources`` may reach ``api`` on the group's matches."""
        rule: dict[str, Any] = {"kind": "HTTPRouteGroup", "name": group}
        if matches is not None:
            rule["matches"] = matches
        self.world.allow(name, DEST, sources, [rule])


def expect(result: HttpResult, delivered: bool, what: str) -> None:
    """Check that a request was (or was not) delivered to the backend."""
    got = f"status {result.status}, backend {result.backend!r}"
    if result.error:
        got += f", error {result.error}"
    expected = "delivered to the backend" if delivered else "denied (403 or reset), not delivered"
    check(result.delivered == delivered, what, expected, got)
    if not delivered:
        check(
            result.status is None or not 200 <= result.status < 300,
            f"{what}: status",
            "not a 2xx answer",
            result.status,
        )


@pytest.fixture
def access_world(world: World) -> AccessWorld:
    """Destination ``api`` with HTTP and TCP ports; clients alice and mallory; no target yet."""
    world.backend(DEST, account=DEST, tcp_ports=(9000, 9001))
    return AccessWorld(world, world.client("alice"), world.client("mallory"))


def _everything(aw: AccessWorld) -> None:
    aw.routes("everything", [{"name": "all", "methods": ["*"], "pathRegex": ".*"}])


@pytest.mark.requirement("ACC-003")
def test_call_without_traffic_target_is_denied(access_world: AccessWorld) -> None:
    """With no TrafficTarget for the destination, a meshed HTTP call is not delivered."""
    expect(access_world.call(access_world.alice), False, "GET / from alice without a target")


@pytest.mark.requirement("ACC-003")
def test_tcp_connection_without_traffic_target_gets_no_reply(access_world: AccessWorld) -> None:
    """With no TrafficTarget, a meshed TCP connection to port 9000 gets no backend reply."""
    result = access_world.world.mesh.send_tcp(access_world.alice, DEST, 9000, "hello")
    check(result.json() is None, "TCP 9000 from alice without a target", "no reply", result.reply)


@pytest.mark.requirement("ACC-004", "ACC-005")
def test_listed_source_is_allowed_and_unlisted_is_denied(access_world: AccessWorld) -> None:
    """alice, listed as source, reaches api; mallory, not listed, does not."""
    aw = access_world
    _everything(aw)
    aw.allow_routes("alice-to-api", ["alice"], "everything")
    converge(lambda: aw.delivered(aw.alice), "alice reaches api")
    result = aw.call(aw.alice)
    echo = result.json() or {}
    current_evidence().note("identity seen by the backend", headers=echo.get("headers"))
    expect(aw.call(aw.mallory), False, "GET / from mallory (not a source)")


@pytest.mark.requirement("ACC-011")
def test_headers_claiming_another_identity_change_nothing(access_world: AccessWorld) -> None:
    """mallory is denied even when sending headers that claim alice's identity."""
    aw = access_world
    _everything(aw)
    aw.allow_routes("alice-to-api", ["alice"], "everything")
    converge(lambda: aw.delivered(aw.alice), "alice reaches api")
    alice_id = f"spiffe://cluster.local/ns/{aw.world.ns}/sa/alice"
    spoof = HttpCall(
        "/",
        headers={
            "x-forwarded-client-cert": f"By=spiffe://cluster.local/ns/{aw.world.ns}/sa/api;URI={alice_id}",
            "ServiceName": "alice",
            "x-client-identity": alice_id,
        },
    )
    expect(aw.call(aw.mallory, spoof), False, "GET / from mallory claiming to be alice")


@pytest.mark.requirement("ACC-006", "ACC-008")
def test_rule_matches_restrict_to_the_named_match(access_world: AccessWorld) -> None:
    """A rule naming match 'api' allows /api/... and denies /admin to the same source."""
    aw = access_world
    aw.routes(
        "paths", [{"name": "api", "pathRegex": "/api/.*"}, {"name": "admin", "pathRegex": "/admin"}]
    )
    aw.allow_routes("alice-api-only", ["alice"], "paths", ["api"])
    converge(lambda: aw.delivered(aw.alice, HttpCall("/api/users")), "alice reaches /api/users")
    expect(aw.call(aw.alice, HttpCall("/admin")), False, "GET /admin (match not in the rule)")
    expect(aw.call(aw.alice, HttpCall("/other")), False, "GET /other (no match at all)")


@pytest.mark.requirement("ACC-007")
def test_rule_without_matches_allows_every_match(access_world: AccessWorld) -> None:
    """A rule naming no matches allows each match of the group, and nothing outside them."""
    aw = access_world
    aw.routes(
        "paths", [{"name": "api", "pathRegex": "/api/.*"}, {"name": "admin", "pathRegex": "/admin"}]
    )
    aw.allow_routes("alice-all-matches", ["alice"], "paths")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/api/users")), "alice reaches /api/users")
    expect(aw.call(aw.alice, HttpCall("/admin")), True, "GET /admin (second match)")
    expect(aw.call(aw.alice, HttpCall("/other")), False, "GET /other (in no match)")


@pytest.mark.requirement("SPEC-003")
def test_methods_list_allows_only_those_methods(access_world: AccessWorld) -> None:
    """A match with methods [GET] allows GET and denies POST; '*' allows both."""
    aw = access_world
    aw.routes("reads", [{"name": "get", "methods": ["GET"], "pathRegex": "/items"}])
    aw.routes("any", [{"name": "any", "methods": ["*"], "pathRegex": "/any"}])
    aw.allow_routes("alice-reads", ["alice"], "reads")
    aw.allow_routes("alice-any", ["alice"], "any")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/items")), "alice GETs /items")
    expect(aw.call(aw.alice, HttpCall("/items", "POST", body="x")), False, "POST /items")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/any")), "alice GETs /any")
    expect(aw.call(aw.alice, HttpCall("/any", "POST", body="x")), True, "POST /any (methods *)")
    expect(aw.call(aw.alice, HttpCall("/any", "DELETE")), True, "DELETE /any (methods *)")


@pytest.mark.requirement("SPEC-002")
def test_path_regex_is_anchored_at_the_start(access_world: AccessWorld) -> None:
    """pathRegex /api allows /api and denies /v1/api."""
    aw = access_world
    aw.routes("api", [{"name": "api", "pathRegex": "/api"}])
    aw.allow_routes("alice-api", ["alice"], "api")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/api")), "alice reaches /api")
    expect(aw.call(aw.alice, HttpCall("/v1/api")), False, "GET /v1/api")


@pytest.mark.requirement("spec-pathregex-full-match")
def test_path_regex_must_match_the_whole_path(access_world: AccessWorld) -> None:
    """pathRegex /api denies /api/users and /apix; the query string is not part of the path."""
    aw = access_world
    aw.routes("api", [{"name": "api", "pathRegex": "/api"}])
    aw.allow_routes("alice-api", ["alice"], "api")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/api")), "alice reaches /api")
    expect(aw.call(aw.alice, HttpCall("/api?page=2")), True, "GET /api?page=2")
    expect(aw.call(aw.alice, HttpCall("/api/users")), False, "GET /api/users")
    expect(aw.call(aw.alice, HttpCall("/apix")), False, "GET /apix")


@pytest.mark.requirement("SPEC-004")
def test_headers_of_one_match_all_apply_and_matches_are_alternatives(
    access_world: AccessWorld,
) -> None:
    """Match 'both' needs x-env prod.* AND x-team blue; match 'ops' (x-role) is an alternative."""
    aw = access_world
    aw.routes(
        "hdrs",
        [
            {"name": "both", "headers": [{"x-env": "prod.*"}, {"x-team": "blue"}]},
            {"name": "ops", "headers": [{"x-role": "ops"}]},
        ],
    )
    aw.allow_routes("alice-hdrs", ["alice"], "hdrs")
    both = HttpCall("/", headers={"x-env": "prod-eu", "x-team": "blue"})
    converge(lambda: aw.delivered(aw.alice, both), "alice reaches api with both headers")
    expect(aw.call(aw.alice, HttpCall("/", headers={"x-env": "prod-eu"})), False, "x-env only")
    expect(aw.call(aw.alice, HttpCall("/", headers={"x-team": "blue"})), False, "x-team only")
    wrong = HttpCall("/", headers={"x-env": "dev", "x-team": "blue"})
    expect(aw.call(aw.alice, wrong), False, "x-env not matching the pattern")
    expect(aw.call(aw.alice, HttpCall("/", headers={"X-Role": "ops"})), True, "x-role: ops")


@pytest.mark.requirement("SPEC-005")
def test_header_only_match_applies_to_any_path_and_method(access_world: AccessWorld) -> None:
    """A match with only a header allows any path and method carrying that header."""
    aw = access_world
    aw.routes("hdr", [{"name": "hdr", "headers": [{"x-pass": "yes"}]}])
    aw.allow_routes("alice-hdr", ["alice"], "hdr")
    ok = HttpCall("/some/deep/path", headers={"x-pass": "yes"})
    converge(lambda: aw.delivered(aw.alice, ok), "alice reaches api with x-pass")
    expect(
        aw.call(aw.alice, HttpCall("/x", "PUT", {"x-pass": "yes"}, "b")), True, "PUT with x-pass"
    )
    expect(aw.call(aw.alice, HttpCall("/some/deep/path")), False, "GET without x-pass")


def _tcp_allowed(aw: AccessWorld, client: Workload, port: int) -> bool:
    reply = aw.world.mesh.send_tcp(client, DEST, port, f"hello {port}").json() or {}
    return reply.get("echo") == f"hello {port}" and reply.get("port") == port


@pytest.mark.requirement("SPEC-008")
def test_tcproute_ports_allow_only_the_listed_port(access_world: AccessWorld) -> None:
    """A TCPRoute with ports [9000] allows TCP to 9000 and not to 9001."""
    aw = access_world
    aw.world.create("TCPRoute", "only-9000", {"matches": {"ports": [9000]}})
    aw.world.allow("alice-9000", DEST, ["alice"], [{"kind": "TCPRoute", "name": "only-9000"}])
    converge(lambda: _tcp_allowed(aw, aw.alice, 9000), "alice reaches api:9000")
    check(not _tcp_allowed(aw, aw.alice, 9001), "TCP api:9001 from alice", "no reply", "echo")


@pytest.mark.requirement("SPEC-009")
def test_tcproute_without_ports_allows_every_port(access_world: AccessWorld) -> None:
    """A TCPRoute with ports [] allows TCP to 9000 and 9001 and HTTP to 80."""
    aw = access_world
    aw.world.allow_all_ports(DEST, ["alice"])
    converge(lambda: _tcp_allowed(aw, aw.alice, 9000), "alice reaches api:9000")
    check(_tcp_allowed(aw, aw.alice, 9001), "TCP api:9001 from alice", "echo reply", "no reply")
    expect(aw.call(aw.alice), True, "GET / from alice")


@pytest.mark.requirement("ACC-009")
def test_several_targets_for_one_destination_add_up(access_world: AccessWorld) -> None:
    """One target lets alice use /a, another lets mallory use /m; each keeps to its own."""
    aw = access_world
    aw.routes("a", [{"name": "a", "pathRegex": "/a"}])
    aw.routes("m", [{"name": "m", "pathRegex": "/m"}])
    aw.allow_routes("alice-a", ["alice"], "a")
    aw.allow_routes("mallory-m", ["mallory"], "m")
    converge(lambda: aw.delivered(aw.alice, HttpCall("/a")), "alice reaches /a")
    converge(lambda: aw.delivered(aw.mallory, HttpCall("/m")), "mallory reaches /m")
    expect(aw.call(aw.alice, HttpCall("/m")), False, "alice GET /m")
    expect(aw.call(aw.mallory, HttpCall("/a")), False, "mallory GET /a")


@pytest.mark.requirement("ACC-010")
def test_deleting_the_target_denies_again(access_world: AccessWorld) -> None:
    """After the allowing TrafficTarget is deleted, alice's calls are denied again."""
    aw = access_world
    _everything(aw)
    aw.allow_routes("alice-to-api", ["alice"], "everything")
    converge(lambda: aw.delivered(aw.alice), "alice reaches api")
    aw.world.mesh.delete("TrafficTarget", aw.world.ns, "alice-to-api")
    converge(lambda: not aw.delivered(aw.alice), "alice is denied after the delete")


@pytest.mark.requirement("ACC-013")
def test_source_from_another_namespace_is_allowed(
    access_world: AccessWorld, mesh: Any, conformance: Any
) -> None:
    """A client of another namespace, listed with it, reaches api; its neighbour does not."""
    aw = access_world
    other = f"{conformance.option('--smi-namespace')}-{uuid.uuid4().hex[:8]}"
    mesh.create_namespace(other)
    try:
        remote = World(mesh, other).client("remote")
        neighbour = World(mesh, other).client("neighbour")
        _everything(aw)
        aw.world.create(
            "TrafficTarget",
            "remote-to-api",
            {
                "destination": {"kind": "ServiceAccount", "name": DEST, "namespace": aw.world.ns},
                "rules": [{"kind": "HTTPRouteGroup", "name": "everything"}],
                "sources": [{"kind": "ServiceAccount", "name": "remote", "namespace": other}],
            },
        )
        send = aw.world.mesh.send_http

        def remote_ok() -> bool:
            return send(remote, DEST, [HttpCall("/")], namespace=aw.world.ns)[0].delivered

        converge(remote_ok, "remote (other namespace) reaches api")
        result = send(neighbour, DEST, [HttpCall("/")], namespace=aw.world.ns)[0]
        expect(result, False, "GET / from neighbour (other namespace, not listed)")
    finally:
        mesh.delete_namespace(other)


@pytest.mark.requirement("ACC-012")
def test_tcproute_and_route_group_in_one_target_both_apply(access_world: AccessWorld) -> None:
    """A target with TCPRoute ports [8080] and an HTTPRouteGroup for /ok allows only /ok.

    TCPRoute ports name the destination's container port (8080 behind service port 80).
    """
    aw = access_world
    aw.world.create("TCPRoute", "http-port", {"matches": {"ports": [8080]}})
    aw.routes("ok", [{"name": "ok", "pathRegex": "/ok"}])
    aw.world.allow(
        "alice-both",
        DEST,
        ["alice"],
        [{"kind": "TCPRoute", "name": "http-port"}, {"kind": "HTTPRouteGroup", "name": "ok"}],
    )
    converge(lambda: aw.delivered(aw.alice, HttpCall("/ok")), "alice reaches /ok")
    expect(aw.call(aw.alice, HttpCall("/not-ok")), False, "GET /not-ok (port allowed, route not)")
