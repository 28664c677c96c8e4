"""The index page of a multi-suite run: one line per suite with its verdict and report link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports import html


@dataclass(frozen=True)
class SuiteEntry:
    """One suite of the run."""

    suite: str
    verdict: str
    spec: str
    implementation: str
    passed: int
    failed: int
    warnings: int
    errors: int
    skipped: int
    total: int
    report: str
    results: str


@dataclass(frozen=True)
class IndexView:
    """The index page."""

    title: str
    suites: list[SuiteEntry]
    overall: str


def entry(suite: str, document: Mapping[str, Any] | None) -> SuiteEntry:
    """The index line of ``suite``; a missing document shows as a harness error."""
    report, results = f"{suite}/report.html", f"{suite}/results.json"
    if document is None:
        return SuiteEntry(suite, "harness-error", "", "", 0, 0, 0, 0, 0, 0, "", "")
    counts, target, spec = document["summary"], document["target"], document["spec"]
    name = " ".join(p for p in (target["name"], target["version"]) if p) or target["kind"]
    return SuiteEntry(
        suite=suite,
        verdict=document["verdict"],
        spec=f"{spec['name']} {spec['version']}",
        implementation=name,
        passed=counts["passed"],
        failed=counts["failed"] + counts.get("known_deviations", 0),
        warnings=counts["warnings"],
        errors=counts["errors"],
        skipped=counts["skipped"] + counts["not_applicable"],
        total=counts["total"],
        report=report,
        results=results,
    )


def overall(entries: Sequence[SuiteEntry]) -> str:
    """The worst verdict among the suites."""
    order = ["harness-error", "non-conformant", "incomplete", "conformant-with-warnings"]
    for verdict in order:
        if any(e.verdict == verdict for e in entries):
            return verdict
    return "conformant"


def build(runs: Sequence[tuple[str, Mapping[str, Any] | None]]) -> IndexView:
    """The index view of ``(suite, document or None)`` pairs."""
    entries = [entry(s, d) for s, d in runs]
    return IndexView(title="Conformance run", suites=entries, overall=overall(entries))


def write_index(path: Path, runs: Sequence[tuple[str, Mapping[str, Any] | None]]) -> None:
    """Write the index page linking each suite's report (relative links, beside them)."""
    html.write_page("index.html.j2", build(runs), path)
