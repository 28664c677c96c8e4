"""JSON Schemas of the SMI kinds the reference mesh stores, written for this project.

The schemas follow the CRDs of smi-sdk-go v0.5.0 (SMI v0.6.0) where spec text and CRD agree.
Where they disagree the reference takes one reading, written beside the field:

* TrafficSplit ``weight``: the CRD says ``number``, the spec text says whole numbers; we accept
  integers >= 0 only (fractions and negatives are rejected).
* HTTPRouteGroup ``headers``: the CRD and the SDK use a list of single-entry maps, the spec text
  shows one map; we accept the list form only, as a Kubernetes API server would.
* TCPRoute / UDPRoute ``matches.ports``: required key (CRD); an empty list means every port.
* TrafficTarget ``rules`` and ``sources``: the spec text calls a target without a rule or a
  source invalid, the CRD has no minimum; we require at least one of each.

``validate`` also compiles every regular expression, because a pattern the data plane cannot
compile would otherwise be stored and then match nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

HTTP_METHODS = ["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]


@dataclass(frozen=True)
class Kind:
    """One served kind: where it lives in the API and how its objects look."""

    group: str
    version: str
    kind: str
    plural: str
    spec: dict[str, Any]
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``group/version`` as objects spell it (``v1`` for the core group)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """The store's key for this kind: ``<group>/<plural>``."""
        return f"{self.group}/{self.plural}"

    def schema(self) -> dict[str, Any]:
        """The whole-object schema: apiVersion, kind, metadata and this kind's spec."""
        return {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"]
            if self.spec
            else ["apiVersion", "kind", "metadata"],
            "properties": {
                "apiVersion": {"const": self.api_version},
                "kind": {"const": self.kind},
                "metadata": METADATA,
                "spec": self.spec,
            },
        }


METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
        "namespace": {"type": "string", "pattern": DNS_LABEL},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_NAME = {"type": "string", "minLength": 1}

TRAFFIC_SPLIT: dict[str, Any] = {
    "type": "object",
    "required": ["service", "backends"],
    "properties": {
        "service": _NAME,
        "backends": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["service", "weight"],
                "properties": {
                    "service": _NAME,
                    "weight": {"type": "integer", "minimum": 0},
                },
            },
        },
        "matches": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"enum": ["HTTPRouteGroup"]},
                    "name": _NAME,
                    "apiGroup": {"type": "string"},
                },
            },
        },
    },
}

TRAFFIC_TARGET: dict[str, Any] = {
    "type": "object",
    "required": ["destination", "rules", "sources"],
    "properties": {
        "destination": {
            "type": "object",
            "required": ["kind", "name"],
            "properties": {
                "kind": {"enum": ["ServiceAccount"]},
                "name": _NAME,
                "namespace": {"type": "string"},
            },
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"enum": ["HTTPRouteGroup", "TCPRoute", "UDPRoute"]},
                    "name": _NAME,
                    "matches": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "sources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"enum": ["ServiceAccount"]},
                    "name": _NAME,
                    "namespace": {"type": "string"},
                },
            },
        },
    },
}

HTTP_ROUTE_GROUP: dict[str, Any] = {
    "type": "object",
    "required": ["matches"],
    "properties": {
        "matches": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _NAME,
                    "methods": {"type": "array", "items": {"enum": HTTP_METHODS}},
                    "pathRegex": {"type": "string"},
                    "headers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_PORTS_ROUTE: dict[str, Any] = {
    "type": "object",
    "required": ["matches"],
    "properties": {
        "matches": {
            "type": "object",
            "required": ["ports"],
            "properties": {
                "name": {"type": "string"},
                "ports": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                },
            },
        },
    },
}

KINDS: tuple[Kind, ...] = (
    Kind("split.smi-spec.io", "v1alpha4", "TrafficSplit", "trafficsplits", TRAFFIC_SPLIT),
    Kind("access.smi-spec.io", "v1alpha3", "TrafficTarget", "traffictargets", TRAFFIC_TARGET),
    Kind("specs.smi-spec.io", "v1alpha4", "HTTPRouteGroup", "httproutegroups", HTTP_ROUTE_GROUP),
    Kind("specs.smi-spec.io", "v1alpha4", "TCPRoute", "tcproutes", _PORTS_ROUTE),
    Kind("specs.smi-spec.io", "v1alpha4", "UDPRoute", "udproutes", _PORTS_ROUTE),
)


_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}

POD_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["containers"],
    "properties": {
        "serviceAccountName": {"type": "string", "pattern": DNS_SUBDOMAIN},
        "containers": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _NAME,
                    "image": {"type": "string"},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": _NAME, "value": {"type": "string"}},
                        },
                    },
                    "ports": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["containerPort"],
                            "properties": {"containerPort": _PORT, "name": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}

SERVICE_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["ports"],
    "properties": {
        "selector": _STRINGS,
        "ports": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["port"],
                "properties": {"port": _PORT, "targetPort": _PORT, "name": {"type": "string"}},
            },
        },
    },
}

DEPLOYMENT_SPEC: dict[str, Any] = {
    "type": "object",
    "required": ["selector", "template"],
    "properties": {
        "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
        "selector": {
            "type": "object",
            "required": ["matchLabels"],
            "properties": {"matchLabels": _STRINGS},
        },
        "template": {
            "type": "object",
            "required": ["spec"],
            "properties": {
                "metadata": {"type": "object", "properties": {"labels": _STRINGS}},
                "spec": POD_SPEC,
            },
        },
    },
}

WORKLOAD_KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", {}, namespaced=False),
    Kind("", "v1", "Pod", "pods", POD_SPEC),
    Kind("", "v1", "Service", "services", SERVICE_SPEC),
    Kind("apps", "v1", "Deployment", "deployments", DEPLOYMENT_SPEC),
)


def find_kind(group: str, version: str, plural: str) -> Kind | None:
    """The served kind at ``/apis/<group>/<version>/.../<plural>``, or ``None``."""
    for kind in KINDS + WORKLOAD_KINDS:
        if (kind.group, kind.version, kind.plural) == (group, version, plural):
            return kind
    return None


@dataclass(frozen=True)
class Cause:
    """One reason an object is invalid, as a Kubernetes ``Status`` cause."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"


def _field_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(object)"


def _regex_causes(obj: dict[str, Any]) -> list[Cause]:
    causes = []
    spec = obj.get("spec") or {}
    for i, match in enumerate(spec.get("matches") or []):
        patterns = [("pathRegex", match.get("pathRegex"))]
        for j, header in enumerate(match.get("headers") or []):
            patterns += [(f"headers[{j}].{k}", v) for k, v in header.items()]
        for name, pattern in patterns:
            if not isinstance(pattern, str):
                continue
            try:
                re.compile(pattern)
            except re.error as err:
                causes.append(
                    Cause(f"spec.matches[{i}].{name}", f"invalid regular expression: {err}")
                )
    return causes


def validate(kind: Kind, obj: Any) -> list[Cause]:
    """Every reason ``obj`` is not a valid ``kind`` object; empty when it is valid."""
    validator = jsonschema.Draft202012Validator(kind.schema())
    causes = [
        Cause(
            _field_path(err.absolute_path),
            err.message,
            "FieldValueRequired" if err.validator == "required" else "FieldValueInvalid",
        )
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]
    if not causes and kind.kind == "HTTPRouteGroup":
        causes.extend(_regex_causes(obj))
    return causes
