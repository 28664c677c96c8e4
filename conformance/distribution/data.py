"""Test content built from scratch: blobs, image manifests, indexes and artifacts.

Every builder returns the exact bytes to push and their digest (computed with
:mod:`wire.digest`), so a test compares what comes back with what it sent. Content is random
per call, so tests never collide under pytest-xdist and never depend on earlier runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from wire import digest as digestlib
from wire import mediatypes as mt


@dataclass(frozen=True)
class Blob:
    """Bytes plus their digest and size."""

    data: bytes
    digest: str
    media_type: str = "application/octet-stream"

    @classmethod
    def of(
        cls, data: bytes, media_type: str = "application/octet-stream", algorithm: str = "sha256"
    ) -> Blob:
        """A blob of ``data`` digested with ``algorithm``."""
        return cls(data, digestlib.compute(data, algorithm), media_type)

    @classmethod
    def random(cls, size: int = 1024, algorithm: str = "sha256") -> Blob:
        """``size`` random bytes, typed as a tar layer."""
        return cls.of(os.urandom(size), mt.LAYER_TAR, algorithm)

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """An OCI descriptor of this blob."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Manifest:
    """A manifest (image, index or artifact) and the blobs it needs pushed first."""

    body: bytes
    media_type: str
    blobs: tuple[Blob, ...] = ()
    children: tuple[Manifest, ...] = field(default=())
    algorithm: str = "sha256"

    @property
    def digest(self) -> str:
        """The manifest's digest."""
        return digestlib.compute(self.body, self.algorithm)

    @property
    def document(self) -> dict[str, Any]:
        """The parsed JSON."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """An OCI descriptor of this manifest."""
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.body),
            **extra,
        }


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=False).encode()


def config_blob(algorithm: str = "sha256") -> Blob:
    """A small, valid image configuration with a random label (so its digest is unique)."""
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"conformance.nonce": os.urandom(8).hex()}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return Blob.of(_dump(doc), mt.IMAGE_CONFIG, algorithm)


def image(
    layers: int = 1,
    layer_size: int = 512,
    *,
    algorithm: str = "sha256",
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
    extra_fields: dict[str, Any] | None = None,
) -> Manifest:
    """An OCI image manifest with a config and ``layers`` random layers."""
    config = config_blob(algorithm)
    blobs = [Blob.random(layer_size, algorithm) for _ in range(layers)]
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.IMAGE_MANIFEST,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    doc.update(extra_fields or {})
    return Manifest(_dump(doc), mt.IMAGE_MANIFEST, (config, *blobs), algorithm=algorithm)


def empty_config() -> Blob:
    """The empty descriptor's content: the two bytes ``{}``."""
    return Blob.of(b"{}", mt.EMPTY_JSON)


def artifact(
    artifact_type: str,
    *,
    subject: Manifest | dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """An artifact packaged as an image manifest: empty config, one layer, ``artifactType``."""
    config = empty_config()
    payload = Blob.of(os.urandom(64), "application/vnd.conformance.payload")
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.IMAGE_MANIFEST,
        "artifactType": artifact_type,
        "config": config.descriptor(),
        "layers": [payload.descriptor()],
    }
    if subject is not None:
        doc["subject"] = subject.descriptor() if isinstance(subject, Manifest) else subject
    if annotations:
        doc["annotations"] = annotations
    return Manifest(_dump(doc), mt.IMAGE_MANIFEST, (config, payload))


def index(
    manifests: list[Manifest],
    *,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """An OCI image index over ``manifests`` (push them first)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.IMAGE_INDEX,
        "manifests": [m.descriptor() for m in manifests],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    return Manifest(_dump(doc), mt.IMAGE_INDEX, children=tuple(manifests))


def unknown_digest(algorithm: str = "sha256") -> str:
    """The digest of random bytes nobody pushed."""
    return digestlib.compute(os.urandom(32), algorithm)


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest`` (spec.md#referrers-tag-schema)."""
    algorithm, encoded = digest.split(":", 1)
    return f"{algorithm[:32]}-{encoded[:64]}"
