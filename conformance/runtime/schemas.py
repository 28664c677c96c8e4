"""JSON schemas of the documents a runtime prints: ``state`` and ``features``.

Written for this suite from the prose of runtime.md ("State") and features.md; checked with
``jsonschema`` (draft 2020-12). A schema error is a violation naming the JSON path.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from conformance.core import Violation

SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

STATE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["ociVersion", "id", "status", "bundle"],
    "properties": {
        "ociVersion": {"type": "string", "pattern": SEMVER},
        "id": {"type": "string", "minLength": 1},
        "status": {"enum": ["creating", "created", "running", "stopped"]},
        "pid": {"type": "integer", "minimum": 0},
        "bundle": {"type": "string", "pattern": "^/"},
        "annotations": _STRING_MAP,
    },
}

FEATURES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["ociVersionMin", "ociVersionMax"],
    "properties": {
        "ociVersionMin": {"type": "string", "pattern": SEMVER},
        "ociVersionMax": {"type": "string", "pattern": SEMVER},
        "hooks": _STRINGS,
        "mountOptions": _STRINGS,
        "annotations": _STRING_MAP,
        "potentiallyUnsafeConfigAnnotations": _STRINGS,
        "linux": {
            "type": "object",
            "properties": {
                "namespaces": _STRINGS,
                "capabilities": _STRINGS,
                "cgroup": {"type": "object"},
                "seccomp": {
                    "type": "object",
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "actions": _STRINGS,
                        "operators": _STRINGS,
                        "archs": _STRINGS,
                        "knownFlags": _STRINGS,
                        "supportedFlags": _STRINGS,
                    },
                },
                "apparmor": {"type": "object"},
                "selinux": {"type": "object"},
                "intelRdt": {"type": "object"},
                "mountExtensions": {"type": "object"},
            },
        },
    },
}


def _validate(document: Any, schema: dict[str, Any], what: str) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "".join(f"[{p!r}]" for p in first.absolute_path)
        raise Violation(
            f"{what}{path}", f"valid per the {what} schema", first.instance, detail=first.message
        )


def validate_state(document: Any) -> None:
    """Raise a :class:`Violation` unless ``document`` is a valid state."""
    _validate(document, STATE_SCHEMA, "state")


def validate_features(document: Any) -> None:
    """Raise a :class:`Violation` unless ``document`` is a valid features document."""
    _validate(document, FEATURES_SCHEMA, "features")
