"""Hypothesis-generated requests never get a 5xx from the reference, and never harm stored data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.distribution import data
from conformance.distribution.target import ReferenceRegistry
from wire import mediatypes as mt

KEEP = "fuzz/keep"


@pytest.fixture(scope="module")
def seeded_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, data.Manifest]]:
    """A reference registry holding one image in :data:`KEEP`."""
    registry = ReferenceRegistry(Path(tmp_path_factory.mktemp("fuzz"))).start()
    img = data.image()
    for blob in img.blobs:
        start = requests.post(f"{registry.url}/v2/{KEEP}/blobs/uploads/", timeout=10)
        done = requests.put(
            f"{registry.url}{start.headers['Location']}?digest={blob.digest}",
            data=blob.data,
            timeout=10,
        )
        assert done.status_code == 201
    put = requests.put(
        f"{registry.url}/v2/{KEEP}/manifests/v1",
        data=img.body,
        headers={"Content-Type": img.media_type},
        timeout=10,
    )
    assert put.status_code == 201
    yield registry.url, img
    registry.stop()


names = st.one_of(
    st.sampled_from(["a", "fuzz/other", "UP/per", "a//b", "-x", "a" * 300, "ns/a.b/c__d"]),
    st.text(alphabet="abcXYZ09._-/:%@", min_size=1, max_size=40),
).filter(lambda n: n != KEEP)
references = st.one_of(
    st.sampled_from(["latest", "sha256:" + "0" * 64, "sha256:xyz", "sha512:ab", "", "..", "-t"]),
    st.text(alphabet="abcdef0123456789:sha-_.+", max_size=80),
)
kinds = st.sampled_from(["blobs", "manifests", "tags/list", "referrers", "blobs/uploads"])
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
header_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-=/+;*, ", max_size=40).map(
    str.strip
)
queries = st.sampled_from(
    [
        "",
        "?digest=sha256:xyz",
        "?n=-1",
        "?n=abc&last=zz",
        "?mount=x&from=UP",
        "?tag=a&tag=-b",
        "?digest-algorithm=md5",
        "?artifactType=",
        "?digest=" + "sha256:" + "f" * 64,
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=methods,
    name=names,
    kind=kinds,
    ref=references,
    query=queries,
    content_type=st.one_of(
        st.none(), st.sampled_from([mt.IMAGE_MANIFEST, mt.IMAGE_INDEX, "x/y"]), header_values
    ),
    content_range=st.one_of(
        st.none(), header_values, st.sampled_from(["0-0", "5-1", "0-99999999999"])
    ),
    byte_range=st.one_of(
        st.none(), st.sampled_from(["bytes=0-", "bytes=-0", "bytes=9-1"]), header_values
    ),
    body=st.binary(max_size=512),
)
def test_random_requests_never_get_a_server_error(
    seeded_registry: tuple[str, data.Manifest],
    method: str,
    name: str,
    kind: str,
    ref: str,
    query: str,
    content_type: str | None,
    content_range: str | None,
    byte_range: str | None,
    body: bytes,
) -> None:
    """Any request the generator builds is answered below 500."""
    url, _ = seeded_registry
    suffix = kind if kind == "tags/list" else f"{kind}/{quote(ref, safe=':')}"
    headers = {}
    for key, value in (
        ("Content-Type", content_type),
        ("Content-Range", content_range),
        ("Range", byte_range),
    ):
        if value is not None:
            headers[key] = value
    resp = requests.request(
        method,
        f"{url}/v2/{quote(name, safe='/')}/{suffix}{query}",
        data=body or None,
        headers=headers,
        timeout=30,
    )
    assert resp.status_code < 500, (
        method,
        name,
        suffix,
        query,
        headers,
        resp.status_code,
        resp.text[:300],
    )


def test_stored_image_is_intact_after_fuzzing(seeded_registry: tuple[str, data.Manifest]) -> None:
    """The image stored before fuzzing still pulls byte for byte."""
    url, img = seeded_registry
    got = requests.get(
        f"{url}/v2/{KEEP}/manifests/v1", headers={"Accept": img.media_type}, timeout=10
    )
    assert got.content == img.body
    for blob in img.blobs:
        assert requests.get(f"{url}/v2/{KEEP}/blobs/{blob.digest}", timeout=10).content == blob.data
