"""Pull client for OCI registries (distribution spec): auth, manifests, verified blobs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reference_impl.cri.errors import (
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)

log = logging.getLogger(__name__)

DEFAULT_REGISTRY = "docker.io"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
_NAME_RE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha(256|512):[a-f0-9]{64,128}$")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference, normalised like containerd (docker.io/library/...)."""

    host: str
    repo: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """``host/repo``."""
        return f"{self.host}/{self.repo}"

    @property
    def tagged(self) -> str | None:
        """``host/repo:tag`` or None for a digest-only reference."""
        return f"{self.name}:{self.tag}" if self.tag else None

    @property
    def canonical(self) -> str | None:
        """``host/repo@digest`` when the reference has a digest."""
        return f"{self.name}@{self.digest}" if self.digest else None


def parse_reference(text: str) -> Reference:
    """Parse ``[host[:port]/]repo[:tag][@digest]``; untagged names mean ``:latest``.

    Raises:
        InvalidArgument: the text is not a valid reference.
    """
    if not text or text != text.strip():
        raise InvalidArgument(f"image reference {text!r} is empty or has spaces")
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST_RE.match(digest):
        raise InvalidArgument(f"image reference {text!r}: invalid digest {digest!r}")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DEFAULT_REGISTRY, rest
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
        if not _TAG_RE.match(tag):
            raise InvalidArgument(f"image reference {text!r}: invalid tag {tag!r}")
    if host == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not _NAME_RE.match(path):
        raise InvalidArgument(f"image reference {text!r}: invalid repository name {path!r}")
    if tag is None and not digest:
        tag = "latest"
    return Reference(host, path, tag, digest or None)


def verify(data: bytes, digest: str, what: str) -> None:
    """Raise when ``data`` does not hash to ``digest``."""
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise Internal(f"{what}: unsupported digest algorithm {algorithm!r}")
    got = hashlib.new(algorithm, data).hexdigest()
    if got != expected:
        raise Internal(f"{what}: content hashes to {algorithm}:{got}, expected {digest}")


class RegistryClient:
    """Fetches manifests and blobs of one repository with basic or bearer auth."""

    def __init__(
        self,
        ref: Reference,
        *,
        insecure: set[str],
        username: str = "",
        password: str = "",
        token: str = "",
        deadline: float | None = None,
    ) -> None:
        self.ref = ref
        host = ref.host
        plain = host in insecure or host.split(":")[0] in ("127.0.0.1", "localhost", "::1")
        api_host = "registry-1.docker.io" if host == DEFAULT_REGISTRY else host
        self.base = f"{'http' if plain else 'https'}://{api_host}/v2/{ref.repo}"
        self.creds = (username, password) if username or password else None
        self.token = token or None
        self.deadline = deadline
        self.http = httpx.Client(timeout=30.0, follow_redirects=True)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _timeout(self) -> float:
        if self.deadline is None:
            return 30.0
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"pull of {self.ref.name} ran past the call deadline")
        return left

    def _authorize(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self.creds is None:
                raise Unauthenticated(f"{self.ref.host} requires credentials")
            self.http.auth = httpx.BasicAuth(*self.creds)
            return
        if scheme.lower() != "bearer":
            raise Unauthenticated(f"{self.ref.host}: unsupported auth scheme {scheme!r}")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        query = {"scope": f"repository:{self.ref.repo}:pull"}
        if "service" in fields:
            query["service"] = fields["service"]
        auth = httpx.BasicAuth(*self.creds) if self.creds else None
        resp = self.http.get(
            fields.get("realm", ""), params=query, auth=auth, timeout=self._timeout()
        )
        if resp.status_code != 200:
            raise Unauthenticated(f"token endpoint answered {resp.status_code}")
        body = resp.json()
        self.token = body.get("token") or body.get("access_token")
        if not self.token:
            raise Unauthenticated("token endpoint gave no token")

    def get(self, path: str, accept: str | None = None) -> httpx.Response:
        """GET ``path`` under the repository, answering one auth challenge."""
        url = f"{self.base}/{path}"
        for attempt in range(2):
            headers = {"Accept": accept} if accept else {}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            try:
                resp = self.http.get(url, headers=headers, timeout=self._timeout())
            except httpx.TimeoutException as err:
                raise DeadlineExceeded(f"GET {url}: {err}") from err
            except httpx.HTTPError as err:
                raise Internal(f"GET {url}: {err}") from err
            if resp.status_code == 401 and attempt == 0:
                self._authorize(resp.headers.get("www-authenticate", ""))
                continue
            break
        if resp.status_code == 401:
            raise Unauthenticated(f"GET {url}: 401 with the given credentials")
        if resp.status_code == 404:
            raise NotFound(f"GET {url}: 404 {resp.text[:200]}")
        if resp.status_code != 200:
            raise Internal(f"GET {url}: {resp.status_code} {resp.text[:200]}")
        return resp

    def manifest(self) -> tuple[str, str, dict[str, Any], bytes]:
        """The image manifest for this platform: (top digest, manifest digest, doc, bytes)."""
        target = self.ref.digest or self.ref.tag
        resp = self.get(f"manifests/{target}", MANIFEST_TYPES)
        data = resp.content
        top = self.ref.digest or resp.headers.get("docker-content-digest") or ""
        if self.ref.digest:
            verify(data, self.ref.digest, f"manifest {self.ref.digest}")
        else:
            top = f"sha256:{hashlib.sha256(data).hexdigest()}"
        doc = json.loads(data)
        media = doc.get("mediaType") or resp.headers.get("content-type", "")
        if media in INDEX_TYPES or "manifests" in doc:
            chosen = next(
                (
                    m
                    for m in doc.get("manifests", [])
                    if m.get("platform", {}).get("os", "linux") == "linux"
                    and m.get("platform", {}).get("architecture", _ARCH) == _ARCH
                ),
                None,
            )
            if chosen is None:
                raise NotFound(f"{self.ref.name}: no manifest for linux/{_ARCH}")
            data = self.get(f"manifests/{chosen['digest']}", MANIFEST_TYPES).content
            verify(data, chosen["digest"], f"manifest {chosen['digest']}")
            return top, chosen["digest"], json.loads(data), data
        return top, top, doc, data

    def blob_to(self, digest: str, dest: Path) -> None:
        """Download blob ``digest`` to ``dest`` (verified, written atomically)."""
        url = f"{self.base}/blobs/{digest}"
        algorithm = digest.partition(":")[0]
        hasher = hashlib.new(algorithm)
        # one temp file per download: two pulls sharing a layer may fetch it at the same time
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with self.http.stream("GET", url, headers=headers, timeout=self._timeout()) as resp:
                if resp.status_code != 200:
                    raise Internal(f"GET {url}: {resp.status_code}")
                with open(tmp, "wb") as fh:
                    for chunk in resp.iter_bytes(1 << 20):
                        hasher.update(chunk)
                        fh.write(chunk)
                        self._timeout()
        except httpx.TimeoutException as err:
            raise DeadlineExceeded(f"GET {url}: {err}") from err
        except httpx.HTTPError as err:
            raise Internal(f"GET {url}: {err}") from err
        if f"{algorithm}:{hasher.hexdigest()}" != digest:
            tmp.unlink(missing_ok=True)
            raise Internal(f"blob {digest}: downloaded content has another digest")
        tmp.replace(dest)
