"""The offline test-image kit: small OCI images every suite can use without a registry.

Built from the host's static busybox (Debian ``busybox-static``) into one OCI layout, once per
content: the cache directory is keyed by the busybox binary and the kit's own source, and a
file lock makes parallel pytest-xdist workers wait for a single build. The build is
reproducible, so the digests are the same on every build from the same busybox.

Images (reference names in the layout):

========== ==================================================================================
base       busybox with hard-linked applets, ``/etc/passwd`` and ``/etc/group`` (root, ``kit``
           uid/gid 1000 with supplementary groups 1001 and 1002, nobody), ``Cmd ["sh"]``
nonroot    the base layer with ``User "kit"`` and ``WorkingDir /home/kit``
pause      base + ``/pause``: sleeps forever, exits 0 on SIGTERM/SIGINT
httpd      base + ``/www/index.html``; busybox httpd in the foreground on port 8080
multiarch  an image index: the host platform and a second (not runnable) architecture
artifact   an artifact manifest (empty config, ``artifactType``) whose subject is ``base``
========== ==================================================================================

Typical use::

    from conformance import kit
    layout = kit.layout()                  # OCI layout dir holding every image above
    archive = kit.layout_tar()             # the same layout as one tar
    kit.rootfs("pause", bundle / "rootfs") # unpacked rootfs for a runtime bundle
    image = kit.image("httpd")             # descriptor, manifest, config and blobs
    for digest, data in image.blobs.items(): ...
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from conformance.kit import build as _build
from conformance.kit.build import (
    ARTIFACT_BODY,
    ARTIFACT_TYPE,
    HTTPD_BODY,
    HTTPD_PATH,
    HTTPD_PORT,
    KIT_GID,
    KIT_SUPPLEMENTARY_GIDS,
    KIT_UID,
    KitBuildError,
)
from wire import image as img
from wire import mediatypes as mt
from wire.layout import REF_NAME, pack_tar

log = logging.getLogger(__name__)

NAMES = ("base", "nonroot", "pause", "httpd", "multiarch", "artifact")
"""Reference names of the kit's images inside :func:`layout`."""

CACHE_ENV = "CONFORMANCE_KIT_CACHE"
KIT_FORMAT = "1"
"""Bumped when the kit's images change in a way its source hash would not show."""

__all__ = [
    "ARTIFACT_BODY",
    "ARTIFACT_TYPE",
    "HTTPD_BODY",
    "HTTPD_PATH",
    "HTTPD_PORT",
    "KIT_GID",
    "KIT_SUPPLEMENTARY_GIDS",
    "KIT_UID",
    "NAMES",
    "KitBuildError",
    "KitImage",
    "cache_key",
    "image",
    "layout",
    "layout_tar",
    "rootfs",
]


@dataclass(frozen=True)
class KitImage:
    """One kit image with everything needed to push it to a registry.

    Attributes:
        name: the reference name (``base``).
        descriptor: the manifest or index descriptor as listed in ``index.json`` (without
            the ref-name annotation).
        manifest_bytes: the exact manifest (or index) bytes; their digest is the descriptor's.
        manifest: ``manifest_bytes`` parsed.
        config: the parsed image config (``None`` for an index; ``{}`` for the artifact).
        blobs: every blob the image needs, by digest: config, layers and, for an index, the
            child manifests with their blobs; the top manifest itself is not included.
        children: for an index, the child images by digest (push them before the index).
    """

    name: str
    descriptor: dict[str, Any]
    manifest_bytes: bytes
    manifest: dict[str, Any]
    config: dict[str, Any] | None
    blobs: dict[str, bytes] = field(default_factory=dict)
    children: dict[str, KitImage] = field(default_factory=dict)

    @property
    def media_type(self) -> str:
        """The manifest's media type (image manifest or image index)."""
        return str(self.descriptor["mediaType"])

    @property
    def digest(self) -> str:
        """The manifest's digest."""
        return str(self.descriptor["digest"])

    def layers(self) -> list[dict[str, Any]]:
        """The layer descriptors of an image manifest (empty for an index)."""
        return list(self.manifest.get("layers", []))


def _cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "container-conformance" / "kit"


@cache
def cache_key() -> str:
    """The cache key: the busybox binary, the kit's source and its format version."""
    h = hashlib.sha256(KIT_FORMAT.encode())
    h.update(_build.read_busybox(_build.busybox_path()))
    for module in (_build, img, mt):
        h.update(Path(module.__file__ or "").read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:24]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def layout() -> Path:
    """The OCI layout directory holding every kit image; built on first use, then cached.

    Raises:
        KitBuildError: busybox is missing or not statically linked.
    """
    root = _cache_root()
    final = root / cache_key()
    if (final / "index.json").is_file():
        return final
    with _locked(root / f"{cache_key()}.lock"):
        if (final / "index.json").is_file():
            return final
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
        try:
            _build.build_layout(staging)
            os.chmod(staging, 0o755)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def layout_tar() -> Path:
    """The kit layout packed into a reproducible tar (for ``ctr image import`` and the like);
    built once per cache key beside the layout."""
    root = layout()
    final = root.parent / f"{root.name}.tar"
    if final.is_file():
        return final
    with _locked(root.parent / f"{root.name}.lock"):
        if not final.is_file():
            fd, tmp = tempfile.mkstemp(dir=root.parent, prefix=".tar-")
            os.close(fd)
            try:
                pack_tar(root, Path(tmp))
                os.chmod(tmp, 0o644)
                os.replace(tmp, final)
            finally:
                Path(tmp).unlink(missing_ok=True)
    return final


def _read_blob(root: Path, digest: str) -> bytes:
    algorithm, encoded = digest.split(":", 1)
    return (root / "blobs" / algorithm / encoded).read_bytes()


def _load(root: Path, name: str, desc: dict[str, Any]) -> KitImage:
    raw = _read_blob(root, desc["digest"])
    manifest = json.loads(raw)
    blobs: dict[str, bytes] = {}
    children: dict[str, KitImage] = {}
    config: dict[str, Any] | None = None
    if desc["mediaType"] == mt.IMAGE_INDEX:
        for child_desc in manifest["manifests"]:
            child = _load(root, name, child_desc)
            children[child.digest] = child
            blobs[child.digest] = child.manifest_bytes
            blobs.update(child.blobs)
    else:
        config_raw = _read_blob(root, manifest["config"]["digest"])
        config = json.loads(config_raw)
        blobs[manifest["config"]["digest"]] = config_raw
        for layer in manifest["layers"]:
            blobs[layer["digest"]] = _read_blob(root, layer["digest"])
    return KitImage(name, desc, raw, manifest, config, blobs, children)


def image(name: str) -> KitImage:
    """The kit image ``name`` (one of :data:`NAMES`) with its manifest, config and blobs."""
    root = layout()
    index = json.loads((root / "index.json").read_bytes())
    for desc in index["manifests"]:
        annotations = dict(desc.get("annotations", {}))
        if annotations.pop(REF_NAME, None) == name:
            clean = {k: v for k, v in desc.items() if k != "annotations"}
            if annotations:
                clean["annotations"] = annotations
            return _load(root, name, clean)
    raise KeyError(f"no kit image named {name!r}; the kit has {', '.join(NAMES)}")


def _runnable(kit_image: KitImage) -> KitImage:
    if kit_image.media_type != mt.IMAGE_INDEX:
        return kit_image
    arch = _build.host_arch()
    for child in kit_image.children.values():
        if child.descriptor.get("platform", {}).get("architecture") == arch:
            return child
    raise KitBuildError(f"kit image {kit_image.name!r} has no {arch} entry")


def rootfs(name: str, dest: Path) -> Path:
    """Unpack the kit image ``name`` into ``dest`` (created; must be empty if it exists).

    Ownership is kept when running as root. For ``multiarch`` the host's platform is used.

    Raises:
        ValueError: the image is the artifact (it has no rootfs) or ``dest`` is not empty.
    """
    target = _runnable(image(name))
    if target.config is None or target.manifest.get("artifactType"):
        raise ValueError(f"kit image {name!r} is an artifact and has no rootfs")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    for layer in target.layers():
        compression = img.compression_of(layer["mediaType"]) or "none"
        data = img.decompress(target.blobs[layer["digest"]], compression)
        _extract_trusted(data, dest)
    return dest


def _extract_trusted(layer_tar: bytes, dest: Path) -> None:
    # The kit's own layers have no whiteouts, devices or escaping names (it wrote them), so
    # tarfile's extraction is enough; crafted, untrusted layers go through an unpacker.
    with tarfile.open(fileobj=io.BytesIO(layer_tar), mode="r:") as tar:
        tar.extractall(dest, numeric_owner=True, filter="fully_trusted")
