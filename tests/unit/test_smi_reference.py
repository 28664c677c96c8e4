"""Unit tests of the reference mesh's internals: policy, schemas, store, CA and metrics."""

from __future__ import annotations

import json
import random
import ssl
from collections import Counter
from pathlib import Path

import pytest

from reference_impl.smi import metrics, policy, schemas
from reference_impl.smi.ca import MeshCA, parse_spiffe_id, spiffe_id
from reference_impl.smi.mesh import parse_authority
from reference_impl.smi.store import ConflictError, Store


def _req(method: str = "GET", target: str = "/", **headers: str) -> policy.HttpRequest:
    return policy.HttpRequest(method, target, tuple(headers.items()))


class TestMatchHttp:
    """HTTPRouteGroup match semantics."""

    def test_path_regex_must_match_the_whole_path(self) -> None:
        """'/api' matches '/api' only, not '/api/x', '/apix' or '/v1/api'."""
        match = {"name": "m", "pathRegex": "/api"}
        assert policy.match_http(match, _req(target="/api"))
        for path in ("/api/x", "/apix", "/v1/api"):
            assert not policy.match_http(match, _req(target=path))

    def test_query_string_is_not_part_of_the_path(self) -> None:
        """The query string is ignored by pathRegex."""
        assert policy.match_http({"name": "m", "pathRegex": "/api"}, _req(target="/api?x=1"))

    def test_methods_restrict_and_star_allows_all(self) -> None:
        """A method list restricts; '*' (or no list) allows any method."""
        assert policy.match_http({"name": "m", "methods": ["GET"]}, _req("GET"))
        assert not policy.match_http({"name": "m", "methods": ["GET"]}, _req("POST"))
        assert policy.match_http({"name": "m", "methods": ["*"]}, _req("PATCH"))

    def test_headers_all_apply_case_insensitively(self) -> None:
        """Every header of a match must match; names compare without case."""
        match = {"name": "m", "headers": [{"x-env": "prod.*"}, {"X-Team": "blue"}]}
        assert policy.match_http(match, _req(**{"X-ENV": "prod-1", "x-team": "blue"}))
        assert not policy.match_http(match, _req(**{"x-env": "prod-1"}))
        assert not policy.match_http(match, _req(**{"x-env": "dev", "x-team": "blue"}))

    def test_broken_pattern_matches_nothing(self) -> None:
        """An uncompilable pattern (stored by a lax mesh) matches nothing instead of raising."""
        assert not policy.match_http({"name": "m", "pathRegex": "("}, _req(target="("))


class TestChooseBackend:
    """Weighted draws."""

    def test_zero_and_unavailable_backends_never_drawn(self) -> None:
        """Weight-0 and unavailable backends are never chosen."""
        split = {"spec": {"backends": [
            {"service": "a", "weight": 1}, {"service": "b", "weight": 0},
            {"service": "c", "weight": 5},
        ]}}  # fmt: skip
        rng = random.Random(7)
        drawn = Counter(policy.choose_backend(split, lambda s: s != "c", rng) for _ in range(200))
        assert drawn == Counter({"a": 200})

    def test_nothing_to_draw_gives_none(self) -> None:
        """All weights 0: no backend."""
        split = {"spec": {"backends": [{"service": "a", "weight": 0}]}}
        assert policy.choose_backend(split, lambda s: True) is None


def _target(sources: list[dict[str, str]], rules: list[dict[str, object]]) -> dict[str, object]:
    return {
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {
            "destination": {"kind": "ServiceAccount", "name": "api"},
            "rules": rules,
            "sources": sources,
        },
    }


ROUTES = {
    ("HTTPRouteGroup", "g"): {
        "spec": {"matches": [{"name": "a", "pathRegex": "/a"}, {"name": "b", "pathRegex": "/b"}]}
    },
    ("TCPRoute", "p9000"): {"spec": {"matches": {"ports": [9000]}}},
    ("TCPRoute", "all"): {"spec": {"matches": {"ports": []}}},
}


def _allowed(target: dict[str, object], caller: policy.Caller) -> bool:
    return policy.access_allowed(
        [target], lambda ns: lambda k, n: ROUTES.get((k, n)), "ns", "api", caller
    )


class TestAccess:
    """TrafficTarget evaluation."""

    def test_unlisted_account_is_denied(self) -> None:
        """Only listed sources pass."""
        target = _target(
            [{"kind": "ServiceAccount", "name": "alice"}], [{"kind": "TCPRoute", "name": "all"}]
        )
        assert _allowed(target, policy.Caller("ns", "alice", 8080, _req()))
        assert not _allowed(target, policy.Caller("ns", "bob", 8080, _req()))
        assert not _allowed(target, policy.Caller("other", "alice", 8080, _req()))

    def test_rule_matches_select_group_entries(self) -> None:
        """matches: [a] allows /a and not /b."""
        target = _target(
            [{"kind": "ServiceAccount", "name": "alice"}],
            [{"kind": "HTTPRouteGroup", "name": "g", "matches": ["a"]}],
        )
        assert _allowed(target, policy.Caller("ns", "alice", 80, _req(target="/a")))
        assert not _allowed(target, policy.Caller("ns", "alice", 80, _req(target="/b")))

    def test_tcp_ports_and_route_kinds_intersect(self) -> None:
        """TCPRoute [9000] + HTTPRouteGroup: raw TCP is denied, HTTP needs both."""
        rules = [{"kind": "TCPRoute", "name": "p9000"}, {"kind": "HTTPRouteGroup", "name": "g"}]
        target = _target([{"kind": "ServiceAccount", "name": "alice"}], rules)
        assert _allowed(target, policy.Caller("ns", "alice", 9000, _req(target="/a")))
        assert not _allowed(target, policy.Caller("ns", "alice", 9001, _req(target="/a")))
        assert not _allowed(target, policy.Caller("ns", "alice", 9000, None))

    def test_missing_route_object_allows_nothing(self) -> None:
        """A rule naming an absent route denies."""
        target = _target(
            [{"kind": "ServiceAccount", "name": "alice"}], [{"kind": "TCPRoute", "name": "gone"}]
        )
        assert not _allowed(target, policy.Caller("ns", "alice", 9000, None))


class TestSchemas:
    """Admission schemas."""

    def _kind(self, name: str) -> schemas.Kind:
        return next(k for k in schemas.KINDS if k.kind == name)

    @staticmethod
    def _obj(kind: schemas.Kind, spec: dict[str, object]) -> dict[str, object]:
        return {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": "x"},
            "spec": spec,
        }

    def test_valid_split_has_no_causes(self) -> None:
        """A complete TrafficSplit validates."""
        kind = self._kind("TrafficSplit")
        obj = self._obj(kind, {"service": "w", "backends": [{"service": "v1", "weight": 0}]})
        assert schemas.validate(self._kind("TrafficSplit"), obj) == []

    def test_causes_name_the_field(self) -> None:
        """A missing weight is reported at spec.backends[0]."""
        kind = self._kind("TrafficSplit")
        obj = self._obj(kind, {"service": "w", "backends": [{"service": "v1"}]})
        causes = schemas.validate(self._kind("TrafficSplit"), obj)
        assert [c.field for c in causes] == ["spec.backends[0]"]
        assert causes[0].reason == "FieldValueRequired"

    def test_uncompilable_regex_is_refused(self) -> None:
        """A pathRegex Python cannot compile is a cause."""
        kind = self._kind("HTTPRouteGroup")
        obj = self._obj(kind, {"matches": [{"name": "m", "pathRegex": "(unclosed"}]})
        causes = schemas.validate(self._kind("HTTPRouteGroup"), obj)
        assert causes
        assert causes[0].field == "spec.matches[0].pathRegex"

    def test_header_map_form_is_refused(self) -> None:
        """Headers as a single map (the spec text's form) are refused: the CRD wants a list."""
        kind = self._kind("HTTPRouteGroup")
        obj = self._obj(kind, {"matches": [{"name": "m", "headers": {"x": "y"}}]})
        assert schemas.validate(self._kind("HTTPRouteGroup"), obj)


class TestStore:
    """The persistent object store."""

    def test_objects_survive_a_restart(self, tmp_path: Path) -> None:
        """Objects written by one store are read by the next, with resource versions kept."""
        store = Store(tmp_path)
        created = store.create(
            ("g/things", "ns", "a"), {"metadata": {"name": "a"}, "spec": {"x": 1}}
        )
        again = Store(tmp_path)
        assert again.get(("g/things", "ns", "a")) == created
        assert again.version == store.version

    def test_create_twice_conflicts_and_keeps_the_first(self, tmp_path: Path) -> None:
        """A second create of the same key is refused and the first object stays."""
        store = Store(tmp_path)
        store.create(("g/things", "ns", "a"), {"metadata": {"name": "a"}, "spec": {"x": 1}})
        with pytest.raises(ConflictError):
            store.create(("g/things", "ns", "a"), {"metadata": {"name": "a"}, "spec": {"x": 2}})
        assert store.get(("g/things", "ns", "a"))["spec"] == {"x": 1}  # type: ignore[index]

    def test_no_temporary_files_are_left(self, tmp_path: Path) -> None:
        """Writes replace atomically: only .json files remain."""
        store = Store(tmp_path)
        store.create(("g/things", "ns", "a"), {"metadata": {"name": "a"}})
        store.replace(("g/things", "ns", "a"), {"metadata": {"name": "a"}, "spec": {}})
        assert [p.suffix for p in tmp_path.rglob("*") if p.is_file()] == [".json"]


class TestCA:
    """Workload identities."""

    def test_certificate_carries_the_spiffe_id(self, tmp_path: Path) -> None:
        """The issued certificate's URI SAN is the account's SPIFFE id."""
        from cryptography import x509

        ca = MeshCA(tmp_path)
        pem = ca.issue("ns", "alice").read_bytes()
        cert = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE") :])
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == [spiffe_id("ns", "alice")]
        assert isinstance(ca.server_context("ns", "alice"), ssl.SSLContext)

    def test_spiffe_id_round_trip_and_rejects_others(self) -> None:
        """Only well-formed ids in our trust domain parse."""
        assert parse_spiffe_id(spiffe_id("ns", "sa")) == ("ns", "sa")
        assert parse_spiffe_id("spiffe://evil.example/ns/a/sa/b") is None
        assert parse_spiffe_id("spiffe://cluster.local/ns/a/sa/") is None


class TestMetrics:
    """Quantities and aggregation."""

    def test_quantity_formats(self) -> None:
        """Whole numbers plain, fractions in thousandths."""
        assert metrics.quantity(12) == "12"
        assert metrics.quantity(1.5) == "1500m"

    def test_edges_split_by_direction(self) -> None:
        """Edges of a pod list callers as 'from' and callees as 'to'."""
        rec = metrics.Recorder()
        rec.record(("ns", "client"), ("ns", "server"), 200, 3.0)
        rec.record(("ns", "server"), ("ns", "db"), 503, 5.0)
        server = metrics.Resource("Pod", "pods", "ns", "server", frozenset({("ns", "server")}))

        def peer(key: tuple[str, str]) -> metrics.Resource:
            return metrics.Resource("Pod", "pods", key[0], key[1], frozenset({key}))

        body = metrics.edge_metrics(server, rec.window(30), 30, peer)
        edges = {(i["edge"]["direction"], i["edge"]["resource"]["name"]) for i in body["items"]}
        assert edges == {("from", "client"), ("to", "db")}
        own = metrics.resource_metrics(server, rec.window(30), 30)
        values = {m["name"]: m["value"] for m in own["metrics"]}
        assert (values["success_count"], values["failure_count"]) == ("1", "0")
        json.dumps(body)


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("web", ("web", "dflt", 80)),
        ("web.ns:8080", ("web", "ns", 8080)),
        ("web.ns.svc.cluster.local:81", ("web", "ns", 81)),
        ("web.ns.example.com", None),
        ("web:x", None),
    ],
)
def test_parse_authority(authority: str, expected: tuple[str, str, int] | None) -> None:
    """Service names in Host/CONNECT authorities resolve like cluster DNS names."""
    assert parse_authority(authority, "dflt") == expected
