"""Push workflow: uploading blobs (monolithic, POST-then-PUT, chunked), mounts and manifests
(spec.md#push)."""

from __future__ import annotations

import json
import os

import pytest
import requests

from conformance.core import check, check_equal, not_applicable, skip_config
from conformance.plugin import ConformanceState
from wire import digest as digestlib
from wire import mediatypes as mt

from . import data
from .checks import Pusher, error_codes, expect_4xx, expect_code, expect_status, header, where
from .client import RegistryClient

req = pytest.mark.requirement


def _with_query(location: str, query: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}{query}"


def _start(client: RegistryClient, repo: str, query: str = "") -> requests.Response:
    resp = client.post(f"/v2/{repo}/blobs/uploads/{query}")
    expect_status(resp, {202}, "upload session opened")
    header(resp, "Location")
    return resp


def _patch(client: RegistryClient, location: str, chunk: bytes, start: int) -> requests.Response:
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{start}-{start + len(chunk) - 1}",
    }
    return client.patch(location, data=chunk, headers=headers)


def _check_blob(client: RegistryClient, repo: str, blob: data.Blob) -> None:
    resp = client.get(f"/v2/{repo}/blobs/{blob.digest}")
    expect_status(resp, {200}, "pushed blob served")
    check(
        resp.content == blob.data,
        f"{where(resp)} body",
        f"the {blob.size} pushed bytes",
        f"{len(resp.content)} other bytes",
    )


# -- POST then PUT (end-4a, end-6) -----------------------------------------------------------


@req("end-4a")
def test_post_opens_upload_session_with_location(client: RegistryClient, repo: str) -> None:
    """POST to the uploads endpoint answers 202 with a Location for the content."""
    resp = client.post(f"/v2/{repo}/blobs/uploads/")
    expect_status(resp, {202})
    header(resp, "Location")


@req("end-6")
def test_put_with_digest_completes_upload(client: RegistryClient, pusher: Pusher) -> None:
    """PUT of the content with ?digest= closes the session with 201 and the blob's Location."""
    blob = data.Blob.random(2048)
    location = _start(client, pusher.repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={blob.digest}"),
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    blob_location = header(resp, "Location")
    got = client.get(blob_location)
    expect_status(got, {200}, "GET of the blob Location")
    check(
        got.content == blob.data,
        f"{where(got)} body",
        "the pushed bytes",
        f"{len(got.content)} bytes",
    )


@req("end-4b")
def test_single_post_with_digest_stores_blob(client: RegistryClient, pusher: Pusher) -> None:
    """POST with ?digest= and the body stores the blob (201), or opens a session (202)."""
    blob = data.Blob.random(1024)
    resp = client.post(
        f"/v2/{pusher.repo}/blobs/uploads/?digest={blob.digest}",
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if resp.status_code == 202:
        not_applicable("single-request upload not offered (202 session instead)")
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    header(resp, "Location")
    _check_blob(client, pusher.repo, blob)


@req("end-4c")
def test_post_with_digest_algorithm_accepts_sha512_upload(
    client: RegistryClient, pusher: Pusher
) -> None:
    """POST with ?digest-algorithm=sha512 opens a session that completes with a sha512 digest."""
    blob = data.Blob.random(1024, algorithm="sha512")
    resp = client.post(f"/v2/{pusher.repo}/blobs/uploads/?digest-algorithm=sha512")
    expect_status(resp, {202})
    done = client.put(
        _with_query(header(resp, "Location"), f"digest={blob.digest}"),
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    expect_status(done, {201})
    pusher.blobs.append(blob.digest)
    _check_blob(client, pusher.repo, blob)


def _wrong_digest_put(client: RegistryClient, repo: str) -> tuple[requests.Response, str]:
    blob = data.Blob.random(512)
    wrong = data.unknown_digest()
    location = _start(client, repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={wrong}"),
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    return resp, wrong


@req("end-6")
def test_put_with_wrong_digest_is_refused_with_400(client: RegistryClient, repo: str) -> None:
    """Closing an upload with a digest that is not the content's is refused with 400."""
    resp, wrong = _wrong_digest_put(client, repo)
    expect_status(resp, {400})
    head = client.head(f"/v2/{repo}/blobs/{wrong}")
    expect_status(head, {404}, "nothing stored under the wrong digest")


@req("code-4")
def test_wrong_digest_error_names_digest_invalid(client: RegistryClient, repo: str) -> None:
    """The refusal of content whose digest differs names DIGEST_INVALID."""
    resp, _ = _wrong_digest_put(client, repo)
    expect_4xx(resp, {400})
    expect_code(resp, "DIGEST_INVALID")


@req("no-5xx-for-bad-input")
@pytest.mark.parametrize("digest", ["sha256:xyz", "sha256:" + "A" * 64, "md5:abcd", "nodigest", ""])
def test_put_with_malformed_digest_is_a_client_error(
    client: RegistryClient, repo: str, digest: str
) -> None:
    """A malformed digest on the closing PUT is refused with a 4xx."""
    location = _start(client, repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={digest}"),
        data=b"abc",
        headers={"Content-Type": "application/octet-stream"},
    )
    expect_4xx(resp, {400})


# -- chunks (end-5, end-13) ---------------------------------------------------------------------


@req("end-5")
def test_chunks_in_order_are_accepted_with_range(client: RegistryClient, pusher: Pusher) -> None:
    """Each in-order chunk is answered 202 with Location and Range covering all bytes so far."""
    blob = data.Blob.random(3 * 1024)
    location = _start(client, pusher.repo).headers["Location"]
    for start in (0, 1024, 2048):
        resp = _patch(client, location, blob.data[start : start + 1024], start)
        expect_status(resp, {202})
        check_equal(header(resp, "Range"), f"0-{start + 1023}", f"{where(resp)} Range")
        location = header(resp, "Location")
    done = client.put(_with_query(location, f"digest={blob.digest}"))
    expect_status(done, {201}, "closing PUT")
    pusher.blobs.append(blob.digest)
    _check_blob(client, pusher.repo, blob)


@req("end-13")
def test_upload_status_reports_range_received(client: RegistryClient, repo: str) -> None:
    """GET on an upload session answers 204 with Location and the Range received."""
    location = _start(client, repo).headers["Location"]
    chunk = os.urandom(1000)
    location = header(_patch(client, location, chunk, 0), "Location")
    resp = client.get(location)
    expect_status(resp, {204})
    header(resp, "Location")
    check_equal(header(resp, "Range"), "0-999", f"{where(resp)} Range")


@req("upload-chunk-order")
def test_out_of_order_chunk_is_refused_with_416(client: RegistryClient, repo: str) -> None:
    """A chunk that skips bytes is answered 416 and the session keeps what it had."""
    location = _start(client, repo).headers["Location"]
    location = header(_patch(client, location, os.urandom(1000), 0), "Location")
    resp = _patch(client, location, os.urandom(1000), 2000)
    expect_status(resp, {416})
    status = client.get(location)
    if status.status_code == 204:
        check_equal(
            status.headers.get("Range"), "0-999", f"{where(status)} Range after the refused chunk"
        )


@req("code-2")
def test_out_of_order_chunk_error_names_blob_upload_invalid(
    client: RegistryClient, repo: str
) -> None:
    """The refusal of an out-of-order chunk names BLOB_UPLOAD_INVALID."""
    location = _start(client, repo).headers["Location"]
    location = header(_patch(client, location, os.urandom(100), 0), "Location")
    resp = _patch(client, location, os.urandom(100), 500)
    expect_4xx(resp, {416})
    expect_code(resp, "BLOB_UPLOAD_INVALID")


@req("code-10")
def test_chunk_shorter_than_its_range_names_size_invalid(client: RegistryClient, repo: str) -> None:
    """A chunk whose body is shorter than its Content-Range is refused, naming SIZE_INVALID."""
    location = _start(client, repo).headers["Location"]
    headers = {"Content-Type": "application/octet-stream", "Content-Range": "0-1999"}
    resp = client.patch(location, data=os.urandom(1000), headers=headers)
    expect_4xx(resp, {400, 416})
    expect_code(resp, "SIZE_INVALID")


@req("upload-chunk-last-in-put")
def test_closing_put_may_carry_the_last_chunk(client: RegistryClient, pusher: Pusher) -> None:
    """The closing PUT can carry the last chunk; the blob is the concatenation."""
    blob = data.Blob.random(2000)
    location = _start(client, pusher.repo).headers["Location"]
    location = header(_patch(client, location, blob.data[:1000], 0), "Location")
    headers = {"Content-Type": "application/octet-stream", "Content-Range": "1000-1999"}
    resp = client.put(
        _with_query(location, f"digest={blob.digest}"), data=blob.data[1000:], headers=headers
    )
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    _check_blob(client, pusher.repo, blob)


@req("upload-streamed")
def test_streamed_patch_then_put_stores_blob(client: RegistryClient, pusher: Pusher) -> None:
    """A PATCH without Content-Range carrying the whole blob, then an empty PUT, stores it."""
    blob = data.Blob.random(5000)
    location = _start(client, pusher.repo).headers["Location"]
    resp = client.patch(
        location, data=blob.data, headers={"Content-Type": "application/octet-stream"}
    )
    if resp.status_code in (400, 405, 415, 416):
        not_applicable(f"streamed uploads not offered ({resp.status_code})")
    expect_status(resp, {202})
    done = client.put(_with_query(header(resp, "Location"), f"digest={blob.digest}"))
    expect_status(done, {201})
    pusher.blobs.append(blob.digest)
    _check_blob(client, pusher.repo, blob)


@req("end-13")
def test_status_of_unknown_upload_returns_404(client: RegistryClient, repo: str) -> None:
    """GET of an upload session that does not exist answers 404."""
    _start(client, repo)
    resp = client.get(f"/v2/{repo}/blobs/uploads/{'0' * 32}")
    expect_status(resp, {404})


@req("code-3")
def test_unknown_upload_error_names_blob_upload_unknown(client: RegistryClient, repo: str) -> None:
    """The 404 for an upload session that does not exist names BLOB_UPLOAD_UNKNOWN."""
    _start(client, repo)
    resp = client.get(f"/v2/{repo}/blobs/uploads/{'0' * 32}")
    expect_4xx(resp, {404})
    expect_code(resp, "BLOB_UPLOAD_UNKNOWN")


@req("end-5")
def test_patch_to_unknown_upload_returns_404(client: RegistryClient, repo: str) -> None:
    """PATCH to an upload session that does not exist answers 404."""
    _start(client, repo)
    resp = _patch(client, f"/v2/{repo}/blobs/uploads/{'f' * 32}", b"abc", 0)
    expect_status(resp, {404})


@req("end-14")
def test_cancelled_upload_is_gone(
    client: RegistryClient, repo: str, conformance: ConformanceState
) -> None:
    """DELETE on an upload session cancels it with 204; the session then answers 404."""
    if not conformance.option("--api-upload-cancel"):
        skip_config("upload cancellation checks are disabled (--api-upload-cancel)")
    location = _start(client, repo).headers["Location"]
    location = header(_patch(client, location, os.urandom(100), 0), "Location")
    resp = client.delete(location)
    expect_status(resp, {204})
    expect_status(client.get(location), {404}, "status of the cancelled session")


@req("upload-empty-blob")
@pytest.mark.parametrize("content", [b"", b"{}"], ids=["empty", "empty-json"])
def test_empty_blobs_can_be_pushed_and_pulled(
    client: RegistryClient, pusher: Pusher, content: bytes
) -> None:
    """The zero-length blob and the '{}' blob upload and are served back."""
    blob = data.Blob.of(content)
    location = _start(client, pusher.repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={blob.digest}"),
        data=content,
        headers={"Content-Type": "application/octet-stream"},
    )
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    head = client.head(f"/v2/{pusher.repo}/blobs/{blob.digest}")
    expect_status(head, {200})
    _check_blob(client, pusher.repo, blob)


@req("digest-algorithms")
def test_sha512_blob_is_stored_under_its_sha512_digest(
    client: RegistryClient, pusher: Pusher
) -> None:
    """A blob pushed with a sha512 digest is served under that digest."""
    blob = data.Blob.random(1500, algorithm="sha512")
    location = _start(client, pusher.repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={blob.digest}"),
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if resp.status_code == 400 and "DIGEST_INVALID" in (error_codes(resp) or []):
        not_applicable("sha512 digests not supported (400 DIGEST_INVALID)")
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    _check_blob(client, pusher.repo, blob)


@req("digest-header-value")
def test_sha512_blob_digest_headers_name_the_sha512_digest(
    client: RegistryClient, pusher: Pusher
) -> None:
    """Digest headers of a sha512 blob (PUT answer, HEAD) name the sha512 digest used."""
    blob = data.Blob.random(1500, algorithm="sha512")
    location = _start(client, pusher.repo).headers["Location"]
    resp = client.put(
        _with_query(location, f"digest={blob.digest}"),
        data=blob.data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if resp.status_code == 400:
        not_applicable("sha512 digests not supported")
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    for answer in (resp, client.head(f"/v2/{pusher.repo}/blobs/{blob.digest}")):
        sent = answer.headers.get("Docker-Content-Digest")
        if sent is not None:
            check_equal(sent, blob.digest, f"{where(answer)} Docker-Content-Digest")


# -- mounts (end-11) ----------------------------------------------------------------------------


@req("end-11")
def test_mount_from_other_repository(
    client: RegistryClient, pusher: Pusher, other_pusher: Pusher
) -> None:
    """A mount with 'from' answers 201 with Location and the blob is served, or 202 (no mount)."""
    blob = data.Blob.random(800)
    other_pusher.blob(blob)
    resp = client.post(
        f"/v2/{pusher.repo}/blobs/uploads/?mount={blob.digest}&from={other_pusher.repo}"
    )
    if resp.status_code == 202:
        header(resp, "Location")
        not_applicable("the registry did not mount (202 session instead)")
    expect_status(resp, {201})
    pusher.blobs.append(blob.digest)
    header(resp, "Location")
    _check_blob(client, pusher.repo, blob)


@req("mount-missing-not-created")
def test_mount_of_missing_blob_is_never_201(
    client: RegistryClient, repo: str, other_repo: str
) -> None:
    """Mounting a digest nobody pushed opens a session (202) or fails, never answers 201."""
    resp = client.post(f"/v2/{repo}/blobs/uploads/?mount={data.unknown_digest()}&from={other_repo}")
    check(
        resp.status_code != 201 and resp.status_code < 500,
        where(resp),
        "202 or a 4xx",
        resp.status_code,
    )


@req("mount-anonymous")
def test_mount_without_from(
    client: RegistryClient, pusher: Pusher, other_pusher: Pusher, conformance: ConformanceState
) -> None:
    """A mount without 'from' answers 201 (found by digest) or 202 (a session)."""
    blob = data.Blob.random(700)
    other_pusher.blob(blob)
    resp = client.post(f"/v2/{pusher.repo}/blobs/uploads/?mount={blob.digest}")
    expected = conformance.option("--automatic-crossmount")
    allowed = {201, 202} if expected is None else ({201} if expected else {202})
    expect_status(resp, allowed, "anonymous mount")
    header(resp, "Location")
    if resp.status_code == 201:
        pusher.blobs.append(blob.digest)
        _check_blob(client, pusher.repo, blob)


# -- manifests (end-7a, end-7b) -----------------------------------------------------------------


def _put_manifest(
    client: RegistryClient, repo: str, ref: str, body: bytes, media_type: str
) -> requests.Response:
    return client.put(
        f"/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": media_type}
    )


def _push_blobs(pusher: Pusher, manifest: data.Manifest) -> None:
    for blob in manifest.blobs:
        pusher.blob(blob)


@req("end-7a")
@pytest.mark.parametrize("by", ["tag", "digest"])
def test_put_manifest_returns_201_with_location(
    client: RegistryClient, pusher: Pusher, by: str
) -> None:
    """A manifest PUT by tag or by digest answers 201 with a Location that serves it."""
    img = data.image()
    _push_blobs(pusher, img)
    ref = "v1" if by == "tag" else img.digest
    resp = _put_manifest(client, pusher.repo, ref, img.body, img.media_type)
    expect_status(resp, {201})
    pusher.manifests.append(img.digest)
    got = client.get(header(resp, "Location"), headers={"Accept": mt.IMAGE_MANIFEST})
    expect_status(got, {200}, "GET of the manifest Location")
    check(got.content == img.body, f"{where(got)} body", "the pushed bytes", got.text[:200])


@req("manifest-digest-header")
@pytest.mark.parametrize("by", ["tag", "digest"])
def test_put_manifest_returns_its_digest(client: RegistryClient, pusher: Pusher, by: str) -> None:
    """The manifest PUT answer's Docker-Content-Digest is the digest of the pushed bytes."""
    img = data.image()
    _push_blobs(pusher, img)
    resp = _put_manifest(
        client, pusher.repo, "latest" if by == "tag" else img.digest, img.body, img.media_type
    )
    expect_status(resp, {201})
    pusher.manifests.append(img.digest)
    check_equal(
        header(resp, "Docker-Content-Digest"), img.digest, f"{where(resp)} Docker-Content-Digest"
    )


@req("manifest-digest-mismatch")
def test_manifest_pushed_under_wrong_digest_is_refused(
    client: RegistryClient, pusher: Pusher
) -> None:
    """A manifest PUT to a digest that is not its own is refused with 400 and not stored."""
    img = data.image()
    _push_blobs(pusher, img)
    wrong = data.unknown_digest()
    resp = _put_manifest(client, pusher.repo, wrong, img.body, img.media_type)
    expect_status(resp, {400})
    expect_status(
        client.head(f"/v2/{pusher.repo}/manifests/{wrong}"), {404}, "HEAD of the wrong digest"
    )


def _sparse_push(client: RegistryClient, pusher: Pusher) -> requests.Response:
    img = data.image()
    pusher.blob(img.blobs[0])  # the config, but not the layer
    resp = _put_manifest(client, pusher.repo, img.digest, img.body, img.media_type)
    if resp.status_code == 201:
        pusher.manifests.append(img.digest)
        not_applicable("the registry accepts manifests with missing blobs (sparse content)")
    return resp


@req("manifest-blob-unknown")
def test_manifest_with_missing_blob_is_refused_or_accepted(
    client: RegistryClient, pusher: Pusher
) -> None:
    """A manifest naming a layer nobody pushed is refused with 400 (or accepted as sparse)."""
    expect_status(_sparse_push(client, pusher), {400})


@req("code-5")
def test_missing_blob_error_names_manifest_blob_unknown(
    client: RegistryClient, pusher: Pusher
) -> None:
    """The refusal of a manifest naming a missing layer names MANIFEST_BLOB_UNKNOWN."""
    resp = _sparse_push(client, pusher)
    expect_4xx(resp, {400})
    expect_code(resp, "MANIFEST_BLOB_UNKNOWN")


@req("code-6")
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion": 2}',
        b'{"schemaVersion": 2, "config": 5, "layers": []}',
    ],
    ids=["not-json", "array", "no-config", "bad-config"],
)
def test_malformed_manifest_names_manifest_invalid(
    client: RegistryClient, repo: str, body: bytes
) -> None:
    """A manifest that does not parse as one is refused, naming MANIFEST_INVALID."""
    resp = _put_manifest(client, repo, "bad", body, mt.IMAGE_MANIFEST)
    expect_4xx(resp, {400})
    expect_code(resp, "MANIFEST_INVALID")


@req("no-5xx-for-bad-input")
@pytest.mark.parametrize(
    ("ref", "body", "media_type"),
    [
        ("sha256:baddigeststring", b"{}", mt.IMAGE_MANIFEST),
        ("t1", b"\xff\xfe garbage", mt.IMAGE_MANIFEST),
        ("t1", b'{"schemaVersion": 2, "config": {}, "layers": [{}]}', mt.IMAGE_MANIFEST),
        ("t1", b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:zz"}]}', mt.IMAGE_INDEX),
        ("t1", b'{"schemaVersion": 2}', "application/x-unknown"),
        ("t1", b'{"schemaVersion": 2}', ""),
    ],
    ids=["bad-digest-ref", "binary", "empty-descriptors", "bad-index", "unknown-type", "no-type"],
)
def test_bad_manifest_push_is_a_client_error(
    client: RegistryClient, repo: str, ref: str, body: bytes, media_type: str
) -> None:
    """Malformed manifest pushes are refused with a 4xx, never a 5xx."""
    resp = _put_manifest(client, repo, ref, body, media_type)
    expect_4xx(resp, {400})


@req("manifest-bytes-unchanged")
def test_unknown_fields_are_kept_verbatim(client: RegistryClient, pusher: Pusher) -> None:
    """A manifest with unknown fields and odd whitespace is accepted and served byte for byte."""
    img = data.image(extra_fields={"x-conformance": {"nested": [1, 2, 3]}}, annotations={"a": "b"})
    _push_blobs(pusher, img)
    body = img.body.replace(b"\n", b"\n   ")
    mf = data.Manifest(body, img.media_type)
    resp = _put_manifest(client, pusher.repo, mf.digest, body, mf.media_type)
    expect_status(resp, {201})
    pusher.manifests.append(mf.digest)
    got = client.get(
        f"/v2/{pusher.repo}/manifests/{mf.digest}", headers={"Accept": mt.IMAGE_MANIFEST}
    )
    check(got.content == body, f"{where(got)} body", "the pushed bytes exactly", got.text[:300])


@req("end-7a")
def test_image_index_and_nested_index_can_be_pushed(client: RegistryClient, pusher: Pusher) -> None:
    """An index of two images, and an index of that index, are accepted and served."""
    inner = data.index([data.image(), data.image()])
    outer = data.index([inner])
    resp = pusher.manifest(outer, "multi")
    expect_status(resp, {201})
    got = client.get(f"/v2/{pusher.repo}/manifests/multi", headers={"Accept": mt.IMAGE_INDEX})
    expect_status(got, {200})
    check(got.content == outer.body, f"{where(got)} body", "the pushed index", got.text[:300])
    check_equal(got.headers.get("Content-Type"), mt.IMAGE_INDEX, f"{where(got)} Content-Type")


@req("subject-missing-accepted")
def test_manifest_with_missing_subject_is_accepted(client: RegistryClient, pusher: Pusher) -> None:
    """A manifest whose subject was never pushed is accepted."""
    ghost = {"mediaType": mt.IMAGE_MANIFEST, "digest": data.unknown_digest(), "size": 1234}
    art = data.artifact("application/vnd.conformance.sig", subject=ghost)
    _push_blobs(pusher, art)
    resp = _put_manifest(client, pusher.repo, art.digest, art.body, art.media_type)
    expect_status(resp, {201})
    pusher.manifests.append(art.digest)


@req("subject-header")
def test_put_with_subject_returns_oci_subject(
    client: RegistryClient, pusher: Pusher, referrers_enabled: None
) -> None:
    """A PUT of a manifest with a subject answers OCI-Subject with the subject's digest."""
    subject = data.image()
    pusher.manifest(subject)
    art = data.artifact("application/vnd.conformance.sbom", subject=subject)
    _push_blobs(pusher, art)
    resp = _put_manifest(client, pusher.repo, art.digest, art.body, art.media_type)
    expect_status(resp, {201})
    pusher.manifests.append(art.digest)
    check_equal(resp.headers.get("OCI-Subject"), subject.digest, f"{where(resp)} OCI-Subject")


@req("manifest-large")
def test_four_megabyte_manifest_is_accepted(client: RegistryClient, pusher: Pusher) -> None:
    """A manifest of 4 MB (4,000,000 bytes) is accepted."""
    img = data.image()
    _push_blobs(pusher, img)
    doc = img.document
    doc["annotations"] = {"pad": ""}
    base = len(json.dumps(doc).encode())
    doc["annotations"]["pad"] = "x" * (4_000_000 - base)
    body = json.dumps(doc).encode()
    mf = data.Manifest(body, img.media_type)
    resp = _put_manifest(client, pusher.repo, mf.digest, body, mf.media_type)
    expect_status(resp, {201})
    pusher.manifests.append(mf.digest)


@req("manifest-large")
def test_oversized_manifest_is_refused_with_413(client: RegistryClient, pusher: Pusher) -> None:
    """A 16 MiB manifest, when refused for its size, is refused with 413."""
    img = data.image()
    _push_blobs(pusher, img)
    doc = img.document
    doc["annotations"] = {"pad": "x" * (16 * 1024 * 1024)}
    body = json.dumps(doc).encode()
    resp = _put_manifest(client, pusher.repo, digestlib.compute(body), body, img.media_type)
    if resp.status_code == 201:
        pusher.manifests.append(digestlib.compute(body))
        not_applicable("the registry accepts 16 MiB manifests")
    expect_4xx(resp, {413})
    expect_status(resp, {413}, "manifest too large")


@req("tag-grammar")
@pytest.mark.parametrize(
    "tag", ["_" + "a" * 127, "A.b-c_9", "0"], ids=["128-chars", "mixed", "digit"]
)
def test_valid_tags_are_accepted(client: RegistryClient, pusher: Pusher, tag: str) -> None:
    """Tags inside the grammar, up to 128 characters, are accepted and resolvable."""
    img = data.image()
    pusher.manifest(img, tag)
    resp = client.head(f"/v2/{pusher.repo}/manifests/{tag}", headers={"Accept": mt.IMAGE_MANIFEST})
    expect_status(resp, {200})


@req("tag-grammar", "no-5xx-for-bad-input")
@pytest.mark.parametrize(
    "tag",
    ["a" * 129, "-leading-dash", ".dot", "has+plus"],
    ids=["129-chars", "dash", "dot", "plus"],
)
def test_invalid_tags_are_refused(client: RegistryClient, pusher: Pusher, tag: str) -> None:
    """A manifest PUT under a tag outside the grammar is refused with a 4xx."""
    img = data.image()
    _push_blobs(pusher, img)
    resp = _put_manifest(client, pusher.repo, tag, img.body, img.media_type)
    if resp.status_code == 201:
        pusher.manifests.append(img.digest)
    expect_4xx(resp, {400})


@req("end-7b")
def test_put_with_tag_parameters_applies_every_tag(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """PUT by digest with ?tag=a&tag=b creates both tags and echoes each in OCI-Tag."""
    if not conformance.option("--api-tag-param"):
        skip_config("tag-parameter checks are disabled (--api-tag-param)")
    img = data.image()
    _push_blobs(pusher, img)
    resp = _put_manifest(
        client, pusher.repo, f"{img.digest}?tag=tp1&tag=tp2", img.body, img.media_type
    )
    expect_status(resp, {201})
    pusher.manifests.append(img.digest)
    echoed = [t.strip() for v in resp.raw.headers.getlist("OCI-Tag") for t in v.split(",")]
    if not echoed:
        not_applicable("the registry ignores ?tag= (no OCI-Tag header)")
    check_equal(sorted(echoed), ["tp1", "tp2"], f"{where(resp)} OCI-Tag")
    for tag in ("tp1", "tp2"):
        got = client.head(
            f"/v2/{pusher.repo}/manifests/{tag}", headers={"Accept": mt.IMAGE_MANIFEST}
        )
        expect_status(got, {200}, f"tag {tag} created")


@req("digest-algorithms")
def test_sha512_manifest_can_be_pushed_by_digest(client: RegistryClient, pusher: Pusher) -> None:
    """A manifest pushed under its sha512 digest is served under that digest."""
    img = data.image()
    _push_blobs(pusher, img)
    digest = digestlib.compute(img.body, "sha512")
    resp = _put_manifest(client, pusher.repo, digest, img.body, img.media_type)
    if resp.status_code == 400:
        not_applicable("sha512 manifest digests not supported (400)")
    expect_status(resp, {201})
    pusher.manifests.append(digest)
    got = client.get(f"/v2/{pusher.repo}/manifests/{digest}", headers={"Accept": mt.IMAGE_MANIFEST})
    expect_status(got, {200})
    check(got.content == img.body, f"{where(got)} body", "the pushed bytes", got.text[:200])
