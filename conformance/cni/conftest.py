"""Fixtures of the cni suite: the target, a per-test lab, and the version matrix.

The plugins are asked for their versions (VERSION) when tests are collected, so every test
runs once per version the plugin claims and the version is part of the test id. A test is
marked with :func:`conformance.cni.checks.since` when it needs a minimum version.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.cni import netns as netns_mod
from conformance.cni.lab import Lab
from conformance.cni.runner import SPEC
from conformance.cni.target import Target, resolve
from conformance.core import Violation, not_applicable, skip_host
from conformance.core.host import is_root

_TARGET = pytest.StashKey[Target]()
BROKEN_VERSION = "VERSION query failed for "


def _target(config: pytest.Config) -> Target:
    if _TARGET not in config.stash:
        from conformance.plugin import STATE

        state = config.stash[STATE]
        target = resolve(state.option)
        config.stash[_TARGET] = target
        if target.cleanup_dir:
            config.add_cleanup(lambda: shutil.rmtree(target.cleanup_dir, ignore_errors=True))
    return config.stash[_TARGET]


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cni_version" not in metafunc.fixturenames:
        return
    target = _target(metafunc.config)
    role = getattr(metafunc.module, "ROLE", "main")
    low = getattr(metafunc.function, "cni_since", "0.0.0")
    high = getattr(metafunc.function, "cni_before", "99.0.0")
    versions = [v for v in target.versions.get(role, []) if _key(low) <= _key(v) < _key(high)]
    if versions:
        metafunc.parametrize(
            "cni_version", versions, ids=[f"v{v}" for v in versions], indirect=True
        )
        return
    if role in target.version_errors:
        # Without a usable VERSION reply no version can be negotiated: every test of this
        # plugin fails on it (spec section 2, VERSION) instead of being skipped.
        failure = f"{BROKEN_VERSION}{target.roles[role]}: {target.version_errors[role]}"
        metafunc.parametrize("cni_version", [failure], ids=["version-query-failed"], indirect=True)
        return
    claimed = target.claimed.get(role) or ["none"]
    reason = (
        f"{role} plugin {target.roles[role]!r} claims no version in [{low}, {high}) "
        f"(claims {', '.join(claimed)})"
    )
    metafunc.parametrize("cni_version", [reason], ids=["no-version"], indirect=True)


@pytest.fixture
def cni_version(request: pytest.FixtureRequest) -> str:
    """The CNI version this instance of the test speaks."""
    value = str(request.param)
    if value.startswith(BROKEN_VERSION):
        raise Violation(
            "VERSION",
            "exit 0 and {cniVersion, supportedVersions} on stdout",
            value[len(BROKEN_VERSION) :],
            SPEC + "#version",
        )
    if " " in value:
        not_applicable(value)
    return value


@pytest.fixture(scope="session")
def cni_target(conformance: Any, request: pytest.FixtureRequest) -> Iterator[Target]:
    """The plugins under test, recorded in the run's results."""
    if not is_root():
        skip_host("the cni suite creates network namespaces and needs root")
    netns_mod.sweep_on_sigterm()
    target = _target(request.config)
    conformance.record_target(
        "cni",
        kind="cni-plugins",
        address=":".join(target.cni_path),
        name=target.name,
        version=target.version,
        plugins=target.roles,
        supported_versions=target.claimed,
        reference=target.reference,
    )
    yield target
    netns_mod.sweep()


@pytest.fixture
def lab(cni_target: Target) -> Iterator[Lab]:
    """A fresh lab: host namespace, unique names, temporary IPAM state."""
    lab = Lab(cni_target)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def main_plugin(cni_target: Target) -> str:
    """The main plugin's type; not applicable when it is not on the path."""
    plugin = cni_target.roles["main"]
    if not cni_target.runner().has(plugin):
        not_applicable(f"plugin {plugin!r} is not on the CNI path")
    return plugin


def pytest_sessionfinish(session: pytest.Session) -> None:
    netns_mod.sweep()
