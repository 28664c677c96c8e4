"""Content discovery workflow: listing tags and referrers (spec.md#content-discovery)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conformance.core import check, check_equal, not_applicable
from wire import mediatypes as mt

from . import data
from .checks import Pusher, expect_4xx, expect_code, expect_status, json_body, where
from .client import RegistryClient

req = pytest.mark.requirement
TAGS = ["b2", "a1", "Zed", "c10", "c9", "a10", "latest"]
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@pytest.fixture
def tagged(pusher: Pusher) -> list[str]:
    """A repository holding one image under the tags of :data:`TAGS`."""
    img = data.image()
    pusher.manifest(img, TAGS[0])
    for tag in TAGS[1:]:
        pusher.manifest(img, tag)
    return TAGS


def _tags(client: RegistryClient, path: str) -> tuple[list[str], str | None]:
    resp = client.get(path)
    expect_status(resp, {200})
    doc = json_body(resp)
    check(
        isinstance(doc, dict) and isinstance(doc.get("tags"), list),
        where(resp),
        "{name, tags[]}",
        doc,
    )
    link = resp.headers.get("Link")
    match = _LINK.search(link) if link else None
    return list(doc["tags"]), (match.group(1) if match else None)


@req("end-8a")
def test_tag_list_returns_name_and_every_tag(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """The tag list answers 200 with the repository's name and all its tags."""
    resp = client.get(f"/v2/{pusher.repo}/tags/list")
    expect_status(resp, {200})
    doc = json_body(resp)
    check_equal(doc.get("name"), pusher.repo, f"{where(resp)} body.name")
    check(
        set(tagged) <= set(doc.get("tags") or []),
        f"{where(resp)} body.tags",
        f"all of {sorted(tagged)}",
        doc.get("tags"),
    )


@req("tags-lexical")
def test_tags_are_listed_in_lexical_order(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """Tags come back sorted (lexical, or ASCII byte order)."""
    tags, _ = _tags(client, f"/v2/{pusher.repo}/tags/list")
    ordered = tags in (sorted(tags), sorted(tags, key=str.lower))
    check(ordered, f"GET /v2/{pusher.repo}/tags/list body.tags", "lexical or ASCII order", tags)


@req("end-8b", "tags-n")
def test_n_limits_the_number_of_tags(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """With n=2 exactly two tags come back, as more remain."""
    tags, link = _tags(client, f"/v2/{pusher.repo}/tags/list?n=2")
    check(
        len(tags) == 2 or (len(tags) < 2 and link),
        f"GET /v2/{pusher.repo}/tags/list?n=2 body.tags",
        "2 tags",
        tags,
    )


@req("tags-n-zero")
def test_n_zero_returns_no_tags_and_no_link(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """With n=0 the list is empty and no Link is sent."""
    resp = client.get(f"/v2/{pusher.repo}/tags/list?n=0")
    expect_status(resp, {200})
    check_equal(json_body(resp).get("tags") or [], [], f"{where(resp)} body.tags")
    check_equal(resp.headers.get("Link"), None, f"{where(resp)} Link")


@req("tags-last")
def test_last_continues_strictly_after_that_tag(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """With last=<tag> every listed tag sorts after it, and the ones after it are all there."""
    full, _ = _tags(client, f"/v2/{pusher.repo}/tags/list")
    pivot = full[len(full) // 2]
    after, _ = _tags(client, f"/v2/{pusher.repo}/tags/list?last={pivot}")
    check_equal(
        after,
        full[full.index(pivot) + 1 :],
        f"GET /v2/{pusher.repo}/tags/list?last={pivot} body.tags",
    )


@req("tags-link")
def test_link_pages_through_all_tags(
    client: RegistryClient, pusher: Pusher, tagged: list[str]
) -> None:
    """Following Link rel=next with n=2 visits every tag once, in order, then stops."""
    full, _ = _tags(client, f"/v2/{pusher.repo}/tags/list")
    seen: list[str] = []
    path: str | None = f"/v2/{pusher.repo}/tags/list?n=2"
    for _ in range(len(full) + 2):
        if path is None:
            break
        page, path = _tags(client, path)
        check(len(page) <= 2, "tags page", "at most n=2 tags", page)
        if path is not None:
            check(page != [], "tags page with Link", "a non-empty page", page)
            query = parse_qs(urlparse(path).query)
            check("n" in query or "last" in query, "Link target", "n/last parameters", path)
        seen += page
    check_equal(seen, full, f"tags collected through Link from /v2/{pusher.repo}/tags/list?n=2")


@req("code-9")
def test_tags_of_unknown_repository_name_name_unknown(client: RegistryClient, repo: str) -> None:
    """Listing tags of a repository nobody pushed to answers 404 NAME_UNKNOWN (or an empty 200)."""
    resp = client.get(f"/v2/{repo}-never/tags/list")
    if resp.status_code == 200:
        not_applicable("the registry lists unknown repositories as empty (allowed)")
    expect_status(resp, {404})
    expect_code(resp, "NAME_UNKNOWN")


# -- referrers (end-12a/b) ------------------------------------------------------------------------

SIG, SBOM = "application/vnd.conformance.signature", "application/vnd.conformance.sbom"


@pytest.fixture
def referred(pusher: Pusher, referrers_enabled: None) -> dict[str, data.Manifest]:
    """A subject image with two artifacts, an image and an index referring to it."""
    subject = data.image()
    pusher.manifest(subject)
    made = {
        "subject": subject,
        "sig": data.artifact(SIG, subject=subject, annotations={"org.example.kind": "sig"}),
        "sbom": data.artifact(SBOM, subject=subject),
        "image": data.image(subject=subject),
        "index": data.index([data.image()], subject=subject, annotations={"i": "1"}),
    }
    for key in ("sig", "sbom", "image", "index"):
        pusher.manifest(made[key])
    return made


def _referrers(
    client: RegistryClient, repo: str, digest: str, query: str = ""
) -> tuple[requests.Response, list[Any]]:
    resp = client.get(f"/v2/{repo}/referrers/{digest}{query}")
    expect_status(resp, {200})
    check_equal(
        resp.headers.get("Content-Type", "").split(";")[0],
        mt.IMAGE_INDEX,
        f"{where(resp)} Content-Type",
    )
    doc = json_body(resp)
    check(isinstance(doc.get("manifests"), list), f"{where(resp)} body.manifests", "an array", doc)
    return resp, doc["manifests"]


@req("end-12a")
def test_referrers_lists_every_manifest_with_that_subject(
    client: RegistryClient, pusher: Pusher, referred: dict[str, data.Manifest]
) -> None:
    """The referrers API lists every manifest whose subject is the digest, with digest and size."""
    _, found = _referrers(client, pusher.repo, referred["subject"].digest)
    by_digest = {d.get("digest"): d for d in found}
    for key in ("sig", "sbom", "image", "index"):
        m = referred[key]
        check(m.digest in by_digest, "referrers[].digest", f"{key} {m.digest}", sorted(by_digest))
        check_equal(by_digest[m.digest].get("size"), len(m.body), f"referrers[{m.digest}].size")
        check_equal(
            by_digest[m.digest].get("mediaType"), m.media_type, f"referrers[{m.digest}].mediaType"
        )
    check_equal(len(found), 4, "number of referrers")


@req("end-12a")
def test_referrers_of_unknown_subject_is_an_empty_index(
    client: RegistryClient, pusher: Pusher, referred: dict[str, data.Manifest]
) -> None:
    """A subject with no referrers yields 200 and an empty index, never 404."""
    _, found = _referrers(client, pusher.repo, data.unknown_digest())
    check_equal(found, [], "referrers of an unknown digest")


@req("referrers-descriptors")
def test_referrer_descriptors_carry_artifact_type_and_annotations(
    client: RegistryClient, pusher: Pusher, referred: dict[str, data.Manifest]
) -> None:
    """Descriptors carry artifactType (config type for plain images) and the annotations."""
    _, found = _referrers(client, pusher.repo, referred["subject"].digest)
    by_digest = {d.get("digest"): d for d in found}
    expected_types = {"sig": SIG, "sbom": SBOM, "image": mt.IMAGE_CONFIG}
    for key, artifact_type in expected_types.items():
        desc = by_digest.get(referred[key].digest, {})
        check_equal(desc.get("artifactType"), artifact_type, f"referrers[{key}].artifactType")
    sig = by_digest.get(referred["sig"].digest, {})
    check_equal(sig.get("annotations"), {"org.example.kind": "sig"}, "referrers[sig].annotations")
    check_equal(
        by_digest.get(referred["index"].digest, {}).get("annotations"),
        {"i": "1"},
        "referrers[index].annotations",
    )


@req("end-12b")
def test_artifact_type_filter_returns_only_that_type(
    client: RegistryClient, pusher: Pusher, referred: dict[str, data.Manifest]
) -> None:
    """?artifactType= returns only that type and reports OCI-Filters-Applied: artifactType."""
    resp, found = _referrers(
        client, pusher.repo, referred["subject"].digest, f"?artifactType={SIG}"
    )
    applied = resp.headers.get("OCI-Filters-Applied", "")
    check(
        "artifactType" in applied,
        f"{where(resp)} OCI-Filters-Applied",
        "artifactType",
        applied or None,
    )
    check_equal(
        [d.get("digest") for d in found],
        [referred["sig"].digest],
        f"{where(resp)} body.manifests[].digest",
    )


@req("referrers-invalid-digest", "no-5xx-for-bad-input")
@pytest.mark.parametrize("digest", ["sha256:nothex", "notadigest", "sha256:" + "0" * 63])
def test_referrers_with_malformed_digest_is_400(
    client: RegistryClient, repo: str, referrers_enabled: None, digest: str
) -> None:
    """A malformed digest in a referrers request is refused with 400."""
    resp = client.get(f"/v2/{repo}/referrers/{digest}")
    expect_4xx(resp, {400})
    expect_status(resp, {400})


@req("referrers-tag-schema")
def test_index_under_fallback_tag_is_stored_and_served(
    client: RegistryClient, pusher: Pusher
) -> None:
    """An index pushed under the fallback tag <alg>-<hex> is accepted and served unchanged."""
    subject = data.image()
    pusher.manifest(subject)
    art = data.artifact(SIG, subject=subject)
    pusher.manifest(art)
    fallback = data.index([art])
    tag = data.fallback_tag(subject.digest)
    pusher.manifest(fallback, tag)
    got = client.get(f"/v2/{pusher.repo}/manifests/{tag}", headers={"Accept": mt.IMAGE_INDEX})
    expect_status(got, {200})
    check(
        got.content == fallback.body,
        f"{where(got)} body",
        "the pushed fallback index",
        got.text[:300],
    )


@req("referrers-fallback-included")
def test_referrers_listed_under_fallback_tag_are_reported(
    client: RegistryClient, pusher: Pusher, referrers_enabled: None
) -> None:
    """A referrer recorded in the fallback-tag index shows up in the referrers API."""
    subject = data.image()
    pusher.manifest(subject)
    art = data.artifact(SBOM, subject=subject)
    pusher.manifest(art)
    pusher.manifest(data.index([art]), data.fallback_tag(subject.digest))
    _, found = _referrers(client, pusher.repo, subject.digest)
    check(art.digest in [d.get("digest") for d in found], "referrers[].digest", art.digest, found)
