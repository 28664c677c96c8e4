"""Shared checks on registry responses, and the pusher that seeds and cleans up content.

Checks raise :class:`~conformance.core.errors.Violation` with where/expected/got, so a failure
names the URL, what the spec wants and what came back. The :class:`Pusher` builds inputs only:
when seeding fails in a test about something else, that is a :class:`HarnessError` (an error,
never counted against the registry under the unrelated requirement).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

import requests

from conformance.core import check
from conformance.core.errors import HarnessError, Violation

from .client import RegistryClient
from .data import Blob, Manifest

log = logging.getLogger(__name__)

ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
        # Legacy codes the spec still lets registries send (spec.md#error-codes, note).
        "TAG_INVALID",
        "MANIFEST_UNVERIFIED",
    }
)


def where(resp: requests.Response) -> str:
    """``METHOD URL`` of the request behind ``resp``."""
    return f"{resp.request.method} {resp.request.url}"


def expect_status(resp: requests.Response, allowed: Collection[int], what: str = "") -> None:
    """The status is one of ``allowed``."""
    expected = " or ".join(str(s) for s in sorted(allowed))
    label = f"status{f' ({what})' if what else ''}"
    check(resp.status_code in allowed, where(resp), f"{label} {expected}", resp.status_code)


def expect_4xx(resp: requests.Response, preferred: Collection[int] = ()) -> None:
    """A client error; never a success and never a 5xx."""
    label = f"a 4xx status (preferably {sorted(preferred)})" if preferred else "a 4xx status"
    check(400 <= resp.status_code < 500, where(resp), label, resp.status_code)


def header(resp: requests.Response, name: str) -> str:
    """A response header the spec requires; a Violation when missing."""
    value = resp.headers.get(name)
    check(value is not None, where(resp), f"a {name} header", dict(resp.headers))
    return str(value)


def json_body(resp: requests.Response) -> Any:
    """The response's JSON; a Violation when the body is not JSON."""
    try:
        return resp.json()
    except ValueError as err:
        raise Violation(where(resp), "a JSON body", resp.text[:500]) from err


def error_codes(resp: requests.Response) -> list[str] | None:
    """Codes of a spec error body; ``None`` when the body is not JSON (allowed for 4xx).

    Raises:
        Violation: the body is JSON but not shaped as the spec's error document.
    """
    if resp.request.method == "HEAD" or not resp.content:
        return None
    try:
        doc = json.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None
    errors = doc.get("errors") if isinstance(doc, dict) else None
    check(
        isinstance(errors, list) and errors,
        f"{where(resp)} body",
        'an object with a non-empty "errors" array',
        resp.text[:500],
    )
    codes = []
    for i, entry in enumerate(errors):
        check(isinstance(entry, dict), f"body.errors[{i}]", "an object", entry)
        code = entry.get("code")
        check(code in ERROR_CODES, f"body.errors[{i}].code", "a code from the spec's list", code)
        if "message" in entry:
            message = entry["message"]
            check(isinstance(message, str), f"body.errors[{i}].message", "a string", message)
        codes.append(code)
    return codes


def expect_code(resp: requests.Response, code: str) -> None:
    """The error body names ``code`` (when the registry sends a JSON body at all)."""
    codes = error_codes(resp)
    check(
        codes is not None,
        f"{where(resp)} body",
        f"a JSON error body naming {code}",
        resp.text[:300],
    )
    check(code in (codes or []), f"{where(resp)} body.errors[].code", code, codes)


class Pusher:
    """Pushes content into one repository and removes it all at the end.

    Args:
        client: the registry client.
        repo: the repository.
        manifests_first: delete manifests before blobs when cleaning up.
    """

    def __init__(self, client: RegistryClient, repo: str, manifests_first: bool = True) -> None:
        self.client = client
        self.repo = repo
        self.manifests_first = manifests_first
        self.blobs: list[str] = []
        self.manifests: list[str] = []

    def blob(self, blob: Blob) -> str:
        """Push ``blob`` with POST then PUT; returns its digest."""
        start = self.client.post(f"/v2/{self.repo}/blobs/uploads/")
        if start.status_code != 202 or "Location" not in start.headers:
            raise HarnessError(f"setup: cannot open an upload in {self.repo}: {start.status_code}")
        location = start.headers["Location"]
        sep = "&" if "?" in location else "?"
        done = self.client.put(
            f"{location}{sep}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code != 201:
            raise HarnessError(f"setup: cannot push blob {blob.digest}: {done.status_code}")
        self.blobs.append(blob.digest)
        return blob.digest

    def manifest(self, manifest: Manifest, reference: str | None = None) -> requests.Response:
        """Push ``manifest`` (its blobs and children first) under ``reference`` (its digest)."""
        for child in manifest.children:
            self.manifest(child)
        for blob in manifest.blobs:
            self.blob(blob)
        ref = reference or manifest.digest
        resp = self.client.put(
            f"/v2/{self.repo}/manifests/{ref}",
            data=manifest.body,
            headers={"Content-Type": manifest.media_type},
        )
        if resp.status_code != 201:
            raise HarnessError(
                f"setup: cannot push manifest {manifest.digest} as {ref}: {resp.status_code} "
                f"{resp.text[:300]}"
            )
        self.manifests.append(manifest.digest)
        return resp

    def forget(self, digest: str) -> None:
        """Do not clean up ``digest`` (the test deleted it)."""
        for bucket in (self.blobs, self.manifests):
            while digest in bucket:
                bucket.remove(digest)

    def cleanup(self) -> None:
        """Delete everything pushed; 404/405 and other refusals are fine here."""
        groups = [reversed(self.manifests), reversed(self.blobs)]
        kinds = ["manifests", "blobs"]
        if not self.manifests_first:
            groups.reverse()
            kinds.reverse()
        for kind, digests in zip(kinds, groups, strict=True):
            for digest in dict.fromkeys(digests):
                try:
                    self.client.delete(f"/v2/{self.repo}/{kind}/{digest}")
                except HarnessError as err:
                    log.warning("cleanup of %s failed: %s", digest, err)
        self.blobs.clear()
        self.manifests.clear()
