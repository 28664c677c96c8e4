"""Validation of pushed manifests (spec.md#pushing-manifests) before anything is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wire import mediatypes as mt

from .errors import RegistryError
from .storage import ManifestMeta, Storage, check_digest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""The spec asks registries to accept manifests of at least 4 MB; we take 4 MiB, no more."""

IMAGE_TYPES = frozenset({mt.IMAGE_MANIFEST, mt.DOCKER_MANIFEST_V2})
INDEX_TYPES = frozenset({mt.IMAGE_INDEX, mt.DOCKER_MANIFEST_LIST})


@dataclass(frozen=True)
class Parsed:
    """A manifest that passed validation."""

    media_type: str
    document: dict[str, Any]
    subject: str | None
    artifact_type: str | None
    annotations: dict[str, str] | None


def _invalid(reason: str, **detail: Any) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", {"reason": reason, **detail})


def _descriptor(value: Any, where: str) -> dict[str, Any]:
    """Check the fields every descriptor needs (image-spec descriptor.md)."""
    if not isinstance(value, dict):
        raise _invalid("descriptor is not an object", field=where)
    if not isinstance(value.get("mediaType"), str) or not value["mediaType"]:
        raise _invalid("descriptor mediaType missing", field=f"{where}.mediaType")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid("descriptor size must be a non-negative integer", field=f"{where}.size")
    digest = value.get("digest")
    if not isinstance(digest, str):
        raise _invalid("descriptor digest missing", field=f"{where}.digest")
    try:
        check_digest(digest)
    except RegistryError as err:
        raise _invalid("descriptor digest malformed", field=f"{where}.digest") from err
    return value


def parse(content_type: str | None, body: bytes) -> Parsed:
    """Check the syntax of a manifest pushed with ``content_type``."""
    media_type = (content_type or "").split(";", 1)[0].strip()
    if not media_type:
        raise _invalid("Content-Type header missing")
    if media_type not in IMAGE_TYPES | INDEX_TYPES:
        raise _invalid("unsupported manifest media type", mediaType=media_type[:200])
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _invalid("body is not JSON", error=str(err)[:200]) from err
    if not isinstance(doc, dict):
        raise _invalid("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2", field="schemaVersion")
    if "mediaType" in doc and doc["mediaType"] != media_type:
        raise _invalid("mediaType differs from Content-Type", field="mediaType")
    annotations = doc.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise _invalid("annotations must be an object", field="annotations")
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string", field="artifactType")
    subject = None
    if "subject" in doc:
        subject = _descriptor(doc["subject"], "subject")["digest"]
    if media_type in IMAGE_TYPES:
        config = _descriptor(doc.get("config"), "config")
        _descriptor_list(doc.get("layers"), "layers")
        artifact_type = artifact_type or config["mediaType"]
    else:
        _descriptor_list(doc.get("manifests"), "manifests")
    return Parsed(media_type, doc, subject, artifact_type, annotations)


def _descriptor_list(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _invalid(f"{where} must be an array", field=where)
    return [_descriptor(d, f"{where}[{i}]") for i, d in enumerate(value)]


def check_references(storage: Storage, name: str, parsed: Parsed) -> None:
    """Every blob or manifest the manifest names must be in the repository.

    Layers that carry ``urls`` may live elsewhere (image-spec's non-distributable layers), so
    they are not required locally. A ``subject`` may be absent (spec.md#pushing-manifests-with-
    subject).
    """
    doc = parsed.document
    if parsed.media_type in IMAGE_TYPES:
        blobs = [("config", doc["config"])]
        blobs += [(f"layers[{i}]", d) for i, d in enumerate(doc["layers"])]
        for where, desc in blobs:
            if "urls" in desc and where != "config":
                continue
            _check_blob(storage, name, where, desc)
    else:
        for i, desc in enumerate(doc["manifests"]):
            if not storage.has_manifest(name, desc["digest"]):
                raise RegistryError(
                    "MANIFEST_BLOB_UNKNOWN", {"field": f"manifests[{i}]", "digest": desc["digest"]}
                )


def _check_blob(storage: Storage, name: str, where: str, desc: dict[str, Any]) -> None:
    if not storage.has_blob(name, desc["digest"]):
        raise RegistryError("MANIFEST_BLOB_UNKNOWN", {"field": where, "digest": desc["digest"]})
    actual = storage.blob_file(name, desc["digest"]).stat().st_size
    if actual != desc["size"]:
        raise _invalid("descriptor size differs from the blob", field=f"{where}.size")


def meta(parsed: Parsed, digest: str, size: int) -> ManifestMeta:
    """The metadata stored beside the manifest's bytes."""
    return ManifestMeta(
        digest=digest,
        media_type=parsed.media_type,
        size=size,
        subject=parsed.subject,
        artifact_type=parsed.artifact_type,
        annotations=parsed.annotations,
    )
