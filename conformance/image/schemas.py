"""JSON Schemas of the image spec's documents, written for this suite.

They only state structure and JSON types (which properties exist, and what they hold); the
rules with more to them (digest encodings, media type values, annotation keys, platform values,
artifact rules) are checked by hand in :mod:`conformance.image.validate`, where a finding can
name the exact rule. Descriptors inside a document are typed as plain objects here and checked
on their own.
"""

from __future__ import annotations

from typing import Any

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_NULLABLE_STRINGS = {"type": ["array", "null"], "items": {"type": "string"}}
_EMPTY_OBJECT_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "object"}}

OCI_LAYOUT: dict[str, Any] = {
    "type": "object",
    "required": ["imageLayoutVersion"],
    "properties": {"imageLayoutVersion": {"type": "string"}},
}

MANIFEST: dict[str, Any] = {
    "type": "object",
    "required": ["schemaVersion", "config", "layers"],
    "properties": {
        "schemaVersion": {"type": "integer"},
        "mediaType": {"type": "string"},
        "artifactType": {"type": "string"},
        "config": {"type": "object"},
        "layers": {"type": "array", "items": {"type": "object"}},
        "subject": {"type": "object"},
        "annotations": {"type": "object"},
    },
}

INDEX: dict[str, Any] = {
    "type": "object",
    "required": ["schemaVersion", "manifests"],
    "properties": {
        "schemaVersion": {"type": "integer"},
        "mediaType": {"type": "string"},
        "artifactType": {"type": "string"},
        "manifests": {"type": "array", "items": {"type": "object"}},
        "subject": {"type": "object"},
        "annotations": {"type": "object"},
    },
}

_EXECUTION = {
    "type": ["object", "null"],
    "properties": {
        "User": {"type": ["string", "null"]},
        "ExposedPorts": _EMPTY_OBJECT_MAP,
        "Env": _NULLABLE_STRINGS,
        "Entrypoint": _NULLABLE_STRINGS,
        "Cmd": _NULLABLE_STRINGS,
        "Volumes": _EMPTY_OBJECT_MAP,
        "WorkingDir": {"type": ["string", "null"]},
        "Labels": {"type": ["object", "null"]},
        "StopSignal": {"type": ["string", "null"]},
        "ArgsEscaped": {"type": ["boolean", "null"]},
    },
}

CONFIG: dict[str, Any] = {
    "type": "object",
    "required": ["architecture", "os", "rootfs"],
    "properties": {
        "created": {"type": ["string", "null"]},
        "author": {"type": ["string", "null"]},
        "architecture": {"type": "string"},
        "os": {"type": "string"},
        "os.version": {"type": ["string", "null"]},
        "os.features": _NULLABLE_STRINGS,
        "variant": {"type": ["string", "null"]},
        "config": _EXECUTION,
        "rootfs": {
            "type": "object",
            "required": ["type", "diff_ids"],
            "properties": {"type": {"type": "string"}, "diff_ids": _STRINGS},
        },
        "history": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "created": {"type": ["string", "null"]},
                    "author": {"type": ["string", "null"]},
                    "created_by": {"type": ["string", "null"]},
                    "comment": {"type": ["string", "null"]},
                    "empty_layer": {"type": ["boolean", "null"]},
                },
            },
        },
    },
}

PLATFORM: dict[str, Any] = {
    "type": "object",
    "required": ["architecture", "os"],
    "properties": {
        "architecture": {"type": "string"},
        "os": {"type": "string"},
        "os.version": {"type": "string"},
        "os.features": _STRINGS,
        "variant": {"type": "string"},
        "features": _STRINGS,
    },
}

ANNOTATIONS = _STRING_MAP
