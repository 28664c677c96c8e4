"""Content-addressed filesystem storage for the reference registry.

Layout under the root directory::

    blobs/<alg>/<first two hex>/<hex>          content, shared by every repository
    uploads/<uuid>/data, uploads/<uuid>/repo   upload sessions in progress
    repos/<name>/_layers/<alg>/<hex>           the repository may serve this blob
    repos/<name>/_manifests/<alg>/<hex>        manifest metadata (media type, subject...)
    repos/<name>/_tags/<tag>                   the digest the tag points at
    tmp/                                       staging area for atomic renames

Durability rules: content is written to a staging file, ``fsync``-ed, verified against its
digest, then published with ``os.replace`` (atomic on POSIX), so a reader or a restart after
``kill -9`` sees either nothing or the whole verified blob. Two uploads of the same blob
race harmlessly: both rename identical verified bytes onto one path. Metadata files (links,
tags) are published the same way. Blob bodies are streamed; nothing holds a whole blob in
memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from wire import digest as digestlib

from .errors import RegistryError

log = logging.getLogger(__name__)

# spec.md#pulling-manifests: repository names and tags.
NAME_RE = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_NAME = 255
STALE_UPLOAD_SECONDS = 24 * 3600


def check_name(name: str) -> str:
    """Return ``name`` when it is a valid repository name, else raise ``NAME_INVALID``."""
    if len(name) > MAX_NAME or not NAME_RE.match(name):
        raise RegistryError("NAME_INVALID", {"name": name[:300]})
    return name


def check_tag(tag: str) -> str:
    """Return ``tag`` when it is a valid tag; ``MANIFEST_INVALID`` otherwise.

    The spec lists no tag-specific code any more (``TAG_INVALID`` was dropped), so a bad tag is
    reported as an invalid manifest reference.
    """
    if not TAG_RE.match(tag):
        raise RegistryError("MANIFEST_INVALID", {"tag": tag[:300], "reason": "invalid tag"})
    return tag


def check_digest(value: str) -> tuple[str, str]:
    """Split a digest; ``DIGEST_INVALID`` for bad syntax or an unsupported algorithm."""
    try:
        return digestlib.parse(value)
    except digestlib.DigestError as err:
        raise RegistryError("DIGEST_INVALID", str(err)) from err


@dataclass(frozen=True)
class ManifestMeta:
    """What the registry remembers about one stored manifest besides its bytes."""

    digest: str
    media_type: str
    size: int
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    def descriptor(self) -> dict[str, Any]:
        """The descriptor the referrers API lists for this manifest."""
        desc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            desc["artifactType"] = self.artifact_type
        if self.annotations:
            desc["annotations"] = self.annotations
        return desc


class Upload:
    """An upload session: a staging file plus a running hash of its bytes.

    The running hash is a cache: when the process restarts, or bytes arrive that it did not
    see, :meth:`Storage.commit_upload` hashes the file from disk instead.
    """

    def __init__(self, upload_id: str, directory: Path, repo: str) -> None:
        self.id = upload_id
        self.dir = directory
        self.repo = repo
        self.data = directory / "data"
        self.hashers: dict[str, Any] = {}
        self.hashed = 0
        self.algorithm = "sha256"
        """The algorithm hashed while receiving; another one is computed from disk at commit."""

    @property
    def size(self) -> int:
        """Bytes received so far."""
        try:
            return self.data.stat().st_size
        except FileNotFoundError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": self.id}) from None

    def open_append(self) -> BinaryIO:
        """The staging file opened for appending."""
        return open(self.data, "ab")

    def feed(self, block: bytes, offset: int) -> None:
        """Update the running hashes when ``block`` continues exactly what they covered."""
        if offset != self.hashed:
            self.hashers.clear()
            self.hashed = -1
            return
        if not self.hashers:
            self.hashers = {self.algorithm: hashlib.new(self.algorithm)}
        for h in self.hashers.values():
            h.update(block)
        self.hashed += len(block)


class Storage:
    """The registry's persistent state on one directory tree.

    Args:
        root: the storage directory; created when missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("blobs", "uploads", "repos", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._uploads: dict[str, Upload] = {}
        self._clean_tmp()

    # -- helpers ------------------------------------------------------------------------

    def _clean_tmp(self) -> None:
        """Remove staging files a killed process left behind; they were never published."""
        for entry in (self.root / "tmp").iterdir():
            entry.unlink(missing_ok=True)

    def _blob_path(self, digest: str) -> Path:
        alg, hexpart = check_digest(digest)
        return self.root / "blobs" / alg / hexpart[:2] / hexpart

    def _repo(self, name: str) -> Path:
        return self.root / "repos" / check_name(name)

    def _publish(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically and durably."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _link(self, name: str, kind: str, digest: str) -> Path:
        alg, hexpart = check_digest(digest)
        return self._repo(name) / kind / alg / hexpart

    # -- repositories -------------------------------------------------------------------

    def repo_exists(self, name: str) -> bool:
        """True when anything was ever pushed to ``name``."""
        return self._repo(name).is_dir()

    # -- blobs --------------------------------------------------------------------------

    def blob_file(self, name: str, digest: str) -> Path:
        """The file of a blob ``name`` may serve; ``BLOB_UNKNOWN`` otherwise."""
        path = self._blob_path(digest)
        if not self._link(name, "_layers", digest).exists() or not path.exists():
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return path

    def has_blob(self, name: str, digest: str) -> bool:
        """True when ``name`` may serve the blob ``digest``."""
        try:
            self.blob_file(name, digest)
        except RegistryError:
            return False
        return True

    def link_blob(self, name: str, digest: str) -> None:
        """Let ``name`` serve an already stored blob (after an upload or a mount)."""
        self._publish(self._link(name, "_layers", digest), b"")

    def mount_blob(self, name: str, digest: str, source: str | None) -> bool:
        """Mount ``digest`` into ``name`` from ``source`` (any repository when ``None``)."""
        if not self._blob_path(digest).exists():
            return False
        if source is not None:
            if not NAME_RE.match(source) or not self.has_blob(source, digest):
                return False
        elif not self._any_repo_has(digest):
            return False
        self.link_blob(name, digest)
        return True

    def _any_repo_has(self, digest: str) -> bool:
        alg, hexpart = check_digest(digest)
        return any((self.root / "repos").glob(f"**/_layers/{alg}/{hexpart}"))

    def delete_blob(self, name: str, digest: str) -> None:
        """Unlink the blob from ``name``; the shared bytes stay for other repositories."""
        link = self._link(name, "_layers", digest)
        if not link.exists():
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        link.unlink()

    # -- uploads ------------------------------------------------------------------------

    def start_upload(self, name: str, algorithm: str = "sha256") -> Upload:
        """Open a new upload session for ``name``, hashing with ``algorithm`` as bytes arrive."""
        check_name(name)
        upload_id = uuid.uuid4().hex
        directory = self.root / "uploads" / upload_id
        directory.mkdir()
        (directory / "data").touch()
        (directory / "repo").write_text(name)
        upload = Upload(upload_id, directory, name)
        upload.algorithm = algorithm
        self._uploads[upload_id] = upload
        return upload

    def get_upload(self, name: str, upload_id: str) -> Upload:
        """The open session ``upload_id`` of ``name``; ``BLOB_UPLOAD_UNKNOWN`` otherwise."""
        if not UPLOAD_ID_RE.match(upload_id):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id[:64]})
        upload = self._uploads.get(upload_id)
        if upload is None:
            directory = self.root / "uploads" / upload_id
            try:
                repo = (directory / "repo").read_text()
            except FileNotFoundError:
                raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id}) from None
            upload = Upload(upload_id, directory, repo)
            upload.hashed = -1
            self._uploads[upload_id] = upload
        if upload.repo != name:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id})
        return upload

    def cancel_upload(self, upload: Upload) -> None:
        """Drop an upload session and its staged bytes."""
        self._uploads.pop(upload.id, None)
        shutil.rmtree(upload.dir, ignore_errors=True)

    def commit_upload(self, upload: Upload, digest: str, verify: bool = True) -> str:
        """Verify the staged bytes against ``digest`` and publish them as a blob.

        On a mismatch the session is closed (the client has to start over, as with the
        reference implementations of the spec) and ``DIGEST_INVALID`` raised; nothing
        already stored is touched. ``verify=False`` exists only for the harness's
        broken-registry self-tests.
        """
        alg, _ = check_digest(digest)
        with open(upload.data, "rb") as f:
            os.fsync(f.fileno())
            if upload.hashed == upload.size and alg in upload.hashers:
                actual = f"{alg}:{upload.hashers[alg].hexdigest()}"
            else:
                actual = digestlib.compute_stream(f, alg)
        if actual != digest and verify:
            self.cancel_upload(upload)
            raise RegistryError("DIGEST_INVALID", {"expected": digest, "computed": actual})
        target = self._blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(upload.data, target)
        self.link_blob(upload.repo, digest)
        self.cancel_upload(upload)
        log.info("committed blob %s to %s", digest, upload.repo)
        return digest

    def put_blob_bytes(self, name: str, data: bytes) -> str:
        """Store small content (a manifest's bytes) as a blob and link it to ``name``."""
        digest = digestlib.compute(data)
        return self.put_blob_bytes_as(name, data, digest)

    def put_blob_bytes_as(self, name: str, data: bytes, digest: str) -> str:
        """Store ``data`` under ``digest`` (already verified by the caller)."""
        path = self._blob_path(digest)
        if not path.exists():
            self._publish(path, data)
        return digest

    def reap_uploads(self, max_age: float = STALE_UPLOAD_SECONDS) -> int:
        """Remove upload sessions untouched for ``max_age`` seconds; returns how many."""
        now, removed = time.time(), 0
        for directory in (self.root / "uploads").iterdir():
            try:
                age = now - (directory / "data").stat().st_mtime
            except FileNotFoundError:
                age = max_age + 1
            if age > max_age:
                self._uploads.pop(directory.name, None)
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
        return removed

    # -- manifests ----------------------------------------------------------------------

    def put_manifest(self, name: str, data: bytes, meta: ManifestMeta) -> None:
        """Store manifest bytes and metadata in ``name`` (bytes first, then the link)."""
        self.put_blob_bytes_as(name, data, meta.digest)
        record = {
            "mediaType": meta.media_type,
            "size": meta.size,
            "subject": meta.subject,
            "artifactType": meta.artifact_type,
            "annotations": meta.annotations,
        }
        self._publish(self._link(name, "_manifests", meta.digest), json.dumps(record).encode())
        if meta.subject:
            ref = self._referrer_link(name, meta.subject, meta.digest)
            self._publish(ref, b"")

    def _referrer_link(self, name: str, subject: str, digest: str) -> Path:
        s_alg, s_hex = check_digest(subject)
        alg, hexpart = check_digest(digest)
        return self._repo(name) / "_referrers" / s_alg / s_hex / f"{alg}-{hexpart}"

    def manifest_meta(self, name: str, digest: str) -> ManifestMeta:
        """Metadata of a manifest in ``name``; ``MANIFEST_UNKNOWN`` when absent."""
        try:
            record = json.loads(self._link(name, "_manifests", digest).read_text())
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", {"reference": digest}) from None
        return ManifestMeta(
            digest=digest,
            media_type=record["mediaType"],
            size=record["size"],
            subject=record.get("subject"),
            artifact_type=record.get("artifactType"),
            annotations=record.get("annotations"),
        )

    def has_manifest(self, name: str, digest: str) -> bool:
        """True when ``name`` holds the manifest ``digest``."""
        return self._link(name, "_manifests", digest).exists()

    def manifest_file(self, name: str, digest: str) -> Path:
        """The file holding the manifest's exact bytes."""
        self.manifest_meta(name, digest)
        return self._blob_path(digest)

    def delete_manifest(self, name: str, digest: str) -> None:
        """Remove a manifest from ``name`` with every tag pointing at it."""
        meta = self.manifest_meta(name, digest)
        for tag in self.tags(name):
            if self.resolve_tag(name, tag) == digest:
                self.delete_tag(name, tag)
        if meta.subject:
            self._referrer_link(name, meta.subject, digest).unlink(missing_ok=True)
        self._link(name, "_manifests", digest).unlink()

    def referrers(self, name: str, subject: str) -> list[ManifestMeta]:
        """Manifests of ``name`` whose ``subject`` is ``subject``, in digest order."""
        s_alg, s_hex = check_digest(subject)
        directory = self._repo(name) / "_referrers" / s_alg / s_hex
        if not directory.is_dir():
            return []
        found = []
        for entry in sorted(directory.iterdir()):
            alg, hexpart = entry.name.split("-", 1)
            try:
                found.append(self.manifest_meta(name, f"{alg}:{hexpart}"))
            except RegistryError:
                continue
        return found

    # -- tags ---------------------------------------------------------------------------

    def set_tag(self, name: str, tag: str, digest: str) -> None:
        """Point ``tag`` at ``digest``."""
        self._publish(self._repo(name) / "_tags" / check_tag(tag), digest.encode())

    def resolve_tag(self, name: str, tag: str) -> str:
        """The digest ``tag`` points at; ``MANIFEST_UNKNOWN`` when absent."""
        try:
            return (self._repo(name) / "_tags" / check_tag(tag)).read_text()
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag}) from None

    def delete_tag(self, name: str, tag: str) -> None:
        """Remove ``tag``; ``MANIFEST_UNKNOWN`` when absent."""
        try:
            (self._repo(name) / "_tags" / check_tag(tag)).unlink()
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag}) from None

    def tags(self, name: str) -> list[str]:
        """Every tag of ``name`` in lexical (byte) order."""
        directory = self._repo(name) / "_tags"
        if not directory.is_dir():
            return []
        return sorted(p.name for p in directory.iterdir())
