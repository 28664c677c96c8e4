"""The typed view model of one suite run's report, computed from a ``results.json`` document.

Everything the HTML template shows is decided here: ordering, grouping, labels, which links are
safe to emit. The template only loops and prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conformance.core.catalogue import Level
from conformance.core.outcomes import Outcome

OUTCOME_ORDER: tuple[str, ...] = (
    "failed",
    "known-deviation",
    "error",
    "warning",
    "skipped",
    "not-applicable",
    "passed",
)
"""Outcomes in the order the report lists them: what needs attention first."""

COUNT_KEY = {
    "passed": "passed",
    "failed": "failed",
    "warning": "warnings",
    "skipped": "skipped",
    "not-applicable": "not_applicable",
    "error": "errors",
    "known-deviation": "known_deviations",
}
"""``summary`` key of each outcome in ``results.json``."""

SKIP_MEANING = {
    "capability": "optional feature not offered; does not count against conformance",
    "host": "the host cannot run the test; at or above the chosen level the run is incomplete",
    "config": "switched off by configuration; at or above the chosen level the run is incomplete",
    "other": "skipped without a category; at or above the chosen level the run is incomplete",
    "not-applicable": "an allowed absence of an optional feature; does not count against "
    "conformance",
}
"""The verdict rule printed next to each skip group (users ask whether skips count)."""

VERDICT_MEANING = {
    "conformant": "every requirement at the chosen level passed",
    "conformant-with-warnings": "every requirement at the chosen level passed; some below it "
    "were missed",
    "non-conformant": "a requirement at the chosen level failed",
    "incomplete": "the run cannot certify: something at the chosen level did not run or the "
    "harness broke",
}


def results_sha256(document: Mapping[str, Any]) -> str:
    """The sha256 of ``document`` serialised exactly as ``results.json`` is written."""
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    return hashlib.sha256(text.encode()).hexdigest()


def safe_url(url: str) -> str:
    """``url`` when it is an http(s) link, else the empty string (never ``javascript:``)."""
    return url if url.startswith(("https://", "http://")) else ""


def duration_text(started: str, finished: str) -> str:
    """Wall-clock time between two RFC 3339 stamps, ``1m 05s``; empty when unreadable."""
    try:
        delta = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
    except (ValueError, TypeError):
        return ""
    seconds = max(int(delta.total_seconds()), 0)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def anchor_of(nodeid: str) -> str:
    """A stable HTML id for a test's details block."""
    return "t-" + hashlib.sha1(nodeid.encode(), usedforsecurity=False).hexdigest()[:12]


@dataclass(frozen=True)
class Fact:
    """A labelled value in the report header."""

    label: str
    value: str
    url: str = ""


@dataclass(frozen=True)
class Count:
    """How many tests ended with one outcome."""

    outcome: str
    value: int


@dataclass(frozen=True)
class LevelRow:
    """One row of the level x outcome grid."""

    level: str
    counts: list[Count]
    total: int


@dataclass(frozen=True)
class TestRef:
    """A link from a requirement to one of its tests."""

    nodeid: str
    anchor: str
    outcome: str


@dataclass(frozen=True)
class RequirementRow:
    """One catalogue requirement in the traceability table."""

    id: str
    level: str
    section: str
    summary: str
    link: str
    note: str
    outcome: str
    tests: list[TestRef]

    @property
    def untested(self) -> bool:
        """True when no test of this run covers the requirement."""
        return self.outcome == "untested"


@dataclass(frozen=True)
class EvidenceView:
    """One recorded exchange, as a title line and a preformatted body."""

    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class TestView:
    """One test with everything the report shows about it."""

    nodeid: str
    anchor: str
    requirements: list[str]
    level: str
    outcome: str
    duration: str
    message: str
    skip_category: str
    where: str
    expected: str
    got: str
    reference: str
    deviation_reason: str
    deviation_upstream: str
    evidence: list[EvidenceView]

    @property
    def has_finding(self) -> bool:
        """True when the test carries a structured where / expected / got."""
        return bool(self.where or self.expected or self.got)


@dataclass(frozen=True)
class SkipGroup:
    """Skipped or not-applicable tests of one category."""

    category: str
    meaning: str
    tests: list[TestView]


@dataclass
class ReportView:
    """Everything one suite run's report shows."""

    title: str
    suite: str
    verdict: str
    verdict_meaning: str
    verdict_reasons: list[str]
    level: str
    facts: list[Fact]
    host: list[Fact]
    counts: list[Count]
    total: int
    level_grid: list[LevelRow]
    outcomes: list[str]
    levels: list[str]
    requirements: list[RequirementRow]
    untested: int
    failures: list[TestView]
    errors: list[TestView]
    deviations: list[TestView]
    stale_deviations: list[TestView]
    skips: list[SkipGroup]
    tests: list[TestView]
    command: str
    results_sha256: str
    sections: list[str] = field(default_factory=list)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _headers(headers: Mapping[str, Any] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


def _blocks(*parts: tuple[str, Any]) -> str:
    """Join labelled parts, leaving out empty ones."""
    out = []
    for label, value in parts:
        text = _text(value) if value not in (None, "", {}, []) else ""
        if text:
            out.append(f"--- {label} ---\n{text}")
    return "\n".join(out)


def evidence_view(entry: Mapping[str, Any]) -> EvidenceView:
    """Title and body of one evidence entry, whatever its kind."""
    kind = str(entry.get("kind", "?"))
    if kind == "http":
        title = f"HTTP {entry.get('method', '')} {entry.get('url', '')} -> {entry.get('status')}"
        body = _blocks(
            ("request headers", _headers(entry.get("request_headers"))),
            ("request body", entry.get("request_body")),
            ("response headers", _headers(entry.get("response_headers"))),
            ("response body", entry.get("response_body")),
        )
    elif kind == "rpc":
        title = f"RPC {entry.get('method', '')} -> {entry.get('code', '')}"
        body = _blocks(
            ("request", entry.get("request")),
            ("response", entry.get("response")),
            ("detail", entry.get("detail")),
        )
    elif kind == "command":
        argv = " ".join(str(a) for a in entry.get("argv", []))
        title = f"$ {argv} -> exit {entry.get('returncode')}"
        body = _blocks(
            ("environment", _headers(entry.get("env"))),
            ("stdin", entry.get("stdin")),
            ("stdout", entry.get("stdout")),
            ("stderr", entry.get("stderr")),
        )
    elif kind == "note":
        title = f"note: {str(entry.get('text', '')).splitlines()[0] if entry.get('text') else ''}"
        body = _blocks(("text", entry.get("text")), ("data", entry.get("data")))
    elif kind == "attachment":
        title = f"attachment: {entry.get('name', '')}"
        body = _text(entry.get("content", ""))
    else:
        title = kind
        body = _text({k: v for k, v in entry.items() if k != "kind"})
    return EvidenceView(kind=kind, title=title, body=body)


def test_view(test: Mapping[str, Any]) -> TestView:
    """The view of one test record."""
    finding = test.get("finding") or {}
    deviation = test.get("deviation") or {}
    return TestView(
        nodeid=test["nodeid"],
        anchor=anchor_of(test["nodeid"]),
        requirements=list(test["requirements"]),
        level=test["level"],
        outcome=test["outcome"],
        duration=f"{float(test['duration']):.2f}s",
        message=test.get("message", ""),
        skip_category=test.get("skip_category") or "",
        where=str(finding.get("where", "")),
        expected=str(finding.get("expected", "")),
        got=str(finding.get("got", "")),
        reference=safe_url(str(finding.get("reference", ""))),
        deviation_reason=str(deviation.get("reason", "")),
        deviation_upstream=safe_url(str(deviation.get("upstream", ""))),
        evidence=[evidence_view(e) for e in test.get("evidence", [])],
    )


def _attention_key(test: TestView) -> tuple[int, int, str]:
    return (Level(test.level).rank, OUTCOME_ORDER.index(test.outcome), test.nodeid)


def _skip_groups(tests: Sequence[TestView]) -> list[SkipGroup]:
    groups: dict[str, list[TestView]] = {}
    for test in tests:
        if test.outcome == Outcome.NOT_APPLICABLE:
            groups.setdefault("not-applicable", []).append(test)
        elif test.outcome == Outcome.SKIPPED:
            groups.setdefault(test.skip_category or "other", []).append(test)
    order = ["host", "config", "other", "capability", "not-applicable"]
    return [
        SkipGroup(category=c, meaning=SKIP_MEANING.get(c, ""), tests=groups[c])
        for c in order
        if c in groups
    ]


def _requirement_rows(document: Mapping[str, Any]) -> list[RequirementRow]:
    outcomes = {t["nodeid"]: t["outcome"] for t in document["tests"]}
    return [
        RequirementRow(
            id=r["id"],
            level=r["level"],
            section=r["section"],
            summary=r["summary"],
            link=safe_url(r["link"]),
            note=r.get("note", ""),
            outcome=r["outcome"],
            tests=[TestRef(n, anchor_of(n), outcomes.get(n, "")) for n in r["tests"]],
        )
        for r in document["requirements"]
    ]


def _level_grid(document: Mapping[str, Any]) -> list[LevelRow]:
    by_level = document.get("summary_by_level") or {}
    rows = []
    for level in Level:
        counts = by_level.get(level.value, {})
        cells = [Count(o, int(counts.get(COUNT_KEY[o], 0))) for o in OUTCOME_ORDER]
        rows.append(LevelRow(level.value, cells, sum(c.value for c in cells)))
    return rows


def _target_text(target: Mapping[str, Any]) -> str:
    name = " ".join(p for p in (target.get("name", ""), target.get("version", "")) if p)
    return name or "(unnamed implementation)"


def _facts(document: Mapping[str, Any], sha: str) -> list[Fact]:
    spec, target = document["spec"], document["target"]
    facts = [
        Fact("Specification", f"{spec['name']} {spec['version']}", safe_url(spec.get("url", ""))),
        Fact("Implementation", _target_text(target)),
        Fact("Target kind", target.get("kind", "")),
        Fact("Target address", target.get("address", "")),
    ]
    for key, value in sorted((target.get("details") or {}).items()):
        facts.append(Fact(f"Target {key}", _text(value)))
    harness = document["harness"]
    facts += [
        Fact("Certification level", document["level"]),
        Fact("Harness", f"{harness['name']} {harness['version']}"),
        Fact("Catalogue digest", document["catalogue_digest"]),
        Fact("results.json sha256", sha),
        Fact("Started", document["started"]),
        Fact("Finished", document["finished"]),
        Fact("Duration", duration_text(document["started"], document["finished"])),
    ]
    return facts


def build(document: Mapping[str, Any], sha256: str | None = None) -> ReportView:
    """The view model of one ``results.json`` document.

    Args:
        document: a validated ``results.json`` document.
        sha256: digest of the results file as stored; computed from ``document`` when omitted.
    """
    sha = sha256 or results_sha256(document)
    tests = [test_view(t) for t in document["tests"]]
    summary = document["summary"]
    requirements = _requirement_rows(document)
    attention = sorted((t for t in tests if t.outcome in ("failed", "warning")), key=_attention_key)
    spec = document["spec"]
    return ReportView(
        title=f"{document['suite']}: {spec['name']} {spec['version']} - "
        f"{_target_text(document['target'])}",
        suite=document["suite"],
        verdict=document["verdict"],
        verdict_meaning=VERDICT_MEANING.get(document["verdict"], ""),
        verdict_reasons=list(document.get("verdict_reasons", [])),
        level=document["level"],
        facts=_facts(document, sha),
        host=[Fact(k, _text(v)) for k, v in sorted(document["host"].items())],
        counts=[Count(o, int(summary.get(COUNT_KEY[o], 0))) for o in OUTCOME_ORDER],
        total=len(document["tests"]),
        level_grid=_level_grid(document),
        outcomes=list(OUTCOME_ORDER),
        levels=[lvl.value for lvl in Level],
        requirements=requirements,
        untested=sum(1 for r in requirements if r.untested),
        failures=attention,
        errors=sorted((t for t in tests if t.outcome == "error"), key=_attention_key),
        deviations=sorted((t for t in tests if t.outcome == "known-deviation"), key=_attention_key),
        stale_deviations=[t for t in tests if t.outcome == "passed" and t.deviation_reason],
        skips=_skip_groups(tests),
        tests=sorted(tests, key=_attention_key),
        command=" ".join(document.get("command", [])),
        results_sha256=sha,
        sections=list(dict.fromkeys(r.section for r in requirements)),
    )
