"""Pull workflow: fetching blobs and manifests (spec.md#pull)."""

from __future__ import annotations

import pytest
import requests

from conformance.core import check, check_equal, not_applicable, skip_config
from wire import digest as digestlib
from wire import mediatypes as mt

from . import data
from .checks import Pusher, expect_code, expect_status, header, where
from .client import RegistryClient

req = pytest.mark.requirement
OCI_ACCEPT = ", ".join(
    [mt.IMAGE_MANIFEST, mt.IMAGE_INDEX, mt.DOCKER_MANIFEST_V2, mt.DOCKER_MANIFEST_LIST]
)


def _blob_url(seeded: dict[str, str]) -> str:
    return f"/v2/{seeded['repo']}/blobs/{seeded['blob']}"


def _manifest_url(seeded: dict[str, str], ref: str) -> str:
    return f"/v2/{seeded['repo']}/manifests/{seeded[ref]}"


@req("end-2")
def test_get_blob_returns_its_exact_bytes(client: RegistryClient, seeded: dict[str, str]) -> None:
    """A stored blob is served with 200 and bytes whose digest is the one requested."""
    resp = client.get(_blob_url(seeded))
    expect_status(resp, {200})
    algorithm = seeded["blob"].split(":", 1)[0]
    check_equal(
        digestlib.compute(resp.content, algorithm), seeded["blob"], f"{where(resp)} body digest"
    )


@req("end-2")
def test_head_blob_returns_200_without_body(client: RegistryClient, seeded: dict[str, str]) -> None:
    """HEAD of a stored blob answers 200 and sends no body."""
    resp = client.head(_blob_url(seeded))
    expect_status(resp, {200})
    check_equal(resp.content, b"", f"{where(resp)} body")


@req("end-2")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_unknown_blob_returns_404(
    client: RegistryClient, repo: str, seeded: dict[str, str], method: str
) -> None:
    """GET and HEAD of a blob that was never pushed answer 404."""
    resp = client.request(method, f"/v2/{seeded['repo']}/blobs/{data.unknown_digest()}")
    expect_status(resp, {404})


@req("code-1")
def test_unknown_blob_error_names_blob_unknown(
    client: RegistryClient, seeded: dict[str, str]
) -> None:
    """The 404 for an unknown blob names BLOB_UNKNOWN."""
    resp = client.get(f"/v2/{seeded['repo']}/blobs/{data.unknown_digest()}")
    expect_status(resp, {404})
    expect_code(resp, "BLOB_UNKNOWN")


@req("head-content-length")
@pytest.mark.parametrize("kind", ["blob", "manifest"])
def test_head_content_length_equals_size(
    client: RegistryClient, seeded: dict[str, str], kind: str
) -> None:
    """HEAD carries Content-Length equal to the size GET returns."""
    path = _blob_url(seeded) if kind == "blob" else _manifest_url(seeded, "manifest")
    headers = {"Accept": OCI_ACCEPT}
    size = len(client.get(path, headers=headers).content)
    resp = client.head(path, headers=headers)
    expect_status(resp, {200})
    check_equal(header(resp, "Content-Length"), str(size), f"{where(resp)} Content-Length")


@req("digest-header")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("kind", ["blob", "manifest"])
def test_pull_carries_docker_content_digest(
    client: RegistryClient, seeded: dict[str, str], kind: str, method: str
) -> None:
    """GET and HEAD of blobs and manifests send Docker-Content-Digest."""
    path = _blob_url(seeded) if kind == "blob" else _manifest_url(seeded, "tag")
    resp = client.request(method, path, headers={"Accept": OCI_ACCEPT})
    expect_status(resp, {200})
    header(resp, "Docker-Content-Digest")


@req("digest-header-value")
@pytest.mark.parametrize("kind", ["blob", "manifest-by-tag", "manifest-by-digest"])
def test_docker_content_digest_is_the_content_digest(
    client: RegistryClient, seeded: dict[str, str], kind: str
) -> None:
    """A Docker-Content-Digest header, when sent, names the digest of the content served."""
    expected = seeded["blob"] if kind == "blob" else seeded["manifest"]
    path = {
        "blob": _blob_url(seeded),
        "manifest-by-tag": _manifest_url(seeded, "tag"),
        "manifest-by-digest": _manifest_url(seeded, "manifest"),
    }[kind]
    resp = client.get(path, headers={"Accept": OCI_ACCEPT})
    expect_status(resp, {200})
    sent = resp.headers.get("Docker-Content-Digest")
    if sent is None:
        not_applicable("no Docker-Content-Digest header sent (checked under digest-header)")
    check_equal(sent, expected, f"{where(resp)} Docker-Content-Digest")


@req("end-3", "manifest-bytes-unchanged")
@pytest.mark.parametrize("ref", ["tag", "manifest"])
def test_get_manifest_returns_the_pushed_bytes(
    client: RegistryClient, seeded: dict[str, str], ref: str
) -> None:
    """A manifest fetched by tag or by digest is 200 and hashes to the pushed digest."""
    resp = client.get(_manifest_url(seeded, ref), headers={"Accept": OCI_ACCEPT})
    expect_status(resp, {200})
    check_equal(digestlib.compute(resp.content), seeded["manifest"], f"{where(resp)} body digest")


@req("end-3")
@pytest.mark.parametrize("ref", ["tag", "manifest"])
def test_head_manifest_returns_200(
    client: RegistryClient, seeded: dict[str, str], ref: str
) -> None:
    """HEAD of a manifest by tag or digest answers 200 with no body."""
    resp = client.head(_manifest_url(seeded, ref), headers={"Accept": OCI_ACCEPT})
    expect_status(resp, {200})
    check_equal(resp.content, b"", f"{where(resp)} body")


@req("manifest-content-type")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_manifest_content_type_is_its_media_type(
    client: RegistryClient, seeded: dict[str, str], method: str
) -> None:
    """The manifest's Content-Type equals the mediaType inside it."""
    body = client.get(_manifest_url(seeded, "manifest"), headers={"Accept": OCI_ACCEPT})
    expect_status(body, {200})
    media_type = body.json().get("mediaType")
    if media_type is None:
        not_applicable("the seeded manifest has no mediaType field")
    resp = client.request(method, _manifest_url(seeded, "manifest"), headers={"Accept": OCI_ACCEPT})
    check_equal(resp.headers.get("Content-Type"), media_type, f"{where(resp)} Content-Type")


@req("end-3")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("ref", ["tag", "digest"])
def test_unknown_manifest_returns_404(
    client: RegistryClient, seeded: dict[str, str], method: str, ref: str
) -> None:
    """A manifest reference that was never pushed answers 404."""
    reference = "never-pushed-tag" if ref == "tag" else data.unknown_digest()
    resp = client.request(
        method, f"/v2/{seeded['repo']}/manifests/{reference}", headers={"Accept": OCI_ACCEPT}
    )
    expect_status(resp, {404})


@req("code-7")
def test_unknown_manifest_error_names_manifest_unknown(
    client: RegistryClient, seeded: dict[str, str]
) -> None:
    """The 404 for an unknown manifest names MANIFEST_UNKNOWN."""
    resp = client.get(
        f"/v2/{seeded['repo']}/manifests/{data.unknown_digest()}", headers={"Accept": OCI_ACCEPT}
    )
    expect_status(resp, {404})
    expect_code(resp, "MANIFEST_UNKNOWN")


# -- Range requests (spec 1.1.1, RFC 9110 §14) --------------------------------------------------


@pytest.fixture
def big_blob(pusher: Pusher, seeded: dict[str, str]) -> data.Blob:
    """A 4 KiB blob for range requests (in the seeded repository)."""
    blob = data.Blob.random(4096)
    if pusher.repo != seeded["repo"]:
        skip_config("range checks push a blob, and the pull content was preloaded")
    pusher.blob(blob)
    return blob


def _ranged(client: RegistryClient, repo: str, blob: data.Blob, spec: str) -> requests.Response:
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": f"bytes={spec}"})
    if resp.status_code == 200:
        check_equal(resp.content, blob.data, f"{where(resp)} body (Range ignored)")
        not_applicable("the registry ignores Range and serves the whole blob (allowed)")
    return resp


@req("blob-range")
@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [("500-1499", 500, 1499), ("500-", 500, 4095), ("-500", 3596, 4095), ("2000-5000", 2000, 4095)],
)
def test_blob_range_returns_206_with_those_bytes(
    client: RegistryClient,
    pusher: Pusher,
    big_blob: data.Blob,
    spec: str,
    first: int,
    last: int,
) -> None:
    """A satisfiable byte range is answered 206 with Content-Range and exactly those bytes."""
    resp = _ranged(client, pusher.repo, big_blob, spec)
    expect_status(resp, {206})
    check_equal(
        header(resp, "Content-Range"), f"bytes {first}-{last}/4096", f"{where(resp)} Content-Range"
    )
    check(
        resp.content == big_blob.data[first : last + 1],
        f"{where(resp)} body",
        f"bytes {first}-{last}",
        f"{len(resp.content)} bytes that differ",
    )


@req("blob-range")
@pytest.mark.parametrize("spec", ["5000-10000", "4096-"])
def test_unsatisfiable_blob_range_returns_416(
    client: RegistryClient,
    pusher: Pusher,
    big_blob: data.Blob,
    spec: str,
) -> None:
    """A range starting beyond the blob's end is answered 416."""
    resp = _ranged(client, pusher.repo, big_blob, spec)
    expect_status(resp, {416})
