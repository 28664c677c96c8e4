"""Registry errors and the one function that turns any of them into a spec error response.

Every handler raises :class:`RegistryError` (or lets a storage/validation error escape); the
application's exception handlers call :func:`error_response`, so every error leaves in the
body the spec prescribes (``{"errors": [{"code", "message", "detail"}]}``, spec.md#error-codes)
with the status code the endpoint table assigns. An unexpected exception (a bug) is logged and
answered 500 without internals; bad input never takes that path because it is validated first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

# code-1 .. code-14 of spec.md#error-codes, with the status each is usually sent with.
CODES: dict[str, int] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
}

MESSAGES: dict[str, str] = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a blob unknown to the registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
}


class RegistryError(Exception):
    """A request the registry refuses, in the spec's vocabulary.

    Args:
        code: one of the spec's error codes (keys of :data:`CODES`).
        detail: free-form detail for the client (what exactly was wrong).
        status: HTTP status; the code's usual status when omitted.
        headers: extra response headers (``WWW-Authenticate``, ``Content-Range``...).
    """

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unknown registry error code {code!r}")
        self.code = code
        self.detail = detail
        self.status = status or CODES[code]
        self.headers = dict(headers or {})
        super().__init__(f"{code}: {detail}")


def error_body(code: str, detail: Any = None) -> bytes:
    """The JSON error document for one error."""
    entry = {"code": code, "message": MESSAGES[code], "detail": detail}
    return json.dumps({"errors": [entry]}).encode()


def error_response(exc: Exception, *, head: bool = False) -> Response:
    """Map any exception raised while serving a request to the spec's error response.

    Args:
        exc: a :class:`RegistryError`, a Starlette ``HTTPException`` (routing: 404/405), or
            anything else (a bug: logged, answered 500 without internals).
        head: the request was HEAD, so the body is left out (its length stays announced).
    """
    if isinstance(exc, RegistryError):
        status, code, detail, headers = exc.status, exc.code, exc.detail, exc.headers
    elif isinstance(exc, HTTPException):
        # Paths outside the API's endpoints (routing 404) and unknown methods (405).
        status, headers = exc.status_code, dict(exc.headers or {})
        code, detail = "UNSUPPORTED", {"reason": str(exc.detail)}
    else:
        log.exception("internal error while serving a request")
        body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "internal error"}]})
        return Response(body.encode(), status_code=500, media_type="application/json")
    body = error_body(code, detail)
    response = Response(
        b"" if head else body, status_code=status, headers=headers, media_type="application/json"
    )
    if head:
        response.headers["content-length"] = str(len(body))
    return response
