"""The comparison matrix: several runs of one suite side by side.

Rows are the catalogue's requirements, columns the implementations (the bundled reference
first), cells the requirement's folded outcome in that run. Rows where implementations disagree
are flagged. Runs of different suites are refused; runs made with different catalogue versions
are shown under a visible warning, since their rows may not mean the same thing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.core.catalogue import Level
from reports import html
from reports.model import OUTCOME_ORDER, safe_url

CELL_LABEL = {
    "passed": "pass",
    "failed": "fail",
    "warning": "warn",
    "skipped": "skip",
    "not-applicable": "n-a",
    "error": "error",
    "known-deviation": "deviation",
    "untested": "untested",
    "absent": "not in catalogue",
}
"""What a cell shows for each outcome."""


class MatrixError(ValueError):
    """The documents cannot be compared (different suites, nothing given)."""


@dataclass(frozen=True)
class Column:
    """One implementation's run."""

    label: str
    kind: str
    address: str
    source: str
    verdict: str
    level: str
    must_rate: str
    should_rate: str
    reference: bool
    catalogue_digest: str


@dataclass(frozen=True)
class Cell:
    """One requirement in one run."""

    outcome: str
    label: str
    tests: str


@dataclass(frozen=True)
class Row:
    """One requirement across every run."""

    id: str
    level: str
    section: str
    summary: str
    link: str
    note: str
    cells: list[Cell]
    disagree: bool
    passed: str

    @property
    def outcomes(self) -> str:
        """Every outcome in the row, for the outcome filter."""
        return " ".join(sorted({c.outcome for c in self.cells}))


@dataclass(frozen=True)
class MatrixView:
    """The whole matrix page."""

    title: str
    suite: str
    spec: str
    columns: list[Column]
    rows: list[Row]
    warnings: list[str]
    disagreements: int
    outcomes: list[str]
    levels: list[str]


def is_reference(document: Mapping[str, Any]) -> bool:
    """True when the run's target calls itself the reference."""
    target = document["target"]
    return "reference" in f"{target.get('kind', '')} {target.get('name', '')}".lower()


def _label(document: Mapping[str, Any]) -> str:
    target = document["target"]
    name = target.get("name") or target.get("kind") or "?"
    version = target.get("version")
    return f"{name}@{version}" if version else str(name)


def _rate(rows: Sequence[Mapping[str, Any]], level: Level) -> str:
    at_level = [r for r in rows if r["level"] == level.value]
    if not at_level:
        return "-"
    passed = sum(1 for r in at_level if r["outcome"] == "passed")
    return f"{passed}/{len(at_level)} ({100 * passed // len(at_level)}%)"


def _column(document: Mapping[str, Any], source: str) -> Column:
    rows = document["requirements"]
    return Column(
        label=_label(document),
        kind=document["target"].get("kind", ""),
        address=document["target"].get("address", ""),
        source=source,
        verdict=document["verdict"],
        level=document["level"],
        must_rate=_rate(rows, Level.MUST),
        should_rate=_rate(rows, Level.SHOULD),
        reference=is_reference(document),
        catalogue_digest=document["catalogue_digest"],
    )


def _cell(document: Mapping[str, Any], req: Mapping[str, Any] | None) -> Cell:
    if req is None:
        return Cell("absent", CELL_LABEL["absent"], "")
    outcome = req["outcome"]
    label = CELL_LABEL.get(outcome, outcome)
    if outcome == "skipped":
        tests = {t["nodeid"]: t for t in document["tests"]}
        cats = sorted(
            {
                tests[n].get("skip_category") or "other"
                for n in req["tests"]
                if n in tests and tests[n]["outcome"] == "skipped"
            }
        )
        label = f"skip({', '.join(cats) or 'other'})"
    return Cell(outcome, label, "\n".join(req["tests"]))


def _order(documents: Sequence[Mapping[str, Any]], sources: Sequence[str]) -> list[int]:
    """Column order: reference runs first, then as given."""
    indices = list(range(len(documents)))
    return sorted(indices, key=lambda i: (not is_reference(documents[i]), i))


def _warnings(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    found = []
    digests = {d["catalogue_digest"] for d in documents}
    if len(digests) > 1:
        found.append(
            f"The runs used {len(digests)} different requirement catalogues (harness or spec "
            "versions differ): rows may not mean the same in every column."
        )
    specs = {d["spec"]["version"] for d in documents}
    if len(specs) > 1:
        found.append(f"The runs tested different spec versions: {', '.join(sorted(specs))}.")
    levels = {d["level"] for d in documents}
    if len(levels) > 1:
        found.append(f"The runs used different certification levels: {', '.join(sorted(levels))}.")
    return found


def build(
    documents: Sequence[Mapping[str, Any]], sources: Sequence[str] | None = None
) -> MatrixView:
    """The matrix of several ``results.json`` documents of one suite.

    Args:
        documents: validated documents, all of one suite.
        sources: where each came from (file names), for the column headers.

    Raises:
        MatrixError: no documents, or documents of different suites.
    """
    if not documents:
        raise MatrixError("a comparison matrix needs at least one results document")
    suites = sorted({d["suite"] for d in documents})
    if len(suites) > 1:
        raise MatrixError(
            "cannot compare runs of different suites in one matrix: " + ", ".join(suites)
        )
    names = list(sources) if sources is not None else [""] * len(documents)
    order = _order(documents, names)
    docs = [documents[i] for i in order]
    by_id = [{r["id"]: r for r in d["requirements"]} for d in docs]
    catalogue: dict[str, Mapping[str, Any]] = {}
    for reqs_of_run in by_id:
        for rid, req in reqs_of_run.items():
            catalogue.setdefault(rid, req)
    rows = []
    for rid, req in catalogue.items():
        cells = [_cell(doc, reqs.get(rid)) for doc, reqs in zip(docs, by_id, strict=True)]
        rows.append(
            Row(
                id=rid,
                level=req["level"],
                section=req["section"],
                summary=req["summary"],
                link=safe_url(req["link"]),
                note=req.get("note", ""),
                cells=cells,
                disagree=len({c.outcome for c in cells}) > 1,
                passed=f"{sum(1 for c in cells if c.outcome == 'passed')}/{len(cells)}",
            )
        )
    first = docs[0]
    spec = f"{first['spec']['name']} {first['spec']['version']}"
    return MatrixView(
        title=f"{suites[0]}: {spec} - comparison of {len(docs)} runs",
        suite=suites[0],
        spec=spec,
        columns=[_column(d, names[i]) for d, i in zip(docs, order, strict=True)],
        rows=rows,
        warnings=_warnings(docs),
        disagreements=sum(1 for r in rows if r.disagree),
        outcomes=[*OUTCOME_ORDER, "untested", "absent"],
        levels=[lvl.value for lvl in Level],
    )


def _table(view: MatrixView) -> list[list[str]]:
    head = ["requirement", "level", "section", *[c.label for c in view.columns], "disagree"]
    body = [
        [r.id, r.level, r.section, *[c.label for c in r.cells], "yes" if r.disagree else ""]
        for r in view.rows
    ]
    verdicts = ["verdict", "", "", *[c.verdict for c in view.columns], ""]
    must = ["MUST pass rate", "", "", *[c.must_rate for c in view.columns], ""]
    should = ["SHOULD pass rate", "", "", *[c.should_rate for c in view.columns], ""]
    return [head, *body, verdicts, must, should]


def to_markdown(view: MatrixView) -> str:
    """The matrix as a Markdown table (for pull request comments and READMEs)."""
    table = _table(view)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [f"# {view.title}", ""]
    out += [f"> **Warning:** {w}\n" for w in view.warnings]
    out += [line(table[0]), line(["---"] * len(table[0]))]
    out += [line(r) for r in table[1:]]
    return "\n".join(out) + "\n"


def to_csv(view: MatrixView) -> str:
    """The matrix as CSV, one requirement per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(_table(view))
    return buffer.getvalue()


def write_all(view: MatrixView, path: Path) -> None:
    """Write the matrix as HTML to ``path`` and as ``.md`` and ``.csv`` beside it."""
    html.write_page("matrix.html.j2", view, path)
    path.with_suffix(".md").write_text(to_markdown(view), encoding="utf-8")
    path.with_suffix(".csv").write_text(to_csv(view), encoding="utf-8")
