"""Optional authentication: HTTP basic, or bearer tokens from a tiny token endpoint.

The configuration is a YAML (or JSON) file::

    mode: token                 # "basic" or "token"
    service: reference-registry # the token audience, echoed in challenges
    users:
      alice: s3cret
    access:                     # first matching rule per user wins; fnmatch patterns
      - {user: alice, repository: "*", actions: [pull, push, delete]}
      - {user: "*", repository: "public/*", actions: [pull]}   # "*" includes anonymous

Token mode follows the flow clients implement (the challenge-response of the Docker token
specification, which the distribution spec names as informative, spec.md#authentication):
a request without a token gets ``401 UNAUTHORIZED`` with ``WWW-Authenticate: Bearer
realm=...,service=...,scope=repository:<name>:<actions>``; the client asks ``GET /token`` with
basic credentials for that scope and retries with ``Authorization: Bearer <token>``. Tokens are
HMAC-SHA256 signed JSON claims with an expiry; a token that carries a scope the user was
refused yields ``403 DENIED`` rather than another challenge.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import RegistryError

TOKEN_LIFETIME = 300


@dataclass
class AuthConfig:
    """Parsed authentication configuration."""

    mode: str
    service: str = "reference-registry"
    users: dict[str, str] = field(default_factory=dict)
    access: list[dict[str, Any]] = field(default_factory=list)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def load(cls, path: Path) -> AuthConfig:
        """Read and check an auth configuration file."""
        data = yaml.safe_load(Path(path).read_text())
        if not isinstance(data, dict) or data.get("mode") not in ("basic", "token"):
            raise ValueError(f"{path}: 'mode' must be 'basic' or 'token'")
        users = {str(k): str(v) for k, v in (data.get("users") or {}).items()}
        access = list(data.get("access") or [])
        for i, rule in enumerate(access):
            if not {"user", "repository", "actions"} <= set(rule):
                raise ValueError(f"{path}: access[{i}] needs user, repository and actions")
        return cls(data["mode"], str(data.get("service", cls.service)), users, access)

    def allowed(self, user: str | None, repository: str) -> set[str]:
        """Actions ``user`` (``None``: anonymous) may perform on ``repository``."""
        for rule in self.access:
            who = str(rule["user"])
            if (who == "*" or who == user) and fnmatch.fnmatchcase(
                repository, str(rule["repository"])
            ):
                return {str(a) for a in rule["actions"]}
        return set()

    def check_password(self, user: str, password: str) -> bool:
        """Constant-time password check."""
        known = self.users.get(user)
        return known is not None and hmac.compare_digest(known.encode(), password.encode())


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from a basic ``Authorization`` header value, else ``None``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_scope(scope: str) -> tuple[str, set[str]] | None:
    """``(repository, actions)`` from ``repository:<name>:<a,b>``; ``None`` when malformed."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind != "repository" or not name:
        return None
    return name, {a for a in actions.split(",") if a}


class Authenticator:
    """Decides whether a request may perform ``action`` on a repository."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    # -- tokens -------------------------------------------------------------------------

    def issue(self, user: str | None, scopes: list[str]) -> dict[str, Any]:
        """The token endpoint's answer for ``user`` asking for ``scopes``."""
        requested: dict[str, list[str]] = {}
        granted: dict[str, list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            name, actions = parsed
            requested[name] = sorted(set(requested.get(name, [])) | actions)
            ok = actions & self.config.allowed(user, name)
            granted[name] = sorted(set(granted.get(name, [])) | ok)
        claims = {
            "sub": user or "",
            "aud": self.config.service,
            "exp": int(time.time()) + TOKEN_LIFETIME,
            "requested": requested,
            "access": granted,
        }
        payload = _b64(json.dumps(claims, sort_keys=True).encode())
        sig = _b64(hmac.new(self.config.key, payload.encode(), hashlib.sha256).digest())
        token = f"{payload}.{sig}"
        return {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME}

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token; ``None`` otherwise."""
        payload, _, sig = token.partition(".")
        want = _b64(hmac.new(self.config.key, payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(want, sig):
            return None
        try:
            claims: dict[str, Any] = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        if claims.get("exp", 0) < time.time() or claims.get("aud") != self.config.service:
            return None
        return claims

    # -- per request --------------------------------------------------------------------

    def challenge(self, base_url: str, repository: str | None, action: str) -> dict[str, str]:
        """The ``WWW-Authenticate`` header for a refused request."""
        if self.config.mode == "basic":
            return {"WWW-Authenticate": f'Basic realm="{self.config.service}"'}
        value = f'Bearer realm="{base_url}/token",service="{self.config.service}"'
        if repository:
            actions = "pull,push" if action == "push" else action
            value += f',scope="repository:{repository}:{actions}"'
        return {"WWW-Authenticate": value}

    def authorize(
        self, header: str | None, base_url: str, repository: str | None, action: str
    ) -> None:
        """Raise ``UNAUTHORIZED`` or ``DENIED`` unless the request may do ``action``.

        ``repository`` is ``None`` for registry-wide endpoints (``/v2/``), which need any
        valid identity.
        """
        challenge = self.challenge(base_url, repository, action)
        if self.config.mode == "basic":
            self._authorize_basic(header, repository, action, challenge)
        else:
            self._authorize_token(header, repository, action, challenge)

    def _authorize_basic(
        self, header: str | None, repository: str | None, action: str, challenge: dict[str, str]
    ) -> None:
        creds = parse_basic(header) if header else None
        if creds is None or not self.config.check_password(*creds):
            if header is None and repository and action in self.config.allowed(None, repository):
                return
            raise RegistryError("UNAUTHORIZED", "valid credentials required", headers=challenge)
        if repository is not None and action not in self.config.allowed(creds[0], repository):
            raise RegistryError("DENIED", {"repository": repository, "action": action})

    def _authorize_token(
        self, header: str | None, repository: str | None, action: str, challenge: dict[str, str]
    ) -> None:
        scheme, _, token = (header or "").partition(" ")
        claims = self.verify(token.strip()) if scheme.lower() == "bearer" else None
        if claims is None:
            raise RegistryError(
                "UNAUTHORIZED", "a valid bearer token is required", headers=challenge
            )
        if repository is None:
            return
        if action in claims["access"].get(repository, []):
            return
        if action in claims["requested"].get(repository, []):
            raise RegistryError("DENIED", {"repository": repository, "action": action})
        raise RegistryError("UNAUTHORIZED", "token lacks the required scope", headers=challenge)

    def token_endpoint(self, header: str | None, scopes: list[str]) -> dict[str, Any]:
        """Serve ``GET /token``: check basic credentials (or none: anonymous) and issue."""
        user: str | None = None
        if header:
            creds = parse_basic(header)
            if creds is None or not self.config.check_password(*creds):
                raise RegistryError(
                    "UNAUTHORIZED",
                    "invalid credentials for the token service",
                    headers={"WWW-Authenticate": f'Basic realm="{self.config.service}"'},
                )
            user = creds[0]
        return self.issue(user, scopes)
