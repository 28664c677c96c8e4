"""The suite's HTTP client: a requests session that records evidence and answers auth challenges.

Every response passes through a session hook that writes the exchange into the running test's
evidence, so every test keeps its HTTP conversation without doing anything. Authentication
follows the challenge a registry sends (spec.md#authentication is informative; the flow is the
one Docker clients implement): a ``401`` with ``WWW-Authenticate: Basic`` is retried with the
configured credentials; ``Bearer realm=...,service=...,scope=...`` makes the client fetch a token
from the realm for that scope (with the credentials when given, anonymously otherwise), cache
it per scope, and retry once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
from requests.auth import AuthBase

from conformance.core import current_evidence
from conformance.core.errors import HarnessError, Violation

log = logging.getLogger(__name__)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPO_IN_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")
TIMEOUT = 30.0


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``(scheme, params)`` of a ``WWW-Authenticate`` value."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


@dataclass
class ChallengeAuth(AuthBase):
    """requests auth that answers Basic and Bearer challenges, caching tokens per scope."""

    username: str | None = None
    password: str | None = None
    verify: bool = True
    tokens: dict[str, str] = field(default_factory=dict)
    basic_needed: bool = False

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._cached_for(request.path_url)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        elif self.basic_needed and self.username is not None:
            request.prepare_auth((self.username, self.password or ""))
        request.register_hook("response", self._on_response)
        return request

    def _cached_for(self, path: str) -> str | None:
        match = _REPO_IN_PATH.match(path)
        repo = match.group(1) if match else ""
        for scope, token in self.tokens.items():
            if scope == "" and not repo:
                return token
            if repo and scope.startswith(f"repository:{repo}:"):
                return token
        return None

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_retried", False):
            return response
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        retry = response.request.copy()
        if scheme == "basic":
            if self.username is None:
                return response
            self.basic_needed = True
            retry.prepare_auth((self.username, self.password or ""))
        elif scheme == "bearer" and "realm" in params:
            token = self.fetch_token(params)
            if token is None:
                return response
            retry.headers["Authorization"] = f"Bearer {token}"
        else:
            return response
        retry._retried = True  # type: ignore[attr-defined]
        response.content  # noqa: B018 - drain before reusing the connection
        response.close()
        new = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return _record(new)

    def fetch_token(self, params: dict[str, str]) -> str | None:
        """Get a token from the challenge's realm for its service and scope."""
        query = {k: params[k] for k in ("service", "scope") if k in params}
        auth = (self.username, self.password or "") if self.username is not None else None
        answer = requests.get(
            params["realm"], params=query, auth=auth, timeout=TIMEOUT, verify=self.verify
        )
        _record(answer, secret_body=True)
        if answer.status_code != 200:
            return None
        try:
            body = answer.json()
        except ValueError:
            return None
        token = body.get("token") or body.get("access_token")
        if isinstance(token, str):
            self.tokens[params.get("scope", "")] = token
            return token
        return None


def _record(
    response: requests.Response, *, secret_body: bool = False, **_: Any
) -> requests.Response:
    """Session hook: keep the exchange as the running test's evidence.

    ``secret_body`` replaces the response body (a token answer) with a marker.
    """
    request = response.request
    body = request.body
    if isinstance(body, bytes | str) or body is None:
        shown = body
    else:
        shown = f"<streamed body of type {type(body).__name__}>"
    current_evidence().http(
        request.method or "",
        request.url or "",
        request_headers=dict(request.headers),
        request_body=shown,
        status=response.status_code,
        response_headers=dict(response.headers),
        response_body="[token answer redacted]" if secret_body else response.content,
    )
    log.debug("%s %s -> %d", request.method, request.url, response.status_code)
    return response


class RegistryClient:
    """Raw access to one registry, with URLs relative to its base.

    Args:
        base_url: ``http(s)://host[:port]`` without a trailing slash.
        username, password: credentials for auth challenges, if any.
        verify: verify TLS certificates.
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.verify = verify
        self.auth = ChallengeAuth(username, password, verify)
        self.session.auth = self.auth
        self.session.hooks["response"].append(_record)

    def url(self, path_or_url: str) -> str:
        """An absolute URL for a path (``/v2/...``) or a ``Location`` value."""
        return urljoin(self.base_url + "/", path_or_url)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; connection failures are the harness's environment problem."""
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", True)
        try:
            return self.session.request(method, self.url(path), **kwargs)
        except requests.exceptions.ChunkedEncodingError as err:
            # The registry announced a body it did not send (broken HTTP framing).
            raise Violation(
                f"{method} {self.url(path)}", "a complete HTTP response (RFC 9112 §6)", str(err)
            ) from err
        except requests.ConnectionError as err:
            raise HarnessError(f"cannot reach the registry at {self.base_url}: {err}") from err

    def get(self, path: str, **kw: Any) -> requests.Response:
        """GET."""
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> requests.Response:
        """HEAD."""
        return self.request("HEAD", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        """POST."""
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        """PUT."""
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        """PATCH."""
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
