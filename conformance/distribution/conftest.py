"""Fixtures of the distribution suite: the target registry, a client, repositories, content."""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.core import skip_config
from conformance.core.errors import ConfigurationError
from conformance.plugin import STATE, ConformanceState

from . import data
from .checks import Pusher
from .client import RegistryClient
from .options import WORKFLOW_ENV
from .target import ReferenceRegistry, Target, resolve_url

log = logging.getLogger(__name__)

WORKFLOWS = {
    "test_pull": ("--workflow-pull", "pull"),
    "test_api": ("--workflow-pull", "pull"),
    "test_auth": ("--workflow-pull", "pull"),
    "test_push": ("--workflow-push", "push"),
    "test_content_discovery": ("--workflow-content-discovery", "content discovery"),
    "test_content_management": ("--workflow-content-management", "content management"),
}


def workflow_enabled(state: ConformanceState, module: str) -> bool:
    """Whether the workflow of test module ``module`` runs.

    As in the official suite, naming any workflow (``OCI_TEST_PULL=1``...) turns the unnamed
    ones off; naming none runs all four.
    """
    flag, _ = WORKFLOWS.get(module, ("--workflow-pull", "pull"))
    flags = {f for f, _ in WORKFLOWS.values()}
    values = {f: state.option(f) for f in flags}
    any_named = any(v is not None for v in values.values()) or any(
        e in os.environ for e in WORKFLOW_ENV
    )
    return bool(values[flag]) if any_named else True


def pytest_configure(config: pytest.Config) -> None:
    """Apply the OCI_REPORT_DIR alias and the debug switch."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    alias = state.option("--oci-report-dir")
    if alias and not config.getoption("conformance_report_dir"):
        config.option.conformance_report_dir = alias
    if state.option("--registry-debug"):
        logging.getLogger("conformance.distribution").setLevel(logging.DEBUG)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --hide-skipped-workflows, deselect the tests of disabled workflows."""
    state = config.stash.get(STATE, None)
    if state is None or not state.option("--hide-skipped-workflows"):
        return
    keep, drop = [], []
    for item in items:
        module = getattr(item, "module", None)
        name = getattr(module, "__name__", "").rsplit(".", 1)[-1]
        in_suite = getattr(module, "__name__", "").startswith("conformance.distribution")
        if in_suite and not workflow_enabled(state, name):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _workflow_gate(request: pytest.FixtureRequest, conformance: ConformanceState) -> None:
    """Skip tests of workflows the user switched off."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    if not workflow_enabled(conformance, name):
        skip_config(f"the {WORKFLOWS[name][1]} workflow is disabled")


@pytest.fixture(scope="session")
def registry_target(
    conformance: ConformanceState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The registry under test: ``--registry-url``, or the bundled reference started here."""
    url = conformance.option("--registry-url")
    if url:
        base, verify = resolve_url(url, conformance.option("--registry-tls"))
        target = Target(
            base,
            verify,
            conformance.option("--username"),
            conformance.option("--password"),
            name="",
        )
        conformance.record_target(
            "distribution", kind="registry", address=base, name=target.name, tls_verify=verify
        )
        yield target
        return
    reference = ReferenceRegistry(tmp_path_factory.mktemp("reference-registry"))
    reference.start()
    try:
        conformance.record_target(
            "distribution",
            kind="registry",
            address=reference.url,
            name="reference-registry",
            version="0.1.0",
            bundled=True,
        )
        yield Target(reference.url, name="reference-registry", version="0.1.0")
    finally:
        reference.stop()


@pytest.fixture(scope="session")
def client(registry_target: Target) -> Iterator[RegistryClient]:
    """A client of the registry under test (records every exchange as evidence)."""
    c = RegistryClient(
        registry_target.url,
        registry_target.username,
        registry_target.password,
        registry_target.verify,
    )
    yield c
    c.close()


def _unique(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def repo(conformance: ConformanceState) -> str:
    """The repository a test works in: its own below ``--namespace`` unless isolation is off."""
    namespace = conformance.option("--namespace")
    if conformance.option("--isolate-repositories"):
        return _unique(namespace)
    return str(namespace)


@pytest.fixture
def other_repo(conformance: ConformanceState) -> str:
    """A second repository (the source of mounts): ``--crossmount-namespace`` when given."""
    given = conformance.option("--crossmount-namespace")
    if given:
        return str(given)
    namespace = conformance.option("--namespace")
    if not conformance.option("--isolate-repositories"):
        raise ConfigurationError("--crossmount-namespace is needed when isolation is off")
    return _unique(namespace)


@pytest.fixture
def pusher(client: RegistryClient, repo: str, conformance: ConformanceState) -> Iterator[Pusher]:
    """Pushes content into ``repo`` and deletes it afterwards."""
    p = Pusher(client, repo, conformance.option("--delete-manifest-before-blobs"))
    yield p
    p.cleanup()


@pytest.fixture
def other_pusher(
    client: RegistryClient, other_repo: str, conformance: ConformanceState
) -> Iterator[Pusher]:
    """Pushes content into ``other_repo`` and deletes it afterwards."""
    p = Pusher(client, other_repo, conformance.option("--delete-manifest-before-blobs"))
    yield p
    p.cleanup()


@pytest.fixture
def referrers_enabled(conformance: ConformanceState) -> None:
    """Skip referrers checks when the user targets spec 1.0 or turned them off."""
    if str(conformance.option("--spec-version")).startswith("1.0"):
        skip_config("referrers API checks need spec version 1.1 (--spec-version)")
    if not conformance.option("--api-referrers"):
        skip_config("referrers API checks are disabled (--api-referrers / OCI_API_REFERRER)")


@pytest.fixture
def image_tag() -> str:
    """A fresh tag name."""
    return f"t-{secrets.token_hex(6)}"


@pytest.fixture
def seeded(conformance: ConformanceState, repo: str, pusher: Pusher) -> dict[str, str]:
    """Content to pull: preloaded by the user (pull-only registries) or pushed here.

    Returns:
        ``repo``, ``tag``, ``manifest`` (the tag's digest) and ``blob`` (a layer's digest).
    """
    tag = conformance.option("--pull-tag")
    if tag:
        manifest = conformance.option("--pull-manifest-digest")
        blob = conformance.option("--pull-blob-digest")
        if not manifest or not blob:
            raise ConfigurationError(
                "--pull-tag needs --pull-manifest-digest and --pull-blob-digest"
            )
        return {
            "repo": conformance.option("--namespace"),
            "tag": tag,
            "manifest": manifest,
            "blob": blob,
        }
    img = data.image(layers=1, layer_size=4096)
    tag = f"pull-{secrets.token_hex(4)}"
    pusher.manifest(img, tag)
    return {"repo": repo, "tag": tag, "manifest": img.digest, "blob": img.blobs[1].digest}


@pytest.fixture(scope="session")
def auth_registry(
    conformance: ConformanceState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A registry that demands credentials, with a repository the user may only pull.

    With ``--registry-url`` this is the target itself and needs ``--username``; otherwise a
    second bundled reference runs in token mode.
    """
    if conformance.option("--registry-url"):
        if not conformance.option("--username"):
            skip_config("auth checks need --username/--password (OCI_USERNAME/OCI_PASSWORD)")
        base, _ = resolve_url(
            conformance.option("--registry-url"), conformance.option("--registry-tls")
        )
        yield {
            "url": base,
            "username": conformance.option("--username"),
            "password": conformance.option("--password") or "",
            "namespace": conformance.option("--namespace"),
            "denied": conformance.option("--denied-namespace") or "",
        }
        return
    password = secrets.token_hex(12)
    config = {
        "mode": "token",
        "service": "conformance-reference",
        "users": {"conformance": password},
        "access": [
            {"user": "conformance", "repository": "readonly/*", "actions": ["pull"]},
            {"user": "conformance", "repository": "*", "actions": ["pull", "push", "delete"]},
        ],
    }
    workdir = Path(tmp_path_factory.mktemp("auth-registry"))
    reference = ReferenceRegistry(workdir, auth_config=config).start()
    try:
        yield {
            "url": reference.url,
            "username": "conformance",
            "password": password,
            "namespace": "conformance/auth",
            "denied": "readonly/repo",
        }
    finally:
        reference.stop()


@pytest.fixture(scope="session")
def throttled_url(
    conformance: ConformanceState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A registry expected to rate-limit a burst: the target, or a bundled reference with a
    limit of 10 requests per second per client (so the rest of the run is not throttled)."""
    url = conformance.option("--registry-url")
    if url:
        base, _ = resolve_url(url, conformance.option("--registry-tls"))
        yield base
        return
    workdir = Path(tmp_path_factory.mktemp("throttled-registry"))
    reference = ReferenceRegistry(workdir, rate_limit=10).start()
    try:
        yield reference.url
    finally:
        reference.stop()
