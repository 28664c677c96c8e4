"""Content management workflow: deleting tags, manifests and blobs (spec.md#content-management).

Deletion is optional: a registry answering 400 or 405 does not offer it, and the test is then
not applicable (never a failure).
"""

from __future__ import annotations

import pytest
import requests

from conformance.core import check, not_applicable, skip_config
from conformance.plugin import ConformanceState
from wire import mediatypes as mt

from . import data
from .checks import Pusher, error_codes, expect_code, expect_status, json_body, where
from .client import RegistryClient

req = pytest.mark.requirement
ACCEPT = {"Accept": ", ".join([mt.IMAGE_MANIFEST, mt.IMAGE_INDEX])}


def _deleted(resp: requests.Response, what: str) -> None:
    if resp.status_code in (400, 405):
        not_applicable(f"{what} deletion not offered ({resp.status_code})")
    expect_status(resp, {202}, f"{what} deleted")


def _enabled(conformance: ConformanceState, flag: str) -> None:
    if not conformance.option(flag):
        skip_config(f"deletion checks disabled ({flag})")


@req("end-9")
def test_delete_tag_removes_only_the_tag(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """DELETE of a tag answers 202; the tag then answers 404."""
    _enabled(conformance, "--api-tag-delete")
    img = data.image()
    pusher.manifest(img, "keep")
    pusher.manifest(img, "drop")
    _deleted(client.delete(f"/v2/{pusher.repo}/manifests/drop"), "tag")
    expect_status(
        client.head(f"/v2/{pusher.repo}/manifests/drop", headers=ACCEPT), {404}, "deleted tag"
    )


@req("end-9")
def test_delete_manifest_by_digest_removes_it(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """DELETE of a manifest by digest answers 202; the manifest then answers 404."""
    _enabled(conformance, "--api-manifest-delete")
    img = data.image()
    pusher.manifest(img, "gone")
    _deleted(client.delete(f"/v2/{pusher.repo}/manifests/{img.digest}"), "manifest")
    pusher.forget(img.digest)
    for method in ("HEAD", "GET"):
        resp = client.request(method, f"/v2/{pusher.repo}/manifests/{img.digest}", headers=ACCEPT)
        expect_status(resp, {404}, "deleted manifest")


@req("delete-manifest-removes-tags")
def test_deleted_manifest_leaves_no_tag_behind(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """After a manifest is deleted, the tag that pointed at it is gone from the tag list."""
    _enabled(conformance, "--api-manifest-delete")
    keep, drop = data.image(), data.image()
    pusher.manifest(keep, "keep")
    pusher.manifest(drop, "drop")
    _deleted(client.delete(f"/v2/{pusher.repo}/manifests/{drop.digest}"), "manifest")
    pusher.forget(drop.digest)
    resp = client.get(f"/v2/{pusher.repo}/tags/list")
    expect_status(resp, {200})
    tags = json_body(resp).get("tags") or []
    check(
        "drop" not in tags and "keep" in tags,
        f"{where(resp)} body.tags",
        "'keep' without 'drop'",
        tags,
    )


@req("end-9")
def test_delete_unknown_manifest_returns_404(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """DELETE of a manifest that does not exist answers 404."""
    _enabled(conformance, "--api-manifest-delete")
    pusher.manifest(data.image(), "present")
    resp = client.delete(f"/v2/{pusher.repo}/manifests/{data.unknown_digest()}")
    if resp.status_code in (400, 405):
        not_applicable(f"manifest deletion not offered ({resp.status_code})")
    expect_status(resp, {404})


@req("end-10")
def test_delete_blob_removes_it(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """DELETE of a blob answers 202; the blob then answers 404."""
    _enabled(conformance, "--api-blob-delete")
    blob = data.Blob.random(300)
    pusher.blob(blob)
    _deleted(client.delete(f"/v2/{pusher.repo}/blobs/{blob.digest}"), "blob")
    pusher.forget(blob.digest)
    for method in ("HEAD", "GET"):
        resp = client.request(method, f"/v2/{pusher.repo}/blobs/{blob.digest}")
        expect_status(resp, {404}, "deleted blob")


@req("end-10")
def test_delete_unknown_blob_returns_404(
    client: RegistryClient, pusher: Pusher, conformance: ConformanceState
) -> None:
    """DELETE of a blob that does not exist answers 404."""
    _enabled(conformance, "--api-blob-delete")
    pusher.blob(data.Blob.random(10))
    resp = client.delete(f"/v2/{pusher.repo}/blobs/{data.unknown_digest()}")
    if resp.status_code in (400, 405):
        not_applicable(f"blob deletion not offered ({resp.status_code})")
    expect_status(resp, {404})


@req("code-13")
def test_refused_deletion_names_unsupported(client: RegistryClient, pusher: Pusher) -> None:
    """A registry that does not offer deletion says so with UNSUPPORTED."""
    img = data.image()
    pusher.manifest(img, "t")
    refusals = []
    for path in (
        f"/v2/{pusher.repo}/manifests/t",
        f"/v2/{pusher.repo}/blobs/{img.blobs[1].digest}",
    ):
        resp = client.delete(path)
        if resp.status_code == 202:
            pusher.forget(img.blobs[1].digest)
        elif resp.status_code == 405 or (
            resp.status_code == 400 and "DIGEST_INVALID" not in (error_codes(resp) or [])
        ):
            refusals.append(resp)
    if not refusals:
        not_applicable("the registry offers deletion, so UNSUPPORTED is not expected")
    for resp in refusals:
        expect_code(resp, "UNSUPPORTED")
