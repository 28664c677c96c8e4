"""The image suite's validator: walks a layout and records findings per requirement.

Everything reachable from ``index.json`` is checked once (a layer shared by five images is
read once): descriptors, manifests, indexes, configs and layers, plus the layout files and
every blob file. Each rule records that it was evaluated (so a test can say "not applicable"
when nothing in the layout falls under it) and, when broken, a :class:`Finding` with the JSON
path, what the spec expects, what was found, and the requirement id whose catalogue entry names
the spec section.

Bad input never crashes or hangs the walk: JSON is read only up to a bound, declared sizes are
compared with file sizes before reading, visited digests are not walked again (so a cycle
ends), and layer streams are read once with bounded memory.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import tarfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import jsonschema
import zstandard

from conformance.image import schemas
from wire.layout import LayoutError, LayoutReader

log = logging.getLogger(__name__)

# -- the rules' vocabulary (our own statement of the spec's grammars) -----------------------

MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
REGISTERED = {"sha256": 64, "sha512": 128}
HEX = re.compile(r"^[a-f0-9]+$")
REF_NAME = re.compile(
    r"^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
    r"(?:/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
ENV = re.compile(r"^[^=]+=", re.DOTALL)
PORT = re.compile(r"^\d{1,5}(?:/(?:tcp|udp))?$")
REVERSE_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9_-]+)+")

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_SHA256 = "sha256:" + hashlib.sha256(b"{}").hexdigest()
LAYER_COMPRESSION = {
    "application/vnd.oci.image.layer.v1.tar": "none",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
}
NONDISTRIBUTABLE = {t for t in LAYER_COMPRESSION if ".nondistributable." in t}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
}

GO_OS = {
    "aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
    "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows",
}  # fmt: skip
GO_ARCH = {
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle",
    "ppc64", "ppc64le", "riscv64", "s390x", "wasm",
}  # fmt: skip
PREDEFINED_KEYS = {
    "created", "authors", "url", "documentation", "source", "version", "revision", "vendor",
    "licenses", "ref.name", "title", "description", "base.digest", "base.name",
    # defined by conversion.md for runtime bundles, seen on images that carry them along
    "os", "architecture", "variant", "os.version", "os.features", "author", "exposedPorts",
    "stopSignal",
}  # fmt: skip
REF_NAME_KEY = "org.opencontainers.image.ref.name"
OCI_PREFIX = "org.opencontainers."
IMAGE_PREFIX = "org.opencontainers.image."

MAX_JSON = 4 << 20
"""Manifests, indexes and configs larger than this are not read (registries cap at 4 MiB)."""

MAX_LAYER_BYTES = 8 << 30
"""Uncompressed bytes read from one layer before giving up (decompression bombs)."""


# -- findings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One broken rule: where (a JSON path or file), what was expected, what was found."""

    requirement: str
    where: str
    expected: str
    got: str


@dataclass
class Report:
    """Findings and evaluation counts per requirement id for one layout."""

    findings: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    checked: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def check(self, req: str, ok: bool, where: str, expected: str, got: Any) -> bool:
        """Count one evaluation of ``req``; record a finding unless ``ok``."""
        self.checked[req] += 1
        if not ok:
            self.fail(req, where, expected, got)
        return ok

    def fail(self, req: str, where: str, expected: str, got: Any) -> None:
        """Record a finding of ``req``."""
        self.checked[req] += 1
        text = got if isinstance(got, str) else json.dumps(got, default=str)[:300]
        self.findings[req].append(Finding(req, where, expected, text))

    def of(self, req: str) -> list[Finding]:
        """The findings of ``req``."""
        return list(self.findings.get(req, []))


class _DuplicateKeyError(ValueError):
    pass


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise _DuplicateKeyError(", ".join(dupes))
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _path(base: str, *parts: Any) -> str:
    out = base
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _valid_datetime(text: Any) -> bool:
    if not isinstance(text, str) or not RFC3339.match(text):
        return False
    try:
        dt.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


class _CountingReader:
    """Hashes and counts what is read through it; stops past a byte budget."""

    def __init__(self, stream: BinaryIO, algorithms: tuple[str, ...], budget: int) -> None:
        self.stream = stream
        self.hashes = {a: hashlib.new(a) for a in algorithms}
        self.count = 0
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        if self.count > self.budget:
            raise ValueError(f"more than {self.budget} uncompressed bytes")
        for h in self.hashes.values():
            h.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


# -- the walk -------------------------------------------------------------------------------


@dataclass
class LayerFacts:
    """What reading a layer found out: its uncompressed digests, or why it is unreadable."""

    digests: dict[str, str] = field(default_factory=dict)
    error: str = ""


class Validator:
    """Validates one image layout; :meth:`run` returns the :class:`Report`.

    Args:
        reader: raw access to the layout directory or tar.
        docker_compat: accept Docker media types where the OCI types are expected.
        check_layers: read and check layer content (off for a quick structural pass).
    """

    def __init__(
        self, reader: LayoutReader, *, docker_compat: bool = False, check_layers: bool = True
    ) -> None:
        self.reader = reader
        self.docker_compat = docker_compat
        self.check_layers = check_layers
        self.report = Report()
        self.visited: set[str] = set()
        self.layers: dict[str, LayerFacts] = {}
        self.blob_ok: dict[str, bool] = {}
        self._configs: dict[str, Any] = {}

    # -- entry point ----------------------------------------------------------------------

    def run(self) -> Report:
        """Check the layout files, everything reachable from index.json, and every blob file."""
        self._layout_file()
        self.report.check(
            "layout-blobs-dir",
            self.reader.kind("blobs") == "dir",
            "blobs",
            "a blobs directory",
            str(self.reader.kind("blobs")),
        )
        index = self._json_file("index.json", "index.json", "layout-index-json")
        if isinstance(index, dict):
            self._index(index, "index.json", top=True)
        self._all_blob_files()
        return self.report

    # -- layout files ---------------------------------------------------------------------

    def _layout_file(self) -> None:
        doc = self._json_file("oci-layout", "oci-layout", "layout-oci-layout")
        if doc is None:
            return
        ok = self._schema(doc, schemas.OCI_LAYOUT, "oci-layout", "layout-oci-layout")
        if ok:
            version = doc["imageLayoutVersion"]
            self.report.check(
                "layout-oci-layout",
                version == "1.0.0",
                "oci-layout.imageLayoutVersion",
                '"1.0.0"',
                version,
            )

    def _json_file(self, rel: str, where: str, req: str) -> Any:
        size = self.reader.size(rel)
        if size is None:
            self.report.fail(req, where, "a regular file", "missing")
            return None
        if size > MAX_JSON:
            self.report.fail(req, where, f"a JSON document of at most {MAX_JSON} bytes", size)
            return None
        data = self.reader.read(rel) or b""
        doc = self._parse(data, where)
        self.report.check(req, doc is not None, where, "a JSON document", "unparseable")
        return doc

    def _parse(self, data: bytes, where: str) -> Any:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            self.report.fail("json-i-json", where, "UTF-8 text", str(err))
            return None
        try:
            doc = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
        except _DuplicateKeyError as err:
            self.report.fail("json-i-json", where, "unique member names", f"duplicated: {err}")
            return None
        except (json.JSONDecodeError, ValueError, RecursionError) as err:
            self.report.fail("json-i-json", where, "valid JSON", str(err)[:200])
            return None
        self.report.check("json-i-json", True, where, "I-JSON", "")
        return doc

    def _schema(self, doc: Any, schema: dict[str, Any], where: str, req: str) -> bool:
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        for err in errors[:20]:
            path = _path(where, *err.absolute_path)
            self.report.fail(
                req, path, f"JSON matching {err.validator}={err.validator_value}", err.instance
            )
        if not errors:
            self.report.check(req, True, where, "", "")
        return not errors

    def _all_blob_files(self) -> None:
        for rel in self.reader.walk_files("blobs"):
            parts = rel.split("/")
            where = rel
            if len(parts) != 3:
                self.report.fail("layout-blob-content", where, "blobs/<alg>/<encoded>", rel)
                continue
            digest = f"{parts[1]}:{parts[2]}"
            if not DIGEST.match(digest):
                self.report.fail("layout-blob-content", where, "path from the digest grammar", rel)
                continue
            if digest not in self.blob_ok and parts[1] in REGISTERED:
                self._verify_blob(digest, where)

    def _verify_blob(self, digest: str, where: str) -> bool:
        if digest in self.blob_ok:
            return self.blob_ok[digest]
        algorithm, encoded = digest.split(":", 1)
        stream = self.reader.open(LayoutReader.blob_rel(digest))
        if stream is None:
            return False
        h = hashlib.new(algorithm)
        with stream:
            while block := stream.read(1 << 20):
                h.update(block)
        ok = h.hexdigest() == encoded
        self.report.check(
            "layout-blob-content",
            ok,
            where,
            f"content hashing to {digest}",
            f"{algorithm}:{h.hexdigest()}",
        )
        self.blob_ok[digest] = ok
        return ok

    # -- descriptors ----------------------------------------------------------------------

    def _descriptor(self, desc: Any, where: str, *, stored: bool = True) -> bool:
        """Check one descriptor; True when its content can be read and trusted.

        With ``stored`` the content is expected in the layout: its presence and its length
        are checked here, for every descriptor (two descriptors may share a digest and
        still declare different sizes).
        """
        r = self.report
        if not r.check("descriptor-fields", isinstance(desc, dict), where, "an object", desc):
            return False
        media_type = desc.get("mediaType")
        r.check(
            "descriptor-mediatype",
            isinstance(media_type, str) and bool(MEDIA_TYPE.match(media_type)),
            _path(where, "mediaType"),
            "an RFC 6838 type/subtype",
            media_type,
        )
        usable = self._digest(desc.get("digest"), _path(where, "digest"))
        size = desc.get("size")
        size_ok = isinstance(size, int) and not isinstance(size, bool) and size >= 0
        size_ok = size_ok and size < 2**63
        r.check("descriptor-size", size_ok, _path(where, "size"), "a non-negative int64", size)
        if "urls" in desc:
            self._urls(desc["urls"], _path(where, "urls"))
        if "artifactType" in desc:
            at = desc["artifactType"]
            r.check(
                "descriptor-artifacttype",
                isinstance(at, str) and bool(MEDIA_TYPE.match(at)),
                _path(where, "artifactType"),
                "an RFC 6838 type/subtype",
                at,
            )
        if "annotations" in desc:
            self._annotations(desc["annotations"], _path(where, "annotations"))
        if "platform" in desc:
            self._platform(desc["platform"], _path(where, "platform"))
        if usable and size_ok and "data" in desc:
            self._data(desc, _path(where, "data"))
        if media_type == EMPTY_TYPE and usable and size_ok:
            self._empty(desc, where)
        if isinstance(media_type, str) and media_type in NONDISTRIBUTABLE:
            r.fail(
                "layer-nondistributable",
                _path(where, "mediaType"),
                "a distributable layer type",
                media_type,
            )
        if not (usable and size_ok and stored):
            return usable and size_ok and not stored
        return self._stored_length(desc, where)

    def _stored_length(self, desc: dict[str, Any], where: str) -> bool:
        rel = LayoutReader.blob_rel(desc["digest"])
        actual = self.reader.size(rel)
        if not self.report.check(
            "layout-blob-present", actual is not None, where, f"blob {rel} in the layout", "absent"
        ):
            return False
        return self.report.check(
            "descriptor-size",
            actual == desc["size"],
            _path(where, "size"),
            f"the blob's length {actual}",
            desc["size"],
        )

    def _digest(self, digest: Any, where: str) -> bool:
        r = self.report
        if not r.check(
            "descriptor-digest",
            isinstance(digest, str) and bool(DIGEST.match(digest)),
            where,
            "algorithm:encoded per the digest grammar",
            digest,
        ):
            return False
        algorithm, encoded = digest.split(":", 1)
        width = REGISTERED.get(algorithm)
        if width is None:
            r.fail(
                "descriptor-registered-algorithm",
                where,
                "a registered algorithm (sha256, sha512); content stays unverifiable",
                algorithm,
            )
            return False
        r.check("descriptor-registered-algorithm", True, where, "", "")
        return r.check(
            "descriptor-digest",
            len(encoded) == width and bool(HEX.match(encoded)),
            where,
            f"{width} lowercase hex characters for {algorithm}",
            encoded,
        )

    def _urls(self, urls: Any, where: str) -> None:
        ok = isinstance(urls, list) and all(
            isinstance(u, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", u) for u in urls
        )
        self.report.check("descriptor-urls", ok, where, "a list of RFC 3986 URIs", urls)

    def _data(self, desc: dict[str, Any], where: str) -> None:
        raw = desc["data"]
        try:
            content = base64.b64decode(raw, validate=True) if isinstance(raw, str) else None
        except (binascii.Error, ValueError):
            content = None
        if not self.report.check("descriptor-data", content is not None, where, "base64", raw):
            return
        assert content is not None
        algorithm, encoded = desc["digest"].split(":", 1)
        self.report.check(
            "descriptor-data",
            len(content) == desc["size"] and hashlib.new(algorithm, content).hexdigest() == encoded,
            where,
            f"content of {desc['size']} bytes hashing to {desc['digest']}",
            f"{len(content)} bytes, {algorithm}:{hashlib.new(algorithm, content).hexdigest()}",
        )

    def _empty(self, desc: dict[str, Any], where: str) -> None:
        data = self.reader.read(LayoutReader.blob_rel(desc["digest"]), limit=64)
        if data is not None:
            self.report.check(
                "empty-descriptor",
                data == b"{}",
                where,
                "content '{}'",
                data[:64].decode(errors="replace"),
            )
        elif desc["digest"].startswith("sha256:"):
            self.report.check(
                "empty-descriptor",
                desc["digest"] == EMPTY_SHA256 and desc["size"] == 2,
                where,
                f"digest {EMPTY_SHA256} and size 2",
                f"{desc['digest']} size {desc['size']}",
            )

    def _annotations(self, value: Any, where: str) -> None:
        r = self.report
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        if not r.check("annotations-rules", ok, where, "a map of string to string", value):
            return
        for key, text in value.items():
            kwhere = f"{where}[{key!r}]"
            r.check(
                "annotations-reverse-domain",
                bool(REVERSE_DOMAIN.match(key)),
                kwhere,
                "a reverse-domain key",
                key,
            )
            if key.startswith(OCI_PREFIX):
                name = key[len(IMAGE_PREFIX) :] if key.startswith(IMAGE_PREFIX) else None
                r.check(
                    "annotations-reserved",
                    name in PREDEFINED_KEYS,
                    kwhere,
                    "org.opencontainers keys only as the OCI specs define them",
                    key,
                )
                self._predefined(name, text, kwhere)

    def _predefined(self, name: str | None, text: str, where: str) -> None:
        r = self.report
        if name == "created":
            r.check(
                "annotations-predefined",
                _valid_datetime(text),
                where,
                "an RFC 3339 date-time",
                text,
            )
        elif name == "base.digest":
            r.check("annotations-predefined", bool(DIGEST.match(text)), where, "a digest", text)
        elif name == "ref.name":
            r.check(
                "layout-ref-name",
                bool(REF_NAME.match(text)),
                where,
                "a ref name per the layout grammar",
                text,
            )

    def _platform(self, value: Any, where: str) -> None:
        if not self._schema(value, schemas.PLATFORM, where, "index-platform"):
            return
        r = self.report
        r.check(
            "platform-values", value["os"] in GO_OS, _path(where, "os"), "a GOOS value", value["os"]
        )
        r.check(
            "platform-values",
            value["architecture"] in GO_ARCH,
            _path(where, "architecture"),
            "a GOARCH value",
            value["architecture"],
        )

    # -- blobs as documents ---------------------------------------------------------------

    def _blob_json(self, desc: dict[str, Any], where: str) -> Any:
        """Read and parse the JSON blob of a usable descriptor; None when absent or broken."""
        digest = desc["digest"]
        rel = LayoutReader.blob_rel(digest)
        actual = desc["size"]
        if actual > MAX_JSON:
            self.report.fail(
                "descriptor-size",
                _path(where, "size"),
                f"a document under {MAX_JSON} bytes",
                actual,
            )
            return None
        if not self._verify_blob(digest, rel):
            return None
        return self._parse(self.reader.read(rel) or b"", f"{where} -> {digest}")

    def _follow(self, desc: Any, where: str) -> None:
        if not self._descriptor(desc, where):
            return
        media_type = desc.get("mediaType")
        followed = {INDEX_TYPE, MANIFEST_TYPE}
        if self.docker_compat:
            followed |= {DOCKER_LIST, DOCKER_MANIFEST}
        if media_type not in followed:
            if media_type in DOCKER_TYPES:
                self.report.notes.append(f"{where}: Docker media type {media_type} not followed")
            return
        if desc["digest"] in self.visited:
            return  # walked already (shared child, or a cycle that cannot verify anyway)
        self.visited.add(desc["digest"])
        doc = self._blob_json(desc, where)
        if not isinstance(doc, dict):
            if doc is not None:
                self.report.fail("json-i-json", where, "a JSON object", type(doc).__name__)
            return
        inner = f"{where} -> {desc['digest'][:19]}"
        self.report.check(
            "descriptor-mediatype-matches",
            doc.get("mediaType", media_type) == media_type,
            _path(inner, "mediaType"),
            f"the descriptor's type {media_type}",
            doc.get("mediaType"),
        )
        if media_type in (INDEX_TYPE, DOCKER_LIST):
            self._index(doc, inner, top=False)
        else:
            self._manifest(doc, inner, desc)

    # -- index ----------------------------------------------------------------------------

    def _index(self, doc: dict[str, Any], where: str, *, top: bool) -> None:
        r = self.report
        if not self._schema(doc, schemas.INDEX, where, "index-fields"):
            return
        r.check(
            "index-schema-version",
            doc["schemaVersion"] == 2,
            _path(where, "schemaVersion"),
            "2",
            doc["schemaVersion"],
        )
        self._own_media_type(doc, where, "index", INDEX_TYPE, DOCKER_LIST)
        self._artifact_fields(doc, where)
        for i, child in enumerate(doc["manifests"]):
            cwhere = _path(where, "manifests", i)
            names = child.get("annotations") if isinstance(child, dict) else None
            if not top and isinstance(names, dict) and REF_NAME_KEY in names:
                r.notes.append(f"{cwhere}: ref.name outside index.json has no meaning")
            self._follow(child, cwhere)

    def _own_media_type(
        self, doc: dict[str, Any], where: str, kind: str, expected: str, docker: str
    ) -> None:
        """The document's own mediaType: SHOULD be present, MUST be ``expected`` if present."""
        present = "mediaType" in doc
        self.report.check(
            f"{kind}-mediatype-present",
            present,
            _path(where, "mediaType"),
            f"present ({expected})",
            "absent",
        )
        if present:
            value = doc["mediaType"]
            self.report.check(
                f"{kind}-mediatype",
                value == expected or (self.docker_compat and value == docker),
                _path(where, "mediaType"),
                expected,
                value,
            )

    def _artifact_fields(self, doc: dict[str, Any], where: str) -> None:
        if "artifactType" in doc:
            at = doc["artifactType"]
            self.report.check(
                "descriptor-artifacttype",
                bool(MEDIA_TYPE.match(at)),
                _path(where, "artifactType"),
                "an RFC 6838 type/subtype",
                at,
            )
        if "subject" in doc:
            self.report.check("manifest-subject", True, _path(where, "subject"), "", "")
            if not self._descriptor(doc["subject"], _path(where, "subject"), stored=False):
                self.report.fail(
                    "manifest-subject",
                    _path(where, "subject"),
                    "a valid descriptor",
                    doc["subject"],
                )
        if "annotations" in doc:
            self._annotations(doc["annotations"], _path(where, "annotations"))

    # -- manifest -------------------------------------------------------------------------

    def _manifest(self, doc: dict[str, Any], where: str, desc: dict[str, Any]) -> None:
        r = self.report
        if not self._schema(doc, schemas.MANIFEST, where, "manifest-fields"):
            return
        r.check(
            "manifest-schema-version",
            doc["schemaVersion"] == 2,
            _path(where, "schemaVersion"),
            "2",
            doc["schemaVersion"],
        )
        self._own_media_type(doc, where, "manifest", MANIFEST_TYPE, DOCKER_MANIFEST)
        self._artifact_fields(doc, where)
        config = doc["config"]
        config_ok = self._descriptor(config, _path(where, "config"))
        config_type = config.get("mediaType")
        if config_type == EMPTY_TYPE or "artifactType" in doc:
            r.check(
                "manifest-artifacttype",
                config_type != EMPTY_TYPE or "artifactType" in doc,
                _path(where, "artifactType"),
                "set, because the config is the empty descriptor",
                "absent",
            )
        layers = doc["layers"]
        r.check(
            "manifest-layers-nonempty",
            len(layers) > 0,
            _path(where, "layers"),
            "at least one entry",
            layers,
        )
        is_image = config_type == CONFIG_TYPE or (
            self.docker_compat and config_type in DOCKER_TYPES
        )
        usable = [
            self._descriptor(layer, _path(where, "layers", i)) for i, layer in enumerate(layers)
        ]
        if is_image:
            for i, layer in enumerate(layers):
                lt = layer.get("mediaType")
                r.check(
                    "manifest-image-layer-types",
                    lt in LAYER_COMPRESSION,
                    _path(where, "layers", i, "mediaType"),
                    "a layer media type",
                    lt,
                )
        config_doc = None
        if config_ok and is_image:
            config_doc = self._config(config, _path(where, "config"))
        self._layers(layers, usable, where, config_doc if is_image else None)
        self._platform_matches(desc, config_doc, where)

    def _platform_matches(self, desc: dict[str, Any], config: Any, where: str) -> None:
        plat = desc.get("platform")
        if not isinstance(plat, dict) or not isinstance(config, dict):
            return
        for key in ("architecture", "os", "variant"):
            if key in plat or key in config:
                self.report.check(
                    "platform-matches-config",
                    plat.get(key) == config.get(key),
                    f"{where} platform.{key}",
                    f"the config's {key} {config.get(key)!r}",
                    plat.get(key),
                )

    # -- config ---------------------------------------------------------------------------

    def _config(self, desc: dict[str, Any], where: str) -> Any:
        if desc["digest"] in self.visited:
            return self._configs.get(desc["digest"])
        self.visited.add(desc["digest"])
        doc = self._blob_json(desc, where)
        self._configs[desc["digest"]] = doc
        if not isinstance(doc, dict):
            return None
        inner = f"{where} -> {desc['digest'][:19]}"
        if not self._schema(doc, schemas.CONFIG, inner, "config-fields"):
            return None
        r = self.report
        rootfs = doc["rootfs"]
        r.check(
            "config-rootfs-type",
            rootfs["type"] == "layers",
            _path(inner, "rootfs", "type"),
            '"layers"',
            rootfs["type"],
        )
        for i, did in enumerate(rootfs["diff_ids"]):
            self._digest(did, _path(inner, "rootfs", "diff_ids", i))
        if doc.get("created") is not None:
            r.check(
                "config-created",
                _valid_datetime(doc["created"]),
                _path(inner, "created"),
                "an RFC 3339 date-time",
                doc["created"],
            )
        for i, entry in enumerate(doc.get("history") or []):
            if entry.get("created") is not None:
                r.check(
                    "config-created",
                    _valid_datetime(entry["created"]),
                    _path(inner, "history", i, "created"),
                    "an RFC 3339 date-time",
                    entry["created"],
                )
        self._execution(doc.get("config") or {}, _path(inner, "config"))
        history = doc.get("history")
        if history:
            real = sum(1 for h in history if not h.get("empty_layer"))
            r.check(
                "config-history-layers",
                real == len(rootfs["diff_ids"]),
                _path(inner, "history"),
                f"{len(rootfs['diff_ids'])} entries without empty_layer (one per diff_id)",
                real,
            )
        return doc

    def _execution(self, execution: dict[str, Any], where: str) -> None:
        r = self.report
        for i, env in enumerate(execution.get("Env") or []):
            r.check(
                "config-env",
                bool(ENV.match(env)),
                _path(where, "Env", i),
                "NAME=value with a non-empty NAME",
                env,
            )
        for port in execution.get("ExposedPorts") or {}:
            r.check(
                "config-exposed-ports",
                bool(PORT.match(port)),
                _path(where, "ExposedPorts", port),
                "port, port/tcp or port/udp",
                port,
            )
        if execution.get("Labels") is not None:
            self._annotations(execution["Labels"], _path(where, "Labels"))

    # -- layers ---------------------------------------------------------------------------

    def _layers(self, layers: list[Any], usable: list[bool], where: str, config: Any) -> None:
        diff_ids = None
        if isinstance(config, dict):
            diff_ids = config["rootfs"]["diff_ids"]
            self.report.check(
                "config-diff-ids",
                len(diff_ids) == len(layers),
                _path(where, "layers"),
                f"{len(diff_ids)} layers, one per config diff_id",
                len(layers),
            )
        for i, (layer, ok) in enumerate(zip(layers, usable, strict=True)):
            if not ok or layer.get("mediaType") not in LAYER_COMPRESSION:
                continue
            lwhere = _path(where, "layers", i)
            facts = self._layer(layer, lwhere)
            if facts is None or facts.error or diff_ids is None or i >= len(diff_ids):
                continue
            expected = diff_ids[i]
            algorithm = expected.split(":", 1)[0] if isinstance(expected, str) else "sha256"
            got = facts.digests.get(algorithm, f"{algorithm}: (not computed)")
            self.report.check(
                "config-diff-ids",
                got == expected,
                f"{lwhere} vs config rootfs.diff_ids[{i}]",
                f"uncompressed digest {expected}",
                got,
            )

    def _layer(self, desc: dict[str, Any], where: str) -> LayerFacts | None:
        digest = desc["digest"]
        if digest in self.layers:
            return self.layers[digest]
        rel = LayoutReader.blob_rel(digest)
        if not self.check_layers or not self._verify_blob(digest, rel):
            return None
        facts = self._read_layer(rel, LAYER_COMPRESSION[desc["mediaType"]], where)
        self.layers[digest] = facts
        return facts

    def _read_layer(self, rel: str, compression: str, where: str) -> LayerFacts:
        stream = self.reader.open(rel)
        assert stream is not None
        facts = LayerFacts()
        with stream:
            try:
                plain = _decompressed(stream, compression)
                counter = _CountingReader(plain, ("sha256", "sha512"), MAX_LAYER_BYTES)
                with tarfile.open(fileobj=counter, mode="r|") as tar:  # type: ignore[call-overload]
                    self._entries(tar, where)
                counter.drain()
            except (tarfile.TarError, EOFError, OSError, ValueError, zstandard.ZstdError) as err:
                facts.error = f"{type(err).__name__}: {err}"
                self.report.fail(
                    "layer-format", where, f"a tar archive compressed as {compression}", facts.error
                )
                return facts
        self.report.check("layer-format", True, where, "", "")
        facts.digests = {a: f"{a}:{h.hexdigest()}" for a, h in counter.hashes.items()}
        return facts

    def _entries(self, tar: tarfile.TarFile, where: str) -> None:
        r = self.report
        seen: set[str] = set()
        for member in tar:
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.rstrip("/")
            ewhere = f"{where} entry {member.name!r}"
            if name:
                r.check(
                    "layer-no-duplicates",
                    name not in seen,
                    ewhere,
                    "one entry per path",
                    "a second entry",
                )
                seen.add(name)
            base = name.rsplit("/", 1)[-1]
            if base.startswith(".wh."):
                r.check(
                    "layer-whiteout-entries",
                    member.isreg() and member.size == 0,
                    ewhere,
                    "an empty regular file",
                    f"type {member.type!r}, {member.size} bytes",
                )
            r.check(
                "layer-no-sparse",
                not member.issparse(),
                ewhere,
                "no sparse entries",
                "a sparse file",
            )


def _decompressed(stream: BinaryIO, compression: str) -> BinaryIO:
    import gzip

    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)  # type: ignore[return-value]
    return stream


def validate(reader: LayoutReader, **kwargs: Any) -> Report:
    """Validate the layout behind ``reader`` (see :class:`Validator` for the options)."""
    return Validator(reader, **kwargs).run()


def validate_path(path: Path, **kwargs: Any) -> Report:
    """Validate the layout directory or tar at ``path``; an unreadable tar is a finding."""
    try:
        reader = LayoutReader(path)
    except LayoutError as err:
        report = Report()
        for req in ("layout-oci-layout", "layout-blobs-dir", "layout-index-json"):
            report.fail(req, str(path), "a readable layout directory or tar", str(err))
        return report
    with reader:
        return validate(reader, **kwargs)
