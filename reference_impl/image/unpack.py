"""A safe layer unpacker: applies an image's layers, in order, onto a rootfs directory.

Changesets follow the image spec's layer rules (layer.md): whiteouts ``.wh.<name>`` hide a
lower path, an opaque whiteout ``.wh..wh..opq`` hides every lower child of its directory
wherever it sits in the tar, entries of the same layer are never hidden, a directory over a
directory keeps the directory and takes the new attributes, anything else replaces what was
there. Hard links, symlinks, modes, ownership (as root), xattrs and device nodes (as root)
are kept.

Every entry is confined to the rootfs: absolute names, names climbing out with ``..``, writes
whose parent path crosses a symlink, and hard links to outside the rootfs are refused with an
:class:`UnpackError` naming the entry. Blobs are checked against their digest and size, and
each layer's uncompressed digest against the config's ``diff_ids``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from wire import digest as digest_mod
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutError, LayoutReader

log = logging.getLogger(__name__)

MAX_INDEX_DEPTH = 8
"""Nesting limit for indexes pointing at indexes (a cycle or a deep chain is refused)."""

MAX_JSON_BLOB = 4 << 20
"""Largest manifest, index or config read into memory."""

_HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


class UnpackError(Exception):
    """The image cannot be unpacked safely; the message names the entry or blob at fault."""


# -- reading the image ----------------------------------------------------------------------


class _HashingReader:
    """Wraps a stream, hashing and counting everything read through it."""

    def __init__(self, stream: BinaryIO, algorithm: str) -> None:
        self.stream = stream
        self.hash = hashlib.new(algorithm)
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _check_descriptor(desc: Any, where: str) -> tuple[str, int]:
    if not isinstance(desc, dict):
        raise UnpackError(f"{where}: descriptor is not an object")
    digest, size = desc.get("digest"), desc.get("size")
    try:
        digest_mod.parse(str(digest))
    except digest_mod.DigestError as err:
        raise UnpackError(f"{where}: {err}") from err
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UnpackError(f"{where}: size {size!r} is not a non-negative integer")
    return str(digest), size


def read_json_blob(reader: LayoutReader, desc: Any, where: str) -> dict[str, Any]:
    """Read, verify and parse the JSON blob ``desc`` points at."""
    digest, size = _check_descriptor(desc, where)
    if size > MAX_JSON_BLOB:
        raise UnpackError(f"{where}: {digest} declares {size} bytes, over {MAX_JSON_BLOB}")
    data = reader.read(LayoutReader.blob_rel(digest), limit=size + 1)
    if data is None:
        raise UnpackError(f"{where}: blob {digest} is not in the layout")
    if len(data) != size or digest_mod.compute(data, digest.split(":")[0]) != digest:
        raise UnpackError(f"{where}: blob {digest} does not match its digest and size {size}")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnpackError(f"{where}: blob {digest} is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise UnpackError(f"{where}: blob {digest} is not a JSON object")
    return doc


def _platform_matches(desc: dict[str, Any]) -> bool:
    plat = desc.get("platform")
    if not isinstance(plat, dict):
        return True
    return plat.get("os") == "linux" and plat.get("architecture") == _HOST_ARCH


def resolve_manifest(reader: LayoutReader, ref: str) -> dict[str, Any]:
    """The image manifest ``ref`` names, descending indexes to the host's platform."""
    try:
        desc: Any = reader.find_ref(ref)
    except LayoutError as err:
        raise UnpackError(str(err)) from err
    if desc is None:
        raise UnpackError(f"index.json: no manifest named {ref!r}")
    seen: set[str] = set()
    where = f"index.json[{ref}]"
    for _ in range(MAX_INDEX_DEPTH):
        doc = read_json_blob(reader, desc, where)
        if desc.get("digest") in seen:
            raise UnpackError(f"{where}: index cycle through {desc.get('digest')}")
        seen.add(str(desc.get("digest")))
        media_type = doc.get("mediaType", desc.get("mediaType"))
        if media_type != mt.IMAGE_INDEX and "manifests" not in doc:
            return doc
        children = [m for m in doc.get("manifests") or [] if isinstance(m, dict)]
        matching = [m for m in children if _platform_matches(m)]
        if not matching:
            raise UnpackError(f"{where}: no entry for linux/{_HOST_ARCH}")
        desc = matching[0]
        where = f"{where} -> {desc.get('digest')}"
    raise UnpackError(f"{where}: indexes nested deeper than {MAX_INDEX_DEPTH}")


# -- applying layers ------------------------------------------------------------------------


def _clean_parts(name: str, what: str) -> list[str]:
    if name.startswith("/"):
        raise UnpackError(f"{what} {name!r}: absolute name would land outside the rootfs")
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise UnpackError(f"{what} {name!r}: '..' climbs out of the rootfs")
            parts.pop()
        else:
            parts.append(comp)
    return parts


class LayerApplier:
    """Applies one layer's tar stream onto ``root``."""

    def __init__(self, root: Path, layer: str) -> None:
        self.root = root
        self.layer = layer
        self.created: set[str] = set()
        self.dirs: list[tuple[Path, tarfile.TarInfo]] = []
        self.privileged = os.geteuid() == 0

    def _error(self, name: str, problem: str) -> UnpackError:
        return UnpackError(f"layer {self.layer}: entry {name!r}: {problem}")

    def _parent(self, name: str, parts: list[str], create: bool = True) -> Path:
        """The parent directory of ``parts``, refusing to pass through a symlink."""
        current = self.root
        for comp in parts[:-1]:
            current = current / comp
            try:
                st = current.lstat()
            except FileNotFoundError:
                if not create:
                    raise self._error(name, f"parent {current} does not exist") from None
                current.mkdir(mode=0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise self._error(
                    name, f"path crosses the symlink {current.relative_to(self.root)}"
                )
            if not stat.S_ISDIR(st.st_mode):
                raise self._error(name, f"{current.relative_to(self.root)} is not a directory")
        return current

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Apply one entry (``tar`` supplies regular files' content)."""
        parts = _clean_parts(member.name, f"layer {self.layer}: entry")
        if not parts:
            return  # the root itself ("./"): its attributes belong to the runtime
        base = parts[-1]
        if base.startswith(img.WHITEOUT_PREFIX):
            self._whiteout(member.name, parts)
            return
        parent = self._parent(member.name, parts)
        path = parent / base
        rel = "/".join(parts)
        self._clear(path, member)
        self._create(tar, member, path, rel)
        self.created.add(rel)
        if member.isdir():
            self.dirs.append((path, member))
        elif not member.islnk():
            self._attributes(path, member)

    def _existing_parent(self, name: str, parts: list[str]) -> Path | None:
        """The parent directory of ``parts`` if it exists (no symlink crossed), else None."""
        current = self.root
        for comp in parts[:-1]:
            current = current / comp
            if not (current.exists() or current.is_symlink()):
                return None
        return self._parent(name, parts, create=False)

    def _whiteout(self, name: str, parts: list[str]) -> None:
        parent = self._existing_parent(name, parts)
        if parent is None:
            return  # nothing below a missing directory to hide
        prefix = "/".join(parts[:-1])
        if parts[-1] == img.OPAQUE_WHITEOUT:
            self._opaque(parent, prefix)
            return
        hidden = parts[-1][len(img.WHITEOUT_PREFIX) :]
        if hidden in ("", ".", "..") or "/" in hidden:
            raise self._error(name, "whiteout names no file")
        rel = f"{prefix}/{hidden}" if prefix else hidden
        target = parent / hidden
        if rel not in self.created and (target.exists() or target.is_symlink()):
            _remove(target)

    def _opaque(self, directory: Path, prefix: str) -> None:
        if not directory.is_dir():
            return
        for child in list(directory.iterdir()):
            rel = f"{prefix}/{child.name}" if prefix else child.name
            if rel not in self.created:
                _remove(child)
            elif child.is_dir() and not child.is_symlink():
                self._opaque(child, rel)

    def _clear(self, path: Path, member: tarfile.TarInfo) -> None:
        try:
            st = path.lstat()
        except FileNotFoundError:
            return
        if member.isdir() and stat.S_ISDIR(st.st_mode):
            return  # a directory over a directory keeps its content (layer.md)
        _remove(path)

    def _create(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, rel: str) -> None:
        if member.isdir():
            path.mkdir(mode=0o700, exist_ok=True)
        elif member.isreg():
            self._write_file(tar, member, path)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self._hardlink(member, path)
        elif member.ischr() or member.isblk():
            self._device(member, path)
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise self._error(member.name, f"unsupported entry type {member.type!r}")

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
        src = tar.extractfile(member)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                shutil.copyfileobj(src, out, 1 << 20)

    def _hardlink(self, member: tarfile.TarInfo, path: Path) -> None:
        what = f"layer {self.layer}: hard link {member.name!r} to"
        target_parts = _clean_parts(member.linkname, what)
        if not target_parts:
            raise self._error(member.name, "hard link to the rootfs itself")
        target = self._parent(member.name, target_parts, create=False) / target_parts[-1]
        try:
            st = target.lstat()
        except FileNotFoundError:
            raise self._error(
                member.name, f"hard link target {member.linkname!r} is absent"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise self._error(member.name, "hard link to a directory")
        os.link(target, path, follow_symlinks=False)

    def _device(self, member: tarfile.TarInfo, path: Path) -> None:
        if not self.privileged:
            log.warning("skipping device node %s: creating devices needs root", member.name)
            return
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))

    def _attributes(self, path: Path, member: tarfile.TarInfo) -> None:
        if not (path.exists() or path.is_symlink()):
            return  # a device skipped when unprivileged
        if self.privileged:
            os.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                self._xattr(path, key[len("SCHILY.xattr.") :], value)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def _xattr(self, path: Path, name: str, value: str) -> None:
        try:
            os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
                raise
            log.warning("cannot set xattr %s on %s: %s", name, path, err.strerror)

    def finish(self) -> None:
        """Apply directory attributes last, deepest first, so writes into them succeed."""
        for path, member in reversed(self.dirs):
            self._attributes(path, member)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def apply_layer(reader: LayoutReader, desc: Any, diff_id: str, root: Path, index: int) -> None:
    """Verify and apply the layer ``desc`` onto ``root``."""
    where = f"layers[{index}]"
    digest, size = _check_descriptor(desc, where)
    compression = img.compression_of(str(desc.get("mediaType")))
    if compression is None:
        raise UnpackError(f"{where}: {desc.get('mediaType')!r} is not a layer media type")
    rel = LayoutReader.blob_rel(digest)
    actual = reader.size(rel)
    if actual is None:
        raise UnpackError(f"{where}: blob {digest} is not in the layout")
    if actual != size:
        raise UnpackError(f"{where}: blob {digest} has {actual} bytes, descriptor says {size}")
    with reader.open(rel) as raw:  # type: ignore[union-attr]
        if digest_mod.compute_stream(raw, digest.split(":")[0]) != digest:
            raise UnpackError(f"{where}: blob {digest} does not match its digest")
    diff_alg = diff_id.split(":")[0] if ":" in diff_id else "sha256"
    with reader.open(rel) as raw:  # type: ignore[union-attr]
        stream = _HashingReader(img.open_decompressed(raw, compression), diff_alg)
        applier = LayerApplier(root, digest)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    applier.apply(tar, member)
            stream.drain()
        except (tarfile.TarError, EOFError, OSError, ValueError) as err:
            if isinstance(err, UnpackError):
                raise
            raise UnpackError(f"{where}: layer {digest} is not a readable tar: {err}") from err
        applier.finish()
    got = f"{diff_alg}:{stream.hash.hexdigest()}"
    if got != diff_id:
        raise UnpackError(f"{where}: uncompressed digest {got} differs from diff_id {diff_id}")


def unpack(layout: Path, ref: str, dest: Path) -> dict[str, Any]:
    """Unpack the image ``ref`` of ``layout`` (directory or tar) into ``dest``.

    Returns:
        The image config.

    Raises:
        UnpackError: the image is invalid or an entry would escape ``dest``.
    """
    try:
        reader = LayoutReader(layout)
    except LayoutError as err:
        raise UnpackError(str(err)) from err
    with reader:
        manifest = resolve_manifest(reader, ref)
        config = read_json_blob(reader, manifest.get("config"), "config")
        layers = manifest.get("layers")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids")
        if not isinstance(layers, list) or not isinstance(diff_ids, list):
            raise UnpackError("manifest layers or config rootfs.diff_ids is not a list")
        if len(layers) != len(diff_ids):
            raise UnpackError(f"{len(layers)} layers but {len(diff_ids)} diff_ids")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for i, (layer, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            log.debug("applying layer %d (%s)", i, layer.get("digest"))
            apply_layer(reader, layer, str(diff_id), root, i)
    return config
