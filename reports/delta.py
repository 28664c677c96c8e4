"""Run-to-run delta: what changed between two runs of one suite against one implementation.

Tests are matched by node id. A change is a *regression* when the new outcome is worse for
the implementation (passed -> warning -> known-deviation -> failed), a *fix* when it is
better; harness errors count as worse than anything, since a test that no longer runs proves
nothing. Skips appearing or disappearing are listed apart: they change what the run proves
without saying the implementation got worse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reports import html

DELTA_SCHEMA = "delta-1.0"

BADNESS = {
    "passed": 0,
    "not-applicable": 0,
    "skipped": 0,
    "warning": 1,
    "known-deviation": 2,
    "failed": 3,
    "error": 4,
}
"""How bad each outcome is for the implementation; skips are neutral."""

SKIPS = ("skipped", "not-applicable")


class DeltaError(ValueError):
    """The two runs cannot be compared."""


@dataclass(frozen=True)
class Change:
    """One test whose outcome differs between the runs, or that only one run has."""

    nodeid: str
    requirements: list[str]
    level: str
    old: str
    new: str
    message: str = ""


@dataclass
class Delta:
    """Everything that changed between two runs."""

    suite: str
    old_source: str
    new_source: str
    old_target: str
    new_target: str
    old_verdict: str
    new_verdict: str
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    newly_skipped: list[Change] = field(default_factory=list)
    unskipped: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict_changed(self) -> bool:
        """True when the verdict differs."""
        return self.old_verdict != self.new_verdict

    @property
    def must_regressions(self) -> list[Change]:
        """Regressions that fail a CI gate.

        Those of MUST tests, and those that now end ``failed`` or ``known-deviation``: both
        outcomes only occur at or above the run's certification level.
        """
        return [
            c
            for c in self.regressions
            if c.level == "MUST" or c.new in ("failed", "known-deviation")
        ]

    @property
    def title(self) -> str:
        """The page title."""
        return f"{self.suite}: changes from {self.old_target} to {self.new_target}"

    def to_dict(self) -> dict[str, Any]:
        """The ``delta.json`` document."""
        data = asdict(self)
        data["schema"] = DELTA_SCHEMA
        data["verdict_changed"] = self.verdict_changed
        data["must_regressions"] = len(self.must_regressions)
        return data


def _target(document: Mapping[str, Any]) -> str:
    target = document["target"]
    name = " ".join(p for p in (target.get("name"), target.get("version")) if p)
    return name or target.get("kind") or "?"


def _change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Change:
    test = new or old
    assert test is not None  # one side always exists
    return Change(
        nodeid=test["nodeid"],
        requirements=list(test["requirements"]),
        level=test["level"],
        old=old["outcome"] if old else "",
        new=new["outcome"] if new else "",
        message=(new or {}).get("message", "") if new else "",
    )


def _file(delta: Delta, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    change = _change(old, new)
    if BADNESS[new["outcome"]] > BADNESS[old["outcome"]]:
        delta.regressions.append(change)
    elif BADNESS[new["outcome"]] < BADNESS[old["outcome"]]:
        delta.fixes.append(change)
    elif new["outcome"] in SKIPS and old["outcome"] not in SKIPS:
        delta.newly_skipped.append(change)
    elif old["outcome"] in SKIPS and new["outcome"] not in SKIPS:
        delta.unskipped.append(change)


def compute(
    old: Mapping[str, Any], new: Mapping[str, Any], old_source: str = "", new_source: str = ""
) -> Delta:
    """The delta from ``old`` to ``new``.

    Raises:
        DeltaError: the runs are of different suites.
    """
    if old["suite"] != new["suite"]:
        raise DeltaError(
            f"cannot compare runs of different suites: {old['suite']!r} and {new['suite']!r}"
        )
    delta = Delta(
        suite=new["suite"],
        old_source=old_source,
        new_source=new_source,
        old_target=_target(old),
        new_target=_target(new),
        old_verdict=old["verdict"],
        new_verdict=new["verdict"],
    )
    if old["target"].get("name") != new["target"].get("name"):
        delta.warnings.append(
            f"The runs are of different implementations ({old['target'].get('name')!r} and "
            f"{new['target'].get('name')!r}); a delta is meant for two runs of one."
        )
    if old["catalogue_digest"] != new["catalogue_digest"]:
        delta.warnings.append("The runs used different requirement catalogues.")
    before = {t["nodeid"]: t for t in old["tests"]}
    after = {t["nodeid"]: t for t in new["tests"]}
    for nodeid, test in after.items():
        if nodeid not in before:
            delta.added.append(_change(None, test))
        elif test["outcome"] != before[nodeid]["outcome"]:
            _file(delta, before[nodeid], test)
    delta.removed = [_change(t, None) for n, t in before.items() if n not in after]
    delta.regressions.sort(key=lambda c: (c.level != "MUST", c.level != "SHOULD", c.nodeid))
    return delta


def summary_text(delta: Delta) -> str:
    """One line for the terminal."""
    verdict = (
        f"verdict {delta.old_verdict} -> {delta.new_verdict}"
        if delta.verdict_changed
        else f"verdict unchanged ({delta.new_verdict})"
    )
    return (
        f"{delta.suite}: {len(delta.regressions)} regressions "
        f"({len(delta.must_regressions)} at the certification level), {len(delta.fixes)} fixes, "
        f"{len(delta.newly_skipped)} newly skipped, {len(delta.unskipped)} unskipped, "
        f"{len(delta.added)} new tests, {len(delta.removed)} removed tests; {verdict}"
    )


@dataclass(frozen=True)
class Group:
    """A titled list of changes for the page."""

    key: str
    title: str
    changes: list[Change]


@dataclass(frozen=True)
class DeltaView:
    """The delta page."""

    title: str
    delta: Delta
    summary: str
    groups: list[Group]


def view(delta: Delta) -> DeltaView:
    """The page's view model: regressions first."""
    groups = [
        Group("regressions", "Regressions", delta.regressions),
        Group("fixes", "Fixes", delta.fixes),
        Group("newly-skipped", "Newly skipped", delta.newly_skipped),
        Group("unskipped", "No longer skipped", delta.unskipped),
        Group("added", "New tests", delta.added),
        Group("removed", "Removed tests", delta.removed),
    ]
    return DeltaView(delta.title, delta, summary_text(delta), groups)


def write_all(delta: Delta, path: Path) -> None:
    """Write the delta as HTML to ``path`` and as ``delta.json`` beside it."""
    html.write_page("delta.html.j2", view(delta), path)
    json_path = path.with_name("delta.json")
    json_path.write_text(json.dumps(delta.to_dict(), indent=2) + "\n", encoding="utf-8")
