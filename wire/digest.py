"""Content digests as the OCI specs define them: ``algorithm ":" encoded``."""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

ALGORITHMS = {"sha256": 64, "sha512": 128}
"""Registered algorithms and the length of their lowercase hex encoding."""

DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
"""The general digest grammar of the image spec; registered algorithms are stricter."""


class DigestError(ValueError):
    """A digest string that breaks the grammar or its algorithm's encoding rules."""


def parse(digest: str) -> tuple[str, str]:
    """Split and check ``digest``; :class:`DigestError` says which rule it breaks."""
    if not DIGEST_GRAMMAR.match(digest):
        raise DigestError(f"{digest!r} does not match algorithm:encoded")
    algorithm, encoded = digest.split(":", 1)
    width = ALGORITHMS.get(algorithm)
    if width is None:
        raise DigestError(f"{digest!r}: unsupported algorithm {algorithm!r}")
    if len(encoded) != width or not re.fullmatch(r"[a-f0-9]+", encoded):
        raise DigestError(f"{digest!r}: {algorithm} needs {width} lowercase hex characters")
    return algorithm, encoded


def compute(data: bytes, algorithm: str = "sha256") -> str:
    """The digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def compute_stream(stream: BinaryIO, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """The digest of everything readable from ``stream``, read in chunks."""
    h = hashlib.new(algorithm)
    while block := stream.read(chunk):
        h.update(block)
    return f"{algorithm}:{h.hexdigest()}"


def hasher(digest: str) -> hashlib._Hash:
    """A fresh hash object of ``digest``'s algorithm, for verifying streamed content."""
    algorithm, _ = parse(digest)
    return hashlib.new(algorithm)
