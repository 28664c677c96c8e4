"""The result model: one ``results.json`` per suite run, the contract with reports and users.

The document is validated against ``conformance/schema/results.schema.json``; its
``schema_version`` changes whenever a field's meaning changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from conformance import __version__
from conformance.core.catalogue import Catalogue, Level
from conformance.core.errors import ConfigurationError
from conformance.core.outcomes import Outcome, SkipCategory

SCHEMA_VERSION = "1.0"

VERDICTS = ("conformant", "conformant-with-warnings", "non-conformant", "incomplete")

COUNT_KEYS = {
    Outcome.PASSED: "passed",
    Outcome.FAILED: "failed",
    Outcome.WARNING: "warnings",
    Outcome.SKIPPED: "skipped",
    Outcome.NOT_APPLICABLE: "not_applicable",
    Outcome.ERROR: "errors",
    Outcome.KNOWN_DEVIATION: "known_deviations",
}


@dataclass
class TestRecord:
    """The result of one test."""

    nodeid: str
    requirements: list[str]
    level: str
    outcome: str
    duration: float = 0.0
    message: str = ""
    skip_category: str | None = None
    finding: dict[str, Any] | None = None
    deviation: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def merge_phase(self, other: TestRecord) -> None:
        """Fold a later phase (setup, call, teardown) of the same test into this record."""
        self.duration += other.duration
        mine, theirs = Outcome(self.outcome), Outcome(other.outcome)
        quiet = (Outcome.PASSED, Outcome.SKIPPED, Outcome.NOT_APPLICABLE)
        soft = (Outcome.WARNING, Outcome.KNOWN_DEVIATION)
        hard = (Outcome.FAILED, Outcome.ERROR)
        if theirs != Outcome.PASSED and (mine in quiet or (mine in soft and theirs in hard)):
            self.outcome = other.outcome
            self.message = other.message or self.message
            self.skip_category = other.skip_category
            self.finding = other.finding or self.finding
            self.deviation = other.deviation or self.deviation
        elif other.deviation and not self.deviation:
            # A passing phase can carry a declared deviation that did not occur (stale entry).
            self.deviation = other.deviation
            self.message = self.message or other.message
        self.evidence.extend(e for e in other.evidence if e not in self.evidence)


def count(records: Iterable[TestRecord]) -> dict[str, int]:
    """Counts per outcome, with every key present."""
    counts = dict.fromkeys(COUNT_KEYS.values(), 0)
    for rec in records:
        counts[COUNT_KEYS[Outcome(rec.outcome)]] += 1
    counts["total"] = sum(counts.values())
    return counts


def count_by_level(records: Iterable[TestRecord]) -> dict[str, dict[str, int]]:
    """Counts per level, then per outcome."""
    table = {lvl.value: dict.fromkeys(COUNT_KEYS.values(), 0) for lvl in Level}
    for rec in records:
        table[rec.level][COUNT_KEYS[Outcome(rec.outcome)]] += 1
    return table


def requirement_rows(catalogue: Catalogue, records: Iterable[TestRecord]) -> list[dict[str, Any]]:
    """The whole catalogue, each requirement with its covering tests and folded outcome."""
    by_req: dict[str, list[TestRecord]] = {}
    for rec in records:
        for rid in rec.requirements:
            by_req.setdefault(rid, []).append(rec)
    rows = []
    for req in catalogue:
        tests = by_req.get(req.id, [])
        outcome = (
            max((Outcome(t.outcome) for t in tests), key=lambda o: o.severity).value
            if tests
            else "untested"
        )
        rows.append(
            {
                "id": req.id,
                "level": req.level.value,
                "section": req.section,
                "summary": req.summary,
                "link": catalogue.link(req),
                "note": req.note,
                "tests": [t.nodeid for t in tests],
                "outcome": outcome,
            }
        )
    return rows


def verdict(
    records: list[TestRecord], rows: list[dict[str, Any]], level: Level
) -> tuple[str, list[str]]:
    """The verdict and the reasons for it.

    * ``non-conformant``: a requirement at or above ``level`` failed (declared deviations
      included: declaring a deviation explains it, it does not excuse it);
    * ``incomplete``: the harness or host broke, nothing ran, a test at or above ``level`` was
      skipped for a host or configuration reason, or such a requirement has no test in the run;
    * ``conformant-with-warnings``: a requirement below ``level`` was missed;
    * ``conformant``: otherwise.
    """
    counts = count(records)
    reasons: list[str] = []
    if counts["failed"] or counts["known_deviations"]:
        reasons.append(f"{counts['failed']} failed, {counts['known_deviations']} known deviations")
        return "non-conformant", reasons
    if counts["errors"]:
        reasons.append(f"{counts['errors']} tests ended in a harness or environment error")
    if counts["total"] == 0:
        reasons.append("no test ran")
    hard_skips = [
        r.nodeid
        for r in records
        if r.outcome == Outcome.SKIPPED
        and r.skip_category != SkipCategory.CAPABILITY
        and Level(r.level).at_least(level)
    ]
    if hard_skips:
        reasons.append(f"{len(hard_skips)} tests at level {level} skipped for host or config")
    untested = [
        r["id"] for r in rows if r["outcome"] == "untested" and Level(r["level"]).at_least(level)
    ]
    if untested:
        reasons.append(f"{len(untested)} requirements at level {level} have no test in this run")
    if reasons:
        return "incomplete", reasons
    if counts["warnings"]:
        return "conformant-with-warnings", [f"{counts['warnings']} warnings"]
    return "conformant", []


def now() -> str:
    """The current time in RFC 3339, UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_document(
    *,
    catalogue: Catalogue,
    records: list[TestRecord],
    level: Level,
    target: Mapping[str, Any],
    host: Mapping[str, Any],
    started: str,
    finished: str,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """Assemble one ``results.json`` document."""
    rows = requirement_rows(catalogue, records)
    verdict_value, reasons = verdict(records, rows, level)
    return {
        "schema_version": SCHEMA_VERSION,
        "harness": {"name": "container-conformance", "version": __version__},
        "suite": catalogue.suite,
        "spec": {
            "name": catalogue.spec_name,
            "version": catalogue.spec_version,
            "url": catalogue.base_url,
        },
        "catalogue_digest": catalogue.digest(),
        "level": level.value,
        "target": {
            "kind": str(target.get("kind", "")),
            "address": str(target.get("address", "")),
            "name": str(target.get("name", "")),
            "version": str(target.get("version", "")),
            "details": dict(target.get("details", {})),
        },
        "host": dict(host),
        "command": list(command or []),
        "started": started,
        "finished": finished,
        "summary": count(records),
        "summary_by_level": count_by_level(records),
        "verdict": verdict_value,
        "verdict_reasons": reasons,
        "tests": [asdict(r) for r in sorted(records, key=lambda r: r.nodeid)],
        "requirements": rows,
    }


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json``."""
    text = resources.files("conformance").joinpath("schema/results.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(document: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigurationError` naming the first field that breaks the schema."""
    try:
        jsonschema.validate(document, schema())
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(document)"
        raise ConfigurationError(f"results.json invalid at {where}: {err.message}") from err


def load(path: Path) -> dict[str, Any]:
    """Read and validate one ``results.json``."""
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"cannot read results {path}: {err}") from err
    validate(document)
    return document


def write(document: Mapping[str, Any], path: Path) -> None:
    """Validate and write one ``results.json``."""
    validate(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
