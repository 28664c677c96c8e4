"""Evidence: what a test exchanged with the implementation, kept in its result record.

Client code deep inside a suite records into the running test's :class:`Evidence` through
:func:`current_evidence`, so nothing has to be threaded through every call. Secrets are
redacted on the way in; bodies are cut to a bounded size.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

MAX_BODY = 16 * 1024
"""Bytes of any one body or output kept; the rest is replaced by a marker with its length."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = re.compile(r"(?i)(password|passwd|secret|token|credential)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_USERINFO = re.compile(r"(://[^/\s:@]+):[^/\s@]+@")

_current: contextvars.ContextVar[Evidence | None] = contextvars.ContextVar(
    "conformance_evidence", default=None
)


def clip(text: str | bytes | None, limit: int = MAX_BODY) -> str:
    """Text of at most ``limit`` characters; bytes are decoded leniently."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [{len(text) - limit} more characters cut]"


def redact_text(text: str) -> str:
    """Hide credentials that appear in free text (``Bearer xyz``, ``Basic abc``)."""
    text = _BEARER.sub(lambda m: m.group(1) + " [redacted]", text)
    return _USERINFO.sub(r"\1:[redacted]@", text)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of ``argv`` with the values of secret-sounding flags replaced.

    Covers ``--password VALUE`` and ``--password=VALUE``; free-text credentials are
    handled by :func:`redact_text`.
    """
    out: list[str] = []
    hide_next = False
    for arg in (str(a) for a in argv):
        flag, eq, _ = arg.partition("=")
        if hide_next:
            out.append("[redacted]")
            hide_next = False
        elif arg.startswith("-") and _SECRET_WORDS.search(flag):
            out.append(f"{flag}=[redacted]" if eq else arg)
            hide_next = not eq
        else:
            out.append(redact_text(arg))
    return out


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credential-bearing values replaced."""
    out = {}
    for name, value in headers.items():
        secret = name.lower() in SECRET_HEADERS or _SECRET_WORDS.search(name)
        out[name] = "[redacted]" if secret else value
    return out


def redact_mapping(data: Any) -> Any:
    """A deep copy of JSON-like ``data`` with values under secret-sounding keys replaced."""
    if isinstance(data, Mapping):
        return {
            k: "[redacted]" if _SECRET_WORDS.search(str(k)) else redact_mapping(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_mapping(v) for v in data]
    return data


class Evidence:
    """An ordered log of exchanges between one test and the implementation."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def _add(self, kind: str, **fields: Any) -> None:
        self.entries.append({"kind": kind, "time": round(time.time(), 3), **fields})

    def http(
        self,
        method: str,
        url: str,
        *,
        request_headers: Mapping[str, str] | None = None,
        request_body: str | bytes | None = None,
        status: int | None = None,
        response_headers: Mapping[str, str] | None = None,
        response_body: str | bytes | None = None,
    ) -> None:
        """Record one HTTP request and its response."""
        self._add(
            "http",
            method=method,
            url=redact_text(url),
            request_headers=redact_headers(request_headers or {}),
            request_body=redact_text(clip(request_body)),
            status=status,
            response_headers=redact_headers(response_headers or {}),
            response_body=redact_text(clip(response_body)),
        )

    def rpc(
        self, method: str, request: Any, *, response: Any = None, code: str = "OK", detail: str = ""
    ) -> None:
        """Record one gRPC call: request and response as JSON-like data, and the status."""
        self._add(
            "rpc",
            method=method,
            request=redact_mapping(request),
            response=redact_mapping(response),
            code=code,
            detail=clip(detail),
        )

    def command(
        self,
        argv: Sequence[str],
        *,
        returncode: int | None,
        stdin: str | bytes | None = None,
        stdout: str | bytes | None = None,
        stderr: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Record one command line, its input, exit status and output."""
        self._add(
            "command",
            argv=redact_argv(argv),
            env=redact_headers(dict(env or {})),
            stdin=redact_text(clip(stdin)),
            returncode=returncode,
            stdout=redact_text(clip(stdout)),
            stderr=redact_text(clip(stderr)),
        )

    def note(self, text: str, **data: Any) -> None:
        """Record an observation: state seen, a measurement, a decision the harness made."""
        self._add("note", text=clip(text), data=redact_mapping(data))

    def attach(self, name: str, content: str | bytes) -> None:
        """Record a named document (a config, a manifest, a log excerpt)."""
        self._add("attachment", name=name, content=redact_text(clip(content)))

    def to_list(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The entries as JSON-ready data; with ``limit``, each text field is cut shorter."""
        if limit is None:
            return list(self.entries)
        return [
            {k: clip(v, limit) if isinstance(v, str) else v for k, v in e.items()}
            for e in self.entries
        ]


def current_evidence() -> Evidence:
    """The running test's evidence; a throwaway one outside tests."""
    ev = _current.get()
    return ev if ev is not None else Evidence()


@contextmanager
def collecting(evidence: Evidence) -> Iterator[Evidence]:
    """Make ``evidence`` the current one for the duration of the block."""
    token = _current.set(evidence)
    try:
        yield evidence
    finally:
        _current.reset(token)
