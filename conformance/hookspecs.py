"""Hooks the conformance plugin adds to pytest."""

from __future__ import annotations

import pytest

from conformance.core.catalogue import Catalogue


@pytest.hookspec
def pytest_conformance_catalogues(config: pytest.Config) -> list[Catalogue]:  # type: ignore[empty-body]
    """Return requirement catalogues to add; every implementation's lists are merged.

    The plugin's own implementation returns the shipped suites' catalogues; a conftest can add
    made-up ones (the plugin's tests do) or an out-of-tree suite can add its own.
    """
