"""Fixtures shared by the harness's own tests: made-up result documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from conformance.core import results
from conformance.core.catalogue import Catalogue, Level, Requirement

DEMO_CATALOGUE = Catalogue(
    suite="demo",
    spec_name="Demo Specification",
    spec_version="v1.0.0",
    base_url="https://example.org/demo-spec/blob/v1.0.0",
    requirements=(
        Requirement("pull-1", Level.MUST, "Pulling", "a blob can be fetched", "spec.md#pull"),
        Requirement("pull-2", Level.MUST, "Pulling", "a missing blob answers 404", "spec.md#p2"),
        Requirement("push-1", Level.SHOULD, "Pushing", "uploads may be chunked", "spec.md#push"),
        Requirement("push-2", Level.MAY, "Pushing", "uploads may be mounted", "spec.md#mount"),
        Requirement("gc-1", Level.MUST, "Deleting", "deleted blobs disappear", "spec.md#gc"),
    ),
    package="demo_suite",
)
"""A small catalogue with every level, used to build documents without running pytest."""


DocumentFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_document() -> DocumentFactory:
    """Build a valid ``results.json`` document from ``(nodeid, requirement, outcome)`` rows.

    Keyword arguments override the record fields of every row (``message=...``) or the
    document's ``target``, ``level`` and ``catalogue``.
    """

    def build(
        rows: Sequence[tuple[str, str, str]],
        *,
        target: dict[str, Any] | None = None,
        level: Level = Level.MUST,
        catalogue: Catalogue = DEMO_CATALOGUE,
        extra: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        records = []
        for nodeid, requirement, outcome in rows:
            fields = dict((extra or {}).get(nodeid, {}))
            records.append(
                results.TestRecord(
                    nodeid=nodeid,
                    requirements=[requirement],
                    level=catalogue.get(requirement).level.value,
                    outcome=outcome,
                    duration=0.25,
                    **fields,
                )
            )
        document = results.build_document(
            catalogue=catalogue,
            records=records,
            level=level,
            target=target
            or {
                "kind": "registry",
                "address": "http://127.0.0.1:5000",
                "name": "demo-registry",
                "version": "2.8.3",
            },
            host={"kernel": "6.1.0", "arch": "x86_64", "root": False},
            started="2026-12-03T10:00:00+00:00",
            finished="2026-12-03T10:01:30+00:00",
            command=["pytest", "--pyargs", "demo_suite"],
        )
        results.validate(document)
        return document

    return build
