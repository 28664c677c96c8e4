"""Registry-wide behaviour: API support, names, error bodies, warnings (spec.md#api)."""

from __future__ import annotations

import re

import pytest

from conformance.core import check, check_equal, not_applicable
from conformance.plugin import ConformanceState

from . import data
from .checks import Pusher, error_codes, expect_4xx, expect_code, expect_status, header, where
from .client import RegistryClient

req = pytest.mark.requirement
_WARNING = re.compile(r'^299\s+-\s+"(?:[^"\\]|\\.)*"$')


@req("end-1")
def test_base_endpoint_answers_200(client: RegistryClient) -> None:
    """GET /v2/ answers 200 (after any authentication challenge was answered)."""
    expect_status(client.get("/v2/"), {200})


@req("error-body")
@pytest.mark.parametrize("kind", ["blob", "manifest", "upload"])
def test_error_bodies_have_the_spec_shape(client: RegistryClient, repo: str, kind: str) -> None:
    """JSON error bodies are {"errors": [{"code", "message", "detail"}]} with listed codes."""
    path = {
        "blob": f"/v2/{repo}/blobs/{data.unknown_digest()}",
        "manifest": f"/v2/{repo}/manifests/{data.unknown_digest()}",
        "upload": f"/v2/{repo}/blobs/uploads/{'0' * 32}",
    }[kind]
    resp = client.get(path)
    expect_4xx(resp, {404})
    if error_codes(resp) is None:
        not_applicable("the 4xx body is not JSON (allowed)")


@req("name-grammar")
def test_multi_component_names_are_served(
    client: RegistryClient, conformance: ConformanceState, pusher: Pusher
) -> None:
    """A repository name with several path components and separators works end to end."""
    if not conformance.option("--isolate-repositories"):
        not_applicable("repository names are fixed by --namespace")
    deep = Pusher(client, f"{pusher.repo}/a.b/c__d/e-f", pusher.manifests_first)
    try:
        img = data.image()
        deep.manifest(img, "v1")
        resp = client.get(f"/v2/{deep.repo}/manifests/v1", headers={"Accept": img.media_type})
        expect_status(resp, {200})
    finally:
        deep.cleanup()


@req("name-grammar", "no-5xx-for-bad-input")
@pytest.mark.parametrize(
    "name",
    ["UPPER/case", "-lead", "trail-", "a//b", "a/.b", "a__-b"],
    ids=["upper", "lead-dash", "trail-dash", "double-slash", "dot-component", "mixed-sep"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_invalid_repository_names_are_refused(
    client: RegistryClient, name: str, method: str
) -> None:
    """Names outside the grammar are refused with a 4xx for reads and for uploads."""
    path = f"/v2/{name}/manifests/latest" if method == "GET" else f"/v2/{name}/blobs/uploads/"
    resp = client.request(method, path)
    expect_4xx(resp, {400, 404})


@req("code-8")
def test_invalid_repository_name_names_name_invalid(client: RegistryClient) -> None:
    """An upload to an invalid repository name is refused naming NAME_INVALID."""
    resp = client.post("/v2/Invalid-UPPER/blobs/uploads/")
    expect_4xx(resp, {400})
    expect_code(resp, "NAME_INVALID")


@req("no-5xx-for-bad-input")
@pytest.mark.parametrize(
    "suffix",
    [
        "blobs/sha256:baddigest",
        "blobs/notadigest",
        "manifests/sha256:baddigeststring",
        "manifests/" + "x" * 200,
        "blobs/uploads/not-an-upload-id",
        "blobs/uploads/..%2F..%2Fetc",
        "tags/list?n=-1",
        "tags/list?n=abc",
    ],
)
def test_malformed_read_requests_are_client_errors(
    client: RegistryClient, repo: str, suffix: str
) -> None:
    """Malformed references and parameters on reads are answered with a 4xx, never a 5xx."""
    resp = client.get(f"/v2/{repo}/{suffix}")
    check(resp.status_code < 500, where(resp), "a status below 500", resp.status_code)


@req("no-5xx-for-bad-input")
@pytest.mark.parametrize("value", ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=--1"])
def test_malformed_range_headers_are_not_server_errors(
    client: RegistryClient, pusher: Pusher, value: str
) -> None:
    """Malformed Range headers on blob GET are ignored (200) or refused (416), never a 5xx."""
    blob = data.Blob.random(100)
    pusher.blob(blob)
    resp = client.get(f"/v2/{pusher.repo}/blobs/{blob.digest}", headers={"Range": value})
    check(
        resp.status_code in (200, 206, 400, 416),
        where(resp),
        "200, 206, 400 or 416",
        resp.status_code,
    )


@req("warning-header")
def test_warning_headers_are_well_formed(client: RegistryClient, pusher: Pusher) -> None:
    """Any Warning header on push and pull answers uses code 299, agent '-' and a quoted text."""
    img = data.image()
    answers = [pusher.manifest(img, "w")]
    answers.append(client.get(f"/v2/{pusher.repo}/manifests/w", headers={"Accept": img.media_type}))
    answers.append(client.get(f"/v2/{pusher.repo}/blobs/{img.blobs[0].digest}"))
    seen = 0
    for resp in answers:
        for value in resp.raw.headers.getlist("Warning"):
            seen += 1
            check(_WARNING.match(value.strip()), f"{where(resp)} Warning", '299 - "text"', value)
            check(
                len(value.encode()) <= 4096,
                f"{where(resp)} Warning",
                "at most 4096 bytes",
                len(value),
            )
    if not seen:
        not_applicable("the registry sent no Warning headers")


@req("code-14")
def test_rate_limited_answers_name_toomanyrequests(
    client: RegistryClient, throttled_url: str
) -> None:
    """A 429 from a short burst of requests names TOOMANYREQUESTS and has Retry-After."""
    burst = RegistryClient(
        throttled_url, client.auth.username, client.auth.password, client.session.verify
    )
    try:
        limited = None
        for _ in range(40):
            resp = burst.get("/v2/")
            if resp.status_code == 429:
                limited = resp
                break
        if limited is None:
            not_applicable("no rate limit was hit by a burst of 40 requests")
        header(limited, "Retry-After")
        expect_code(limited, "TOOMANYREQUESTS")
    finally:
        burst.close()


@req("end-1")
def test_base_endpoint_head_matches_get(client: RegistryClient) -> None:
    """HEAD /v2/ answers the same status as GET, without a body."""
    get, head = client.get("/v2/"), client.head("/v2/")
    check_equal(head.status_code, get.status_code, f"{where(head)} status")
    check_equal(head.content, b"", f"{where(head)} body")
