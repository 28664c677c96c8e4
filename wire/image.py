"""Building blocks for OCI images: layer tars, compression, configs, manifests and indexes.

Everything here produces bytes or JSON-ready dicts and never judges content; validation lives
in the image suite. Builders are deterministic: the same inputs give the same bytes, so the
digests of images built from them are stable across runs and hosts.

Layers are made two ways: :func:`tar_from_tree` packs a directory tree (sorted entries, fixed
mtimes, ownership and modes kept, hard links as links); :class:`LayerBuilder` writes entries in
the exact order given, which is how crafted layers (whiteouts, traversal attempts) are made.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from wire import digest as digest_mod
from wire import mediatypes as mt

FIXED_MTIME = 946684800
"""2000-01-01T00:00:00Z: the mtime every reproducible layer entry carries."""

FIXED_CREATED = "2000-01-01T00:00:00Z"
"""The ``created`` time written into reproducible configs and history."""

COMPRESSIONS = ("none", "gzip", "zstd")

LAYER_MEDIA_TYPES = {
    "none": mt.LAYER_TAR,
    "gzip": mt.LAYER_TAR_GZIP,
    "zstd": mt.LAYER_TAR_ZSTD,
}

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"

_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3


# -- JSON -----------------------------------------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    """Compact JSON with sorted keys: one byte form per document, hence one digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- compression ----------------------------------------------------------------------------


def compress(data: bytes, compression: str) -> bytes:
    """Compress ``data`` with ``none``, ``gzip`` (no name, mtime 0) or ``zstd``."""
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True).compress(data)
    raise ValueError(f"unknown compression {compression!r}; use one of {COMPRESSIONS}")


def compression_of(media_type: str) -> str | None:
    """The compression a layer media type implies; ``None`` for a type that is not a layer."""
    if media_type in (mt.LAYER_TAR, mt.LAYER_NONDIST_TAR):
        return "none"
    if media_type in (mt.LAYER_TAR_GZIP, mt.LAYER_NONDIST_TAR_GZIP, mt.DOCKER_LAYER_GZIP):
        return "gzip"
    if media_type in (mt.LAYER_TAR_ZSTD, mt.LAYER_NONDIST_TAR_ZSTD):
        return "zstd"
    return None


def open_decompressed(stream: BinaryIO, compression: str) -> BinaryIO:
    """A readable stream of ``stream``'s content decompressed (nothing is read up front)."""
    if compression == "none":
        return stream
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return reader  # type: ignore[return-value]
    raise ValueError(f"unknown compression {compression!r}")


def decompress(data: bytes, compression: str) -> bytes:
    """``data`` decompressed in memory (for small, trusted blobs)."""
    with open_decompressed(io.BytesIO(data), compression) as stream:
        return stream.read()


# -- layers ---------------------------------------------------------------------------------


@dataclass
class Entry:
    """One tar entry of a crafted layer.

    Attributes:
        name: the entry name as written (not normalised: crafted names stay as given).
        kind: ``file``, ``dir``, ``symlink``, ``hardlink``, ``char``, ``block`` or ``fifo``.
        data: content of a regular file.
        mode: permission bits (with setuid/setgid/sticky).
        uid: owner; gid: group.
        linkname: target of a symlink or hard link.
        devmajor: device major number; devminor: minor.
        xattrs: extended attributes, written as ``SCHILY.xattr.`` PAX records.
        mtime: modification time.
    """

    name: str
    kind: str = "file"
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: Mapping[str, str] | None = None
    mtime: int = FIXED_MTIME


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def _tarinfo(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = _TAR_TYPES[entry.kind]
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mtime = entry.mtime
    info.linkname = entry.linkname
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    info.size = len(entry.data) if entry.kind == "file" else 0
    if entry.xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in sorted(entry.xattrs.items())}
    return info


def write_tar(entries: Iterable[Entry]) -> bytes:
    """A PAX tar archive of ``entries`` in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            data = io.BytesIO(entry.data) if entry.kind == "file" else None
            tar.addfile(_tarinfo(entry), data)
    return buf.getvalue()


class LayerBuilder:
    """Collects entries for one crafted layer; :meth:`tar` writes them in insertion order."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, entry: Entry) -> LayerBuilder:
        """Append any entry."""
        self.entries.append(entry)
        return self

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, **kw: Any) -> LayerBuilder:
        """Append a regular file."""
        return self.add(Entry(name, "file", data, mode, **kw))

    def dir(self, name: str, mode: int = 0o755, **kw: Any) -> LayerBuilder:
        """Append a directory."""
        return self.add(Entry(name, "dir", mode=mode, **kw))

    def symlink(self, name: str, target: str, **kw: Any) -> LayerBuilder:
        """Append a symbolic link to ``target``."""
        return self.add(Entry(name, "symlink", mode=0o777, linkname=target, **kw))

    def hardlink(self, name: str, target: str, **kw: Any) -> LayerBuilder:
        """Append a hard link to the earlier entry ``target``."""
        return self.add(Entry(name, "hardlink", linkname=target, **kw))

    def whiteout(self, path: str) -> LayerBuilder:
        """Append the whiteout that hides ``path`` of the lower layers."""
        parent, _, base = path.rstrip("/").rpartition("/")
        name = f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
        return self.file(name, b"")

    def opaque(self, directory: str) -> LayerBuilder:
        """Append the opaque whiteout that hides every lower child of ``directory``."""
        return self.file(f"{directory.rstrip('/')}/{OPAQUE_WHITEOUT}", b"")

    def tar(self) -> bytes:
        """The layer as an uncompressed tar."""
        return write_tar(self.entries)


def _tree_entries(root: Path, mtime: int) -> Iterator[tuple[tarfile.TarInfo, Path | None]]:
    seen_inodes: dict[tuple[int, int], str] = {}
    paths = sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())
    for path in paths:
        name = path.relative_to(root).as_posix()
        st = path.lstat()
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = mtime
        key = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and key in seen_inodes:
            info.type, info.linkname = tarfile.LNKTYPE, seen_inodes[key]
        elif stat.S_ISREG(st.st_mode):
            seen_inodes.setdefault(key, name)
            info.size = st.st_size
            yield info, path
            continue
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        else:
            continue  # sockets cannot be stored in a tar
        yield info, None


def tar_from_tree(root: Path, mtime: int = FIXED_MTIME, first: Iterable[Entry] = ()) -> bytes:
    """A reproducible tar of the tree under ``root``.

    Entries are sorted by name, every mtime is ``mtime``, owner names are dropped (ids kept),
    and files sharing an inode become hard links to the first name met. ``first`` entries
    (whiteouts, say, which should precede their siblings) are written before the tree.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in first:
            tar.addfile(_tarinfo(entry), io.BytesIO(entry.data) if entry.kind == "file" else None)
        for info, path in _tree_entries(root, mtime):
            if path is None:
                tar.addfile(info)
            else:
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
    return buf.getvalue()


# -- JSON documents -------------------------------------------------------------------------


def descriptor(
    media_type: str,
    data: bytes,
    *,
    algorithm: str = "sha256",
    annotations: Mapping[str, str] | None = None,
    platform: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
    urls: list[str] | None = None,
    inline: bool = False,
) -> dict[str, Any]:
    """A content descriptor of ``data``; ``inline`` embeds the content in ``data``."""
    desc: dict[str, Any] = {
        "mediaType": media_type,
        "digest": digest_mod.compute(data, algorithm),
        "size": len(data),
    }
    if artifact_type:
        desc["artifactType"] = artifact_type
    if urls:
        desc["urls"] = list(urls)
    if inline:
        desc["data"] = base64.b64encode(data).decode()
    if platform:
        desc["platform"] = dict(platform)
    if annotations:
        desc["annotations"] = dict(annotations)
    return desc


def empty_descriptor() -> dict[str, Any]:
    """The empty descriptor: media type ``application/vnd.oci.empty.v1+json``, content ``{}``."""
    return descriptor(mt.EMPTY_JSON, b"{}")


def history_entry(created_by: str, *, empty_layer: bool = False, comment: str = "") -> dict:
    """One ``history`` record with the fixed creation time."""
    entry: dict[str, Any] = {"created": FIXED_CREATED, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


def image_config(
    diff_ids: list[str],
    *,
    architecture: str = "amd64",
    os_name: str = "linux",
    variant: str | None = None,
    user: str | None = None,
    env: list[str] | None = None,
    entrypoint: list[str] | None = None,
    cmd: list[str] | None = None,
    working_dir: str | None = None,
    labels: Mapping[str, str] | None = None,
    exposed_ports: Iterable[str] = (),
    volumes: Iterable[str] = (),
    stop_signal: str | None = None,
    history: list[dict[str, Any]] | None = None,
    created: str = FIXED_CREATED,
) -> dict[str, Any]:
    """An image config (``application/vnd.oci.image.config.v1+json``) as a dict."""
    execution: dict[str, Any] = {}
    optional = {
        "User": user,
        "Env": env,
        "Entrypoint": entrypoint,
        "Cmd": cmd,
        "WorkingDir": working_dir,
        "Labels": dict(labels) if labels else None,
        "StopSignal": stop_signal,
        "ExposedPorts": {p: {} for p in exposed_ports} or None,
        "Volumes": {v: {} for v in volumes} or None,
    }
    execution.update({k: v for k, v in optional.items() if v is not None})
    config: dict[str, Any] = {
        "created": created,
        "architecture": architecture,
        "os": os_name,
        "config": execution,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
    }
    if variant:
        config["variant"] = variant
    if history is None:
        history = [history_entry(f"layer {i}") for i in range(len(diff_ids))]
    config["history"] = history
    return config


def image_manifest(
    config: Mapping[str, Any],
    layers: list[Mapping[str, Any]],
    *,
    annotations: Mapping[str, str] | None = None,
    subject: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
) -> dict[str, Any]:
    """An image manifest dict from the config and layer descriptors."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.IMAGE_MANIFEST,
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest["config"] = dict(config)
    manifest["layers"] = [dict(layer) for layer in layers]
    if subject:
        manifest["subject"] = dict(subject)
    if annotations:
        manifest["annotations"] = dict(annotations)
    return manifest


def image_index(
    manifests: list[Mapping[str, Any]],
    *,
    annotations: Mapping[str, str] | None = None,
    subject: Mapping[str, Any] | None = None,
    artifact_type: str | None = None,
) -> dict[str, Any]:
    """An image index dict from the child descriptors."""
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": mt.IMAGE_INDEX}
    if artifact_type:
        index["artifactType"] = artifact_type
    index["manifests"] = [dict(m) for m in manifests]
    if subject:
        index["subject"] = dict(subject)
    if annotations:
        index["annotations"] = dict(annotations)
    return index


def diff_id(layer_tar: bytes, algorithm: str = "sha256") -> str:
    """The DiffID of an uncompressed layer: the digest of its tar bytes."""
    return digest_mod.compute(layer_tar, algorithm)


def chain_id(diff_ids: list[str]) -> str:
    """The ChainID of a layer stack: each step digests ``parent + " " + diff_id``."""
    if not diff_ids:
        raise ValueError("a ChainID needs at least one DiffID")
    chain = diff_ids[0]
    for did in diff_ids[1:]:
        chain = digest_mod.compute(f"{chain} {did}".encode())
    return chain
