"""Read and write OCI image layouts: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>``.

:class:`LayoutWriter` builds a layout directory (sha256 or sha512, any mix per blob) and can
pack it into a reproducible tar. :class:`LayoutReader` gives raw access to a layout directory
or tar: it returns bytes and parsed JSON as found and never judges them, so the image suite
can use it to read what a producer wrote and decide itself what is valid.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from wire import digest as digest_mod
from wire import image as img
from wire import mediatypes as mt

REF_NAME = "org.opencontainers.image.ref.name"
"""The annotation on ``index.json`` descriptors that names a reference (a tag)."""


class LayoutError(Exception):
    """A layout could not be read or written (missing file, bad tar, bad JSON)."""


class LayoutWriter:
    """Writes blobs and the two layout files into a directory.

    Args:
        root: the layout directory; created when missing, existing blobs kept.
        algorithm: default digest algorithm for blobs written through this writer.
    """

    def __init__(self, root: Path, *, algorithm: str = "sha256") -> None:
        self.root = Path(root)
        self.algorithm = algorithm
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.manifests: list[dict[str, Any]] = []
        index_path = self.root / "index.json"
        if index_path.exists():
            self.manifests = list(json.loads(index_path.read_bytes()).get("manifests", []))

    # -- blobs ----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives in this layout."""
        algorithm, encoded = digest.split(":", 1)
        return self.root / "blobs" / algorithm / encoded

    def write_blob(self, data: bytes, algorithm: str | None = None) -> str:
        """Store ``data`` (atomically, once) and return its digest."""
        digest = digest_mod.compute(data, algorithm or self.algorithm)
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        return digest

    def put_blob(
        self, data: bytes, media_type: str, *, algorithm: str | None = None, **desc: Any
    ) -> dict[str, Any]:
        """Store ``data`` and return its descriptor (extra keyword args as for descriptors)."""
        alg = algorithm or self.algorithm
        self.write_blob(data, alg)
        return img.descriptor(media_type, data, algorithm=alg, **desc)

    def put_json(
        self, obj: Any, media_type: str, *, algorithm: str | None = None, **desc: Any
    ) -> dict[str, Any]:
        """Store ``obj`` as canonical JSON and return its descriptor."""
        return self.put_blob(img.canonical_json(obj), media_type, algorithm=algorithm, **desc)

    # -- images ---------------------------------------------------------------------------

    def put_image(
        self,
        layer_tars: list[bytes],
        *,
        compression: str = "gzip",
        algorithm: str | None = None,
        config: Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
        platform: Mapping[str, Any] | None = None,
        inline_config: bool = False,
        **config_fields: Any,
    ) -> dict[str, Any]:
        """Store an image made of ``layer_tars`` and return its manifest descriptor.

        ``config`` replaces the generated config (its ``rootfs`` is filled in); otherwise
        ``config_fields`` go to :func:`wire.image.image_config`. ``inline_config`` embeds the
        config in its descriptor's ``data`` field too.
        """
        alg = algorithm or self.algorithm
        layers = [
            self.put_blob(
                img.compress(tar, compression), img.LAYER_MEDIA_TYPES[compression], algorithm=alg
            )
            for tar in layer_tars
        ]
        diff_ids = [img.diff_id(tar, alg) for tar in layer_tars]
        if config is None:
            cfg = img.image_config(diff_ids, **config_fields)
        else:
            cfg = dict(config)
            cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        config_desc = self.put_json(cfg, mt.IMAGE_CONFIG, algorithm=alg, inline=inline_config)
        manifest = img.image_manifest(config_desc, layers, annotations=annotations)
        if platform is None:
            platform = {"architecture": cfg["architecture"], "os": cfg["os"]}
        return self.put_json(manifest, mt.IMAGE_MANIFEST, algorithm=alg, platform=platform)

    # -- index.json -----------------------------------------------------------------------

    def tag(self, desc: Mapping[str, Any], ref: str | None = None) -> dict[str, Any]:
        """Add ``desc`` to ``index.json``, named ``ref`` (replacing an entry of that name)."""
        entry = dict(desc)
        if ref is not None:
            entry["annotations"] = {**entry.get("annotations", {}), REF_NAME: ref}
            self.manifests = [
                m for m in self.manifests if m.get("annotations", {}).get(REF_NAME) != ref
            ]
        self.manifests.append(entry)
        return entry

    def save(self, annotations: Mapping[str, str] | None = None) -> Path:
        """Write ``oci-layout`` and ``index.json``; returns the layout directory."""
        layout = {"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}
        (self.root / "oci-layout").write_bytes(img.canonical_json(layout))
        index = img.image_index(self.manifests, annotations=annotations)
        (self.root / "index.json").write_bytes(img.canonical_json(index))
        return self.root


def pack_tar(layout_dir: Path, tar_path: Path) -> Path:
    """Pack a layout directory into a reproducible tar (sorted, fixed mtimes, root owned)."""
    members = sorted(p for p in Path(layout_dir).rglob("*"))
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in members:
            info = tar.gettarinfo(str(path), path.relative_to(layout_dir).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = img.FIXED_MTIME
            if info.isfile():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return tar_path


class LayoutReader:
    """Raw read access to a layout directory or a layout tar.

    Paths are layout-relative POSIX paths (``index.json``, ``blobs/sha256/ab…``). Nothing is
    validated: missing files read as ``None``; JSON errors raise :class:`LayoutError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if self.path.is_file():
            try:
                self._tar = tarfile.open(self.path, "r:*")  # noqa: SIM115 - kept open; close() ends it
                for member in self._tar.getmembers():
                    self._members.setdefault(_tar_name(member.name), member)
            except (tarfile.TarError, OSError, EOFError) as err:
                raise LayoutError(f"{self.path}: not a readable tar: {err}") from err
        elif not self.path.is_dir():
            raise LayoutError(f"{self.path}: no such layout directory or tar")

    @property
    def is_tar(self) -> bool:
        """True when the layout is a tar archive."""
        return self._tar is not None

    def close(self) -> None:
        """Close the underlying tar, if any."""
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> LayoutReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files ----------------------------------------------------------------------------

    def _dir_path(self, rel: str) -> Path | None:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            return None
        return self.path / pure

    def kind(self, rel: str) -> str | None:
        """``file``, ``dir``, ``other`` or ``None`` (absent) for the layout path ``rel``."""
        if self._tar is not None:
            member = self._members.get(rel.rstrip("/"))
            if member is None:
                prefix = rel.rstrip("/") + "/"
                return "dir" if any(n.startswith(prefix) for n in self._members) else None
            return "file" if member.isfile() else "dir" if member.isdir() else "other"
        path = self._dir_path(rel)
        if path is None or not (path.exists() or path.is_symlink()):
            return None
        return "file" if path.is_file() else "dir" if path.is_dir() else "other"

    def size(self, rel: str) -> int | None:
        """Size in bytes of the regular file ``rel``; ``None`` when absent."""
        if self.kind(rel) != "file":
            return None
        if self._tar is not None:
            return self._members[rel].size
        path = self._dir_path(rel)
        return path.stat().st_size if path is not None else None

    def open(self, rel: str) -> BinaryIO | None:
        """A binary stream of the regular file ``rel``; ``None`` when absent."""
        if self.kind(rel) != "file":
            return None
        if self._tar is not None:
            return self._tar.extractfile(self._members[rel])
        path = self._dir_path(rel)
        return path.open("rb") if path is not None else None

    def read(self, rel: str, limit: int | None = None) -> bytes | None:
        """The bytes of ``rel`` (at most ``limit``); ``None`` when absent."""
        stream = self.open(rel)
        if stream is None:
            return None
        with stream:
            return stream.read() if limit is None else stream.read(limit)

    def listdir(self, rel: str) -> list[str]:
        """Names directly below the layout directory ``rel``."""
        if self._tar is not None:
            prefix = rel.rstrip("/") + "/"
            names = {
                n[len(prefix) :].split("/", 1)[0] for n in self._members if n.startswith(prefix)
            }
            return sorted(n for n in names if n)
        path = self._dir_path(rel)
        return sorted(os.listdir(path)) if path is not None and path.is_dir() else []

    def walk_files(self, rel: str) -> Iterator[str]:
        """Every regular file below ``rel`` (layout-relative paths)."""
        for name in self.listdir(rel):
            child = f"{rel.rstrip('/')}/{name}"
            kind = self.kind(child)
            if kind == "file":
                yield child
            elif kind == "dir":
                yield from self.walk_files(child)

    # -- convenience ----------------------------------------------------------------------

    @staticmethod
    def blob_rel(digest: str) -> str:
        """The layout path of the blob ``digest`` (``blobs/<alg>/<encoded>``)."""
        algorithm, _, encoded = digest.partition(":")
        return f"blobs/{algorithm}/{encoded}"

    def read_json(self, rel: str) -> Any:
        """Parse the JSON file ``rel``; :class:`LayoutError` when absent or not JSON."""
        data = self.read(rel)
        if data is None:
            raise LayoutError(f"{rel}: missing")
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise LayoutError(f"{rel}: not JSON: {err}") from err

    def index(self) -> dict[str, Any]:
        """The parsed ``index.json``."""
        return self.read_json("index.json")

    def blob(self, digest: str) -> bytes | None:
        """The bytes of blob ``digest``; ``None`` when absent."""
        return self.read(self.blob_rel(digest))

    def find_ref(self, ref: str) -> dict[str, Any] | None:
        """The first ``index.json`` descriptor named ``ref``, or whose digest is ``ref``."""
        for desc in self.index().get("manifests") or []:
            if not isinstance(desc, dict):
                continue
            names = desc.get("annotations") or {}
            if names.get(REF_NAME) == ref or desc.get("digest") == ref:
                return desc
        return None


def _tar_name(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def extract_layout_tar(tar_path: Path, dest: Path) -> Path:
    """Unpack a layout tar (regular files and directories only) into ``dest``."""
    with tarfile.open(tar_path, "r:*") as tar:
        for member in tar.getmembers():
            name = _tar_name(member.name)
            pure = PurePosixPath(name)
            if not name or pure.is_absolute() or ".." in pure.parts:
                raise LayoutError(f"{tar_path}: refusing member {member.name!r}")
            target = dest / pure
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    return dest
