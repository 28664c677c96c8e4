"""The registry's HTTP API (OCI Distribution Spec v1.1.1 plus end-4c, end-7b, end-14 of main).

One catch-all route below ``/v2/`` splits the path with the endpoint patterns of
spec.md#endpoints, because repository names contain slashes and routers match segments. Every
handler validates first, then touches storage; every refusal is a
:class:`~.errors.RegistryError` turned into the spec's error body by
:func:`~.errors.error_response`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from wire import digest as digestlib
from wire import mediatypes as mt

from . import manifests
from .auth import Authenticator
from .errors import RegistryError, error_response
from .storage import NAME_RE, Storage, Upload, check_digest, check_name, check_tag

log = logging.getLogger(__name__)

WRITE_BATCH = 1 << 20
"""Request bytes gathered before one write to the staging file."""

READ_CHUNK = 1 << 20
"""Bytes per read when serving a blob (Starlette's 64 KiB default costs a loop turn each)."""

FAULTS = frozenset(
    {
        "skip-blob-digest-check",
        "skip-manifest-digest-check",
        "500-on-unknown-blob",
        "accept-out-of-order-chunks",
        "unsorted-tags",
        "ignore-tag-pagination",
        "no-subject-header",
        "referrers-404",
        "plain-text-errors",
        "no-upload-status",
    }
)
"""Deliberate misbehaviours, only for proving that the suite's checks can fail
(``tests/integration/test_distribution_broken.py``). Never enabled unless asked for."""

_PATHS = [
    ("upload", re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<upload>[^/]*)$")),
    ("blob", re.compile(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$")),
    ("manifest", re.compile(r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$")),
    ("tags", re.compile(r"^(?P<name>.+)/tags/list$")),
    ("referrers", re.compile(r"^(?P<name>.+)/referrers/(?P<digest>[^/]+)$")),
]

_ACTIONS = {"GET": "pull", "HEAD": "pull", "POST": "push", "PATCH": "push", "PUT": "push"}
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Registry:
    """Request handlers over one :class:`Storage`.

    Args:
        storage: where content lives.
        auth: the authenticator, or ``None`` for an open registry.
        faults: names from :data:`FAULTS` to enable (harness self-tests only).
    """

    storage: Storage
    auth: Authenticator | None = None
    faults: frozenset[str] = frozenset()
    rate_limit: float = 0.0
    _upload_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def throttle(self, request: Request) -> None:
        """Refuse with 429 TOOMANYREQUESTS a client over ``rate_limit`` requests per second.

        A token bucket per client address holding one second's worth of requests
        (spec.md#error-codes, code-14; RFC 6585 §4 for ``Retry-After``).
        """
        if self.rate_limit <= 0:
            return
        client = request.client.host if request.client else "-"
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.rate_limit, now))
        tokens = min(self.rate_limit, tokens + (now - last) * self.rate_limit)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            raise RegistryError(
                "TOOMANYREQUESTS",
                {"limit_per_second": self.rate_limit},
                headers={"Retry-After": "1"},
            )
        self._buckets[client] = (tokens - 1, now)

    # -- dispatch -----------------------------------------------------------------------

    async def base(self, request: Request) -> Response:
        """end-1: the registry implements the spec."""
        self._authorize(request, None, "pull")
        return JSONResponse({}, headers={"Docker-Distribution-API-Version": "registry/2.0"})

    async def dispatch(self, request: Request) -> Response:
        """Route ``/v2/<rest>`` to the handler of the endpoint it names."""
        rest = request.path_params["rest"]
        for kind, pattern in _PATHS:
            match = pattern.match(rest)
            if match is None:
                continue
            params = match.groupdict()
            check_name(params["name"])
            handler = getattr(self, f"{kind}_{request.method.lower()}", None)
            if handler is None:
                raise RegistryError("UNSUPPORTED", {"method": request.method}, status=405)
            action = "delete" if request.method == "DELETE" and kind != "upload" else None
            self._authorize(request, params["name"], action or _ACTIONS.get(request.method, "push"))
            result: Response = await handler(request, **params)
            return result
        raise RegistryError("NAME_INVALID", {"path": rest[:300]}, status=404)

    def _authorize(self, request: Request, name: str | None, action: str) -> None:
        if self.auth is None:
            return
        base_url = str(request.base_url).rstrip("/")
        self.auth.authorize(request.headers.get("authorization"), base_url, name, action)

    async def token(self, request: Request) -> Response:
        """The token endpoint of token mode."""
        if self.auth is None or self.auth.config.mode != "token":
            raise RegistryError("UNSUPPORTED", "token authentication is not enabled", status=404)
        scopes = request.query_params.getlist("scope")
        answer = self.auth.token_endpoint(request.headers.get("authorization"), scopes)
        return JSONResponse(answer)

    # -- blobs (end-2, end-10) ----------------------------------------------------------

    def _blob_headers(self, digest: str, size: int) -> dict[str, str]:
        return {
            "Docker-Content-Digest": digest,
            "Content-Length": str(size),
            "Accept-Ranges": "bytes",
        }

    def _blob(self, name: str, digest: str) -> tuple[str, int, str]:
        check_digest(digest)
        try:
            path = self.storage.blob_file(name, digest)
        except RegistryError:
            if "500-on-unknown-blob" in self.faults:
                raise RuntimeError("deliberate fault: unknown blob") from None
            raise
        return str(path), path.stat().st_size, digest

    async def blob_head(self, request: Request, name: str, digest: str) -> Response:
        """end-2 (HEAD): existence, size and digest of a blob, no body."""
        _, size, digest = self._blob(name, digest)
        headers = self._blob_headers(digest, size)
        return Response(b"", headers=headers, media_type="application/octet-stream")

    async def blob_get(self, request: Request, name: str, digest: str) -> Response:
        """end-2 (GET): the blob's bytes; a single ``Range`` is honoured (spec 1.1.1)."""
        path, size, digest = self._blob(name, digest)
        headers = {"Docker-Content-Digest": digest}
        wanted = request.headers.get("range")
        if wanted is not None:
            self._check_range(wanted, size)
        response = FileResponse(path, headers=headers, media_type="application/octet-stream")
        response.chunk_size = READ_CHUNK
        return response

    @staticmethod
    def _check_range(header: str, size: int) -> None:
        """Refuse a single unsatisfiable range (RFC 9110 §14.1.2) in the spec's error shape.

        Multi-range and syntactically odd values are left to the file response, which either
        serves them or ignores the header (both allowed by RFC 9110).
        """
        match = _RANGE.match(header.strip())
        if match is None:
            return
        first, last = match.groups()
        if first and (int(first) >= size or (last and int(last) < int(first))):
            raise RegistryError(
                "SIZE_INVALID",
                {"range": header, "size": size, "reason": "range not satisfiable"},
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        if not first and (not last or int(last) == 0):
            raise RegistryError(
                "SIZE_INVALID",
                {"range": header, "size": size, "reason": "range not satisfiable"},
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )

    async def blob_delete(self, request: Request, name: str, digest: str) -> Response:
        """end-10: remove a blob from the repository."""
        check_digest(digest)
        self.storage.delete_blob(name, digest)
        return Response(status_code=202)

    # -- uploads (end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14) -------------------

    def _upload_headers(self, name: str, upload: Upload, size: int) -> dict[str, str]:
        return {
            "Location": f"/v2/{name}/blobs/uploads/{upload.id}",
            "Range": f"0-{max(size - 1, 0)}",
            "Docker-Upload-UUID": upload.id,
        }

    def _blob_created(self, name: str, digest: str) -> Response:
        headers = {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        return Response(status_code=201, headers=headers)

    async def upload_post(self, request: Request, name: str, upload: str) -> Response:
        """Start an upload, upload in one request, or mount a blob from another repository."""
        if upload:
            raise RegistryError("UNSUPPORTED", {"method": "POST"}, status=405)
        query = request.query_params
        mount = query.get("mount")
        if mount is not None:
            mounted = await self._mount(request, name, mount, query.get("from"))
            if mounted is not None:
                return mounted
        algorithm = query.get("digest-algorithm")
        if algorithm is not None and algorithm not in digestlib.ALGORITHMS:
            raise RegistryError("DIGEST_INVALID", {"digest-algorithm": algorithm[:64]})
        digest = query.get("digest")
        if digest is not None:
            check_digest(digest)
        expected = algorithm or (digest.split(":", 1)[0] if digest else "sha256")
        session = self.storage.start_upload(name, expected)
        if digest is not None:
            await self._receive(request, session, None)
            return await self._commit(name, session, digest)
        headers = self._upload_headers(name, session, 0)
        return Response(status_code=202, headers=headers)

    async def _mount(
        self, request: Request, name: str, digest: str, source: str | None
    ) -> Response | None:
        check_digest(digest)
        if source is not None and NAME_RE.match(source):
            try:
                self._authorize(request, source, "pull")
            except RegistryError:
                return None
        mounted = self.storage.mount_blob(name, digest, source)
        return self._blob_created(name, digest) if mounted else None

    async def upload_get(self, request: Request, name: str, upload: str) -> Response:
        """end-13: how many bytes the session holds."""
        session = self.storage.get_upload(name, upload)
        if "no-upload-status" in self.faults:
            return Response(status_code=200)
        return Response(status_code=204, headers=self._upload_headers(name, session, session.size))

    async def upload_patch(self, request: Request, name: str, upload: str) -> Response:
        """end-5: append one chunk (with ``Content-Range``) or a stream (without)."""
        session = self.storage.get_upload(name, upload)
        async with self._lock(session):
            size = await self._receive(request, session, request.headers.get("content-range"))
        return Response(status_code=202, headers=self._upload_headers(name, session, size))

    async def upload_put(self, request: Request, name: str, upload: str) -> Response:
        """end-6: optionally append a last chunk, verify the digest and publish the blob."""
        session = self.storage.get_upload(name, upload)
        digest = request.query_params.get("digest")
        if digest is None:
            raise RegistryError("DIGEST_INVALID", "the digest query parameter is required")
        check_digest(digest)
        async with self._lock(session):
            await self._receive(request, session, request.headers.get("content-range"))
            return await self._commit(name, session, digest)

    async def upload_delete(self, request: Request, name: str, upload: str) -> Response:
        """end-14: cancel the session and drop its bytes."""
        session = self.storage.get_upload(name, upload)
        async with self._lock(session):
            self.storage.cancel_upload(session)
        self._upload_locks.pop(session.id, None)
        return Response(status_code=204)

    def _lock(self, session: Upload) -> asyncio.Lock:
        return self._upload_locks.setdefault(session.id, asyncio.Lock())

    async def _commit(self, name: str, session: Upload, digest: str) -> Response:
        verify = "skip-blob-digest-check" not in self.faults
        await run_in_threadpool(self.storage.commit_upload, session, digest, verify)
        self._upload_locks.pop(session.id, None)
        return self._blob_created(name, digest)

    async def _receive(self, request: Request, session: Upload, content_range: str | None) -> int:
        """Append the request body to the session; returns the new size.

        With ``Content-Range`` the chunk must start where the session ends (else 416) and be
        exactly as long as the range says (else the bytes are rolled back and 400
        ``SIZE_INVALID``), spec.md#pushing-a-blob-in-chunks.
        """
        start = session.size
        expected = self._expected_length(request, content_range, start)
        written = await self._stream_to(request, session, start)
        if expected is not None and written != expected:
            await run_in_threadpool(_truncate, session, start)
            raise RegistryError(
                "SIZE_INVALID", {"expected": expected, "received": written}, status=400
            )
        return start + written

    def _expected_length(
        self, request: Request, content_range: str | None, start: int
    ) -> int | None:
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            raise RegistryError("SIZE_INVALID", {"Content-Length": declared[:64]})
        if content_range is None:
            return int(declared) if declared is not None else None
        match = _CONTENT_RANGE.match(content_range.strip())
        if match is None:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID", {"Content-Range": content_range[:64]}, status=400
            )
        first, last = int(match.group(1)), int(match.group(2))
        if first != start and "accept-out-of-order-chunks" not in self.faults:
            raise RegistryError(
                "BLOB_UPLOAD_INVALID",
                {"Content-Range": content_range, "expected_start": start},
                status=416,
                headers={"Range": f"0-{max(start - 1, 0)}"},
            )
        if last < first:
            raise RegistryError("BLOB_UPLOAD_INVALID", {"Content-Range": content_range}, status=416)
        length = last - first + 1
        if declared is not None and int(declared) != length:
            raise RegistryError(
                "SIZE_INVALID", {"Content-Range": content_range, "Content-Length": declared}
            )
        return length

    async def _stream_to(self, request: Request, session: Upload, start: int) -> int:
        written, batch = 0, bytearray()
        with session.open_append() as f:
            async for block in request.stream():
                batch += block
                if len(batch) >= WRITE_BATCH:
                    await run_in_threadpool(_write, f, session, bytes(batch), start + written)
                    written += len(batch)
                    batch.clear()
            if batch:
                await run_in_threadpool(_write, f, session, bytes(batch), start + written)
                written += len(batch)
        return written

    # -- manifests (end-3, end-7a/7b, end-9) ----------------------------------------------

    def _resolve(self, name: str, reference: str) -> str:
        if ":" in reference:
            check_digest(reference)
            return reference
        return self.storage.resolve_tag(name, check_tag(reference))

    def _manifest(self, name: str, reference: str) -> tuple[str, str, int, str]:
        digest = self._resolve(name, reference)
        meta = self.storage.manifest_meta(name, digest)
        return str(self.storage.manifest_file(name, digest)), meta.media_type, meta.size, digest

    async def manifest_head(self, request: Request, name: str, reference: str) -> Response:
        """end-3 (HEAD)."""
        _, media_type, size, digest = self._manifest(name, reference)
        headers = {"Docker-Content-Digest": digest, "Content-Length": str(size)}
        return Response(b"", headers=headers, media_type=media_type)

    async def manifest_get(self, request: Request, name: str, reference: str) -> Response:
        """end-3 (GET): the exact bytes pushed, typed with the manifest's media type."""
        path, media_type, _, digest = self._manifest(name, reference)
        response = FileResponse(path, headers={"Docker-Content-Digest": digest})
        response.media_type = media_type
        response.headers["content-type"] = media_type
        return response

    async def manifest_put(self, request: Request, name: str, reference: str) -> Response:
        """end-7a/7b: validate, store, tag; answers with the digest and ``OCI-Subject``."""
        tags = request.query_params.getlist("tag")
        target_digest = None
        if ":" in reference:
            check_digest(reference)
            target_digest = reference
        else:
            tags.insert(0, reference)
        for tag in tags:
            check_tag(tag)
        body = await _read_limited(request, manifests.MAX_MANIFEST_BYTES)
        parsed = manifests.parse(request.headers.get("content-type"), body)
        algorithm = target_digest.split(":", 1)[0] if target_digest else "sha256"
        digest = digestlib.compute(body, algorithm)
        if target_digest and digest != target_digest:
            if "skip-manifest-digest-check" not in self.faults:
                raise RegistryError(
                    "DIGEST_INVALID", {"reference": target_digest, "computed": digest}
                )
            digest = target_digest
        manifests.check_references(self.storage, name, parsed)
        self.storage.put_manifest(name, body, manifests.meta(parsed, digest, len(body)))
        for tag in tags:
            self.storage.set_tag(name, tag, digest)
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        if parsed.subject and "no-subject-header" not in self.faults:
            headers["OCI-Subject"] = parsed.subject
        response = Response(status_code=201, headers=headers)
        extra = tags[1:] if target_digest is None else tags
        for tag in extra:
            response.headers.append("OCI-Tag", tag)
        return response

    async def manifest_delete(self, request: Request, name: str, reference: str) -> Response:
        """end-9: delete a tag, or a manifest with every tag pointing at it."""
        if ":" in reference:
            check_digest(reference)
            self.storage.delete_manifest(name, reference)
        else:
            self.storage.delete_tag(name, check_tag(reference))
        return Response(status_code=202)

    # -- discovery (end-8a/8b, end-12a/12b) ---------------------------------------------

    async def tags_get(self, request: Request, name: str) -> Response:
        """end-8a/8b: tags in lexical order, paginated with ``n``/``last`` and ``Link``."""
        if not self.storage.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        tags = self.storage.tags(name)
        if "unsorted-tags" in self.faults:
            tags.reverse()
        count, last = _page_params(request)
        if "ignore-tag-pagination" in self.faults:
            count, last = None, None
        if last is not None:
            tags = [t for t in tags if t > last]
        headers = {}
        if count is not None and len(tags) > count:
            tags = tags[:count]
            if count > 0:
                link = f"/v2/{name}/tags/list?n={count}&last={quote(tags[-1])}"
                headers["Link"] = f'<{link}>; rel="next"'
        return JSONResponse({"name": name, "tags": tags}, headers=headers)

    async def referrers_get(self, request: Request, name: str, digest: str) -> Response:
        """end-12a/12b: an image index of the manifests whose subject is ``digest``."""
        # The fallback-tag index (spec.md#enabling-the-referrers-api) needs no merging here:
        # every manifest's subject is indexed at push time since the first push, so anything a
        # fallback index lists with a valid subject is already in the index below.
        if "referrers-404" in self.faults:
            return Response(b"404 page not found", status_code=404, media_type="text/plain")
        check_digest(digest)
        found = self.storage.referrers(name, digest) if self.storage.repo_exists(name) else []
        descriptors = [m.descriptor() for m in found]
        headers = {}
        wanted = request.query_params.get("artifactType")
        if wanted is not None:
            descriptors = [d for d in descriptors if d.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        index = {"schemaVersion": 2, "mediaType": mt.IMAGE_INDEX, "manifests": descriptors}
        body = json.dumps(index).encode()
        return Response(body, headers=headers, media_type=mt.IMAGE_INDEX)


def _write(f: object, session: Upload, data: bytes, offset: int) -> None:
    f.write(data)  # type: ignore[attr-defined]
    session.feed(data, offset)


def _truncate(session: Upload, size: int) -> None:
    with open(session.data, "r+b") as f:
        f.truncate(size)
    session.hashed = -1


def _page_params(request: Request) -> tuple[int | None, str | None]:
    raw_n = request.query_params.get("n")
    last = request.query_params.get("last")
    count = None
    if raw_n is not None:
        if not raw_n.isdigit():
            raise RegistryError("SIZE_INVALID", {"n": raw_n[:64], "reason": "n must be >= 0"})
        count = int(raw_n)
    return count, last


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RegistryError(
            "MANIFEST_INVALID", {"reason": f"manifest exceeds {limit} bytes"}, status=413
        )
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > limit:
            raise RegistryError(
                "MANIFEST_INVALID", {"reason": f"manifest exceeds {limit} bytes"}, status=413
            )
    return bytes(body)


def create_app(
    storage: Storage,
    auth: Authenticator | None = None,
    faults: frozenset[str] = frozenset(),
    rate_limit: float = 0.0,
) -> Starlette:
    """The ASGI application serving ``storage`` (``rate_limit``: requests/s per client)."""
    unknown = set(faults) - FAULTS
    if unknown:
        raise ValueError(f"unknown faults: {sorted(unknown)}")
    registry = Registry(storage, auth, frozenset(faults), rate_limit)
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

    def wrap(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., object]:
        async def endpoint(request: Request) -> Response:
            try:
                registry.throttle(request)
                response = await handler(request)
            except Exception as exc:  # every refusal leaves through the one mapping
                response = error_response(exc, head=request.method == "HEAD")
                if "plain-text-errors" in faults and response.status_code < 500:
                    response = Response(b"error", status_code=response.status_code)
            log.debug("%s %s -> %d", request.method, request.url.path, response.status_code)
            return response

        return endpoint

    routes = [
        Route("/v2/", wrap(registry.base), methods=["GET", "HEAD"]),
        Route("/v2", wrap(registry.base), methods=["GET", "HEAD"]),
        Route("/token", wrap(registry.token), methods=["GET"]),
        Route("/v2/{rest:path}", wrap(registry.dispatch), methods=methods),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(exc, head=request.method == "HEAD")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.registry = registry
    return app
