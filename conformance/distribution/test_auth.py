"""Authentication: challenges, the token flow, and refusals (spec.md#error-codes, informative
authentication section). Runs against the target when credentials are given, else against a
second bundled reference in token mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.core import check, skip_config

from . import data
from .checks import Pusher, expect_code, expect_status, header, where
from .client import RegistryClient, parse_challenge

req = pytest.mark.requirement


@pytest.fixture
def anonymous(auth_registry: dict[str, str]) -> Iterator[RegistryClient]:
    """A client without credentials."""
    c = RegistryClient(auth_registry["url"])
    yield c
    c.close()


@pytest.fixture
def authed(auth_registry: dict[str, str]) -> Iterator[RegistryClient]:
    """A client with the configured credentials."""
    c = RegistryClient(auth_registry["url"], auth_registry["username"], auth_registry["password"])
    yield c
    c.close()


@req("auth-challenge", "code-11")
def test_request_without_credentials_gets_a_challenge(
    anonymous: RegistryClient, auth_registry: dict[str, str]
) -> None:
    """A push without credentials is answered 401 UNAUTHORIZED with a WWW-Authenticate challenge."""
    resp = anonymous.session.post(
        anonymous.url(f"/v2/{auth_registry['namespace']}/blobs/uploads/"), auth=lambda r: r
    )
    expect_status(resp, {401})
    scheme, params = parse_challenge(header(resp, "WWW-Authenticate"))
    check(
        scheme in ("basic", "bearer"), f"{where(resp)} WWW-Authenticate", "Basic or Bearer", scheme
    )
    if scheme == "bearer":
        check("realm" in params, f"{where(resp)} WWW-Authenticate", "a realm parameter", params)
    expect_code(resp, "UNAUTHORIZED")


@req("end-1", "auth-challenge")
def test_credentials_satisfy_the_challenge(
    authed: RegistryClient, auth_registry: dict[str, str]
) -> None:
    """With credentials, the challenge flow ends in 200 for /v2/ and a working push and pull."""
    expect_status(authed.get("/v2/"), {200})
    pusher = Pusher(authed, f"{auth_registry['namespace']}")
    try:
        img = data.image()
        pusher.manifest(img, "authed")
        resp = authed.get(f"/v2/{pusher.repo}/manifests/authed", headers={"Accept": img.media_type})
        expect_status(resp, {200})
    finally:
        pusher.cleanup()


@req("code-12")
def test_push_without_permission_names_denied(
    authed: RegistryClient, auth_registry: dict[str, str]
) -> None:
    """A push by an identity that may only pull is refused naming DENIED."""
    if not auth_registry["denied"]:
        skip_config("the DENIED check needs --denied-namespace")
    resp = authed.post(f"/v2/{auth_registry['denied']}/blobs/uploads/")
    check(resp.status_code in (401, 403), where(resp), "401 or 403", resp.status_code)
    expect_code(resp, "DENIED")
