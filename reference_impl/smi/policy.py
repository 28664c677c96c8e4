"""The mesh's decisions as pure functions: route matching, weighted splitting, access control.

Readings taken where the SMI text leaves room (each is also a requirement note in the suite):

* ``pathRegex`` and header value patterns must match the whole value (``re.fullmatch``); the
  path is matched without its query string. Header names compare case-insensitively.
* Within one HTTPRouteGroup match, methods, path and every header must all match; separate
  matches are alternatives.
* A TrafficSplit backend whose service does not exist, or has no endpoint for the port, takes
  no part in the draw; its weight is left out of the total. With nothing left to draw from the
  request fails (503).
* A TrafficTarget is the intersection of its rule kinds: when it lists TCPRoutes the port must
  be allowed by one of them, and when it lists HTTPRouteGroups an HTTP request must match one
  of the selected matches. A target with only TCPRoutes allows any HTTP request on its ports;
  a target with only HTTPRouteGroups allows no raw TCP stream. Targets add up (union).
* ``destination.namespace`` and ``sources[].namespace`` default to the target's namespace; a
  target whose destination names another namespace is ignored.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]
"""``(kind, name)`` -> the route object in the target's namespace, or ``None``."""


@dataclass(frozen=True)
class HttpRequest:
    """What route matching looks at in an HTTP request."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def path(self) -> str:
        """The request target without its query string."""
        return self.target.split("?", 1)[0]

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive)."""
        wanted = name.lower()
        return [v for n, v in self.headers if n.lower() == wanted]


def _fullmatch(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def match_http(match: Mapping[str, Any], request: HttpRequest) -> bool:
    """True when one HTTPRouteGroup match accepts ``request``."""
    methods = match.get("methods") or ["*"]
    if "*" not in methods and request.method.upper() not in methods:
        return False
    path_regex = match.get("pathRegex")
    if path_regex and not _fullmatch(path_regex, request.path):
        return False
    for header in match.get("headers") or []:
        for name, pattern in header.items():
            if not any(_fullmatch(pattern, v) for v in request.header_values(name)):
                return False
    return True


def group_matches(group: Obj, names: Iterable[str] | None, request: HttpRequest) -> bool:
    """True when one of the group's matches (only those ``names``, when given) accepts it."""
    wanted = set(names) if names else None
    for match in (group.get("spec") or {}).get("matches") or []:
        if wanted is not None and match.get("name") not in wanted:
            continue
        if match_http(match, request):
            return True
    return False


def split_applies(split: Obj, lookup: Lookup, request: HttpRequest | None) -> bool:
    """True when ``split`` governs the request: no matches, or one referenced group matches."""
    refs = (split.get("spec") or {}).get("matches") or []
    if not refs:
        return True
    if request is None:
        return False
    for ref in refs:
        group = lookup(ref.get("kind", ""), ref.get("name", ""))
        if group is not None and group_matches(group, None, request):
            return True
    return False


def choose_backend(
    split: Obj, available: Callable[[str], bool], rng: random.Random | None = None
) -> str | None:
    """Draw a backend service by weight among those ``available``; ``None`` when none can be."""
    backends = [
        (b["service"], int(b.get("weight", 0)))
        for b in (split.get("spec") or {}).get("backends") or []
        if int(b.get("weight", 0)) > 0 and available(b["service"])
    ]
    if not backends:
        return None
    names, weights = zip(*backends, strict=True)
    return (rng or random).choices(names, weights=weights, k=1)[0]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and what it asks for."""

    namespace: str
    service_account: str
    port: int
    request: HttpRequest | None = None
    """``None`` for a raw TCP stream."""
    udp: bool = False


def _source_listed(target: Obj, caller: Caller) -> bool:
    ns = target["metadata"].get("namespace", "")
    for source in target["spec"].get("sources") or []:
        if source.get("kind") != "ServiceAccount":
            continue
        if source.get("name") == caller.service_account and source.get("namespace", ns) == (
            caller.namespace
        ):
            return True
    return False


def _ports_allow(route: Obj | None, port: int) -> bool:
    if route is None:
        return False
    ports = ((route.get("spec") or {}).get("matches") or {}).get("ports") or []
    return not ports or port in ports


def _rules_allow(target: Obj, lookup: Lookup, caller: Caller) -> bool:
    rules = target["spec"].get("rules") or []
    l4_kind = "UDPRoute" if caller.udp else "TCPRoute"
    l4 = [r for r in rules if r.get("kind") == l4_kind]
    l7 = [r for r in rules if r.get("kind") == "HTTPRouteGroup"]
    if not l4 and not l7:
        return False
    if l4 and not any(_ports_allow(lookup(r["kind"], r["name"]), caller.port) for r in l4):
        return False
    if not l7:
        return True
    if caller.request is None:
        return False
    for rule in l7:
        group = lookup("HTTPRouteGroup", rule["name"])
        if group is not None and group_matches(group, rule.get("matches"), caller.request):
            return True
    return False


def access_allowed(
    targets: Iterable[Obj],
    lookup_in: Callable[[str], Lookup],
    destination_namespace: str,
    destination_account: str,
    caller: Caller,
) -> bool:
    """True when one TrafficTarget for the destination account allows ``caller``.

    Args:
        targets: every TrafficTarget in the destination's namespace.
        lookup_in: namespace -> route lookup in that namespace.
        destination_namespace: namespace of the pod being called.
        destination_account: service account the called pod runs as.
        caller: the verified identity of the caller and its request.
    """
    for target in targets:
        ns = target["metadata"].get("namespace", "")
        dest = target["spec"].get("destination") or {}
        if dest.get("kind") != "ServiceAccount" or dest.get("name") != destination_account:
            continue
        if dest.get("namespace", ns) != destination_namespace or ns != destination_namespace:
            continue
        if _source_listed(target, caller) and _rules_allow(target, lookup_in(ns), caller):
            return True
    return False
