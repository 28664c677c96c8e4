"""The comparison matrix, the run-to-run delta and the index page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.core.catalogue import Catalogue, Level, Requirement
from reports import delta, html, index, matrix

Factory = Callable[..., dict[str, Any]]

REFERENCE = {
    "kind": "reference",
    "address": "127.0.0.1:1",
    "name": "demo-reference",
    "version": "0.1",
}
VENDOR = {"kind": "registry", "address": "127.0.0.1:2", "name": "acme", "version": "3.0"}

CHANGED_CATALOGUE = Catalogue(
    suite="demo",
    spec_name="Demo Specification",
    spec_version="v1.1.0",
    base_url="https://example.org/demo-spec/blob/v1.1.0",
    requirements=(
        Requirement("pull-1", Level.MUST, "Pulling", "a blob can be fetched", "spec.md#pull"),
        Requirement("new-1", Level.MUST, "Pulling", "a new rule", "spec.md#new"),
    ),
    package="demo_suite",
)
"""The demo suite's catalogue as a later spec version might have it."""

BASE = [
    ("t.py::test_fetch", "pull-1", "passed"),
    ("t.py::test_missing", "pull-2", "passed"),
    ("t.py::test_chunked", "push-1", "passed"),
    ("t.py::test_mount", "push-2", "skipped"),
    ("t.py::test_gc", "gc-1", "passed"),
]


def _with(rows: list[tuple[str, str, str]], **changes: str) -> list[tuple[str, str, str]]:
    """``rows`` with the outcome of some tests (by function name) replaced."""
    return [(n, r, changes.get(n.rpartition("::")[2], o)) for n, r, o in rows]


@pytest.fixture
def runs(make_document: Factory) -> list[dict[str, Any]]:
    """A vendor run given first and the reference second; they disagree on pull-2."""
    vendor = make_document(
        _with(BASE, test_missing="failed"),
        target=VENDOR,
        extra={"t.py::test_mount": {"skip_category": "capability"}},
    )
    reference = make_document(
        BASE, target=REFERENCE, extra={"t.py::test_mount": {"skip_category": "host"}}
    )
    return [vendor, reference]


class TestMatrix:
    """Requirements x implementations, reference first."""

    def test_reference_column_comes_first(self, runs: list[dict[str, Any]]) -> None:
        """The run whose target calls itself the reference is the first column."""
        view = matrix.build(runs, ["vendor.json", "ref.json"])
        assert [c.label for c in view.columns] == ["demo-reference@0.1", "acme@3.0"]
        assert [c.source for c in view.columns] == ["ref.json", "vendor.json"]
        assert view.columns[0].reference

    def test_cells_show_outcomes_and_skip_categories(self, runs: list[dict[str, Any]]) -> None:
        """Cells read pass/fail/skip(category)/untested per run."""
        rows = {r.id: r for r in matrix.build(runs).rows}
        assert [c.label for c in rows["pull-2"].cells] == ["pass", "fail"]
        assert [c.label for c in rows["push-2"].cells] == ["skip(host)", "skip(capability)"]
        assert rows["pull-2"].passed == "1/2"

    def test_disagreements_are_flagged(self, runs: list[dict[str, Any]]) -> None:
        """Only rows whose outcomes differ between runs are flagged."""
        view = matrix.build(runs)
        assert [r.id for r in view.rows if r.disagree] == ["pull-2"]
        assert view.disagreements == 1

    def test_per_column_verdict_and_pass_rates(self, runs: list[dict[str, Any]]) -> None:
        """Each column carries its verdict and MUST/SHOULD pass rates."""
        ref, vendor = matrix.build(runs).columns
        assert (ref.verdict, vendor.verdict) == ("conformant", "non-conformant")
        assert ref.must_rate == "3/3 (100%)"
        assert vendor.must_rate == "2/3 (66%)"
        assert vendor.should_rate == "1/1 (100%)"

    def test_different_suites_are_refused(self, runs: list[dict[str, Any]]) -> None:
        """Runs of two suites cannot share a matrix."""
        other = json.loads(json.dumps(runs[1]))
        other["suite"] = "other"
        with pytest.raises(matrix.MatrixError, match="different suites in one matrix: demo, other"):
            matrix.build([runs[0], other])

    def test_different_catalogues_raise_a_visible_banner(
        self, runs: list[dict[str, Any]], make_document: Factory, parse_html: Any
    ) -> None:
        """Runs made with different catalogues render under a warning banner."""
        newer = make_document(
            [("t.py::test_fetch", "pull-1", "passed"), ("t.py::test_new", "new-1", "passed")],
            catalogue=CHANGED_CATALOGUE,
            target=VENDOR,
        )
        view = matrix.build([runs[1], newer])
        page = parse_html(html.render("matrix.html.j2", view))
        banners = [b.text() for b in page.find_all("div", class_="banner")]
        assert any("different requirement catalogues" in b for b in banners)
        rows = {r.id: r for r in view.rows}
        assert [c.label for c in rows["new-1"].cells] == ["not in catalogue", "pass"]
        assert [c.label for c in rows["gc-1"].cells] == ["pass", "not in catalogue"]

    def test_same_catalogue_has_no_banner(
        self, runs: list[dict[str, Any]], parse_html: Any
    ) -> None:
        """Runs of the same catalogue and level render without a warning."""
        page = parse_html(html.render("matrix.html.j2", matrix.build(runs)))
        assert page.find_all("div", class_="banner") == []

    def test_page_rows_carry_filter_data(self, runs: list[dict[str, Any]], parse_html: Any) -> None:
        """Every requirement is a filterable row; the disagreeing one is highlighted."""
        page = parse_html(html.render("matrix.html.j2", matrix.build(runs)))
        rows = page.by_id("matrix").find_all("tr", class_="filterable")
        assert len(rows) == len(runs[0]["requirements"])
        flagged = [r.attrs["data-id"] for r in rows if r.attrs["data-disagree"] == "yes"]
        assert flagged == ["pull-2"]
        assert "disagree" in next(r for r in rows if r.attrs["data-id"] == "pull-2").attrs["class"]
        page.by_id("filter-disagree")

    def test_write_report_of_several_documents_is_the_matrix(
        self, runs: list[dict[str, Any]], tmp_path: Path, parse_html: Any
    ) -> None:
        """write_report with several documents of one suite writes the matrix page."""
        path = tmp_path / "m.html"
        html.write_report(runs, path)
        assert parse_html(path.read_text()).by_id("matrix")

    def test_markdown_and_csv_beside_the_page(
        self, runs: list[dict[str, Any]], tmp_path: Path
    ) -> None:
        """The matrix is also written as Markdown and CSV with the same cells."""
        matrix.write_all(matrix.build(runs), tmp_path / "matrix.html")
        table = list(csv.reader(io.StringIO((tmp_path / "matrix.csv").read_text())))
        assert table[0] == ["requirement", "level", "section", "demo-reference@0.1", "acme@3.0",
                            "disagree"]  # fmt: skip
        assert ["pull-2", "MUST", "Pulling", "pass", "fail", "yes"] in table
        markdown = (tmp_path / "matrix.md").read_text()
        assert "| pull-2 | MUST | Pulling | pass | fail | yes |" in markdown


class TestDelta:
    """Changes between two runs of one implementation."""

    @pytest.fixture
    def old(self, make_document: Factory) -> dict[str, Any]:
        return make_document(_with(BASE, test_chunked="failed"), target=VENDOR, level=Level.SHOULD)

    def _new(self, make_document: Factory, rows: list[tuple[str, str, str]]) -> dict[str, Any]:
        return make_document(rows, target=VENDOR, level=Level.SHOULD)

    def test_regressions_fixes_added_and_removed(
        self, old: dict[str, Any], make_document: Factory
    ) -> None:
        """Each test's change lands in its group; the verdict change is reported."""
        rows = _with(BASE, test_fetch="failed", test_mount="passed")
        rows = [r for r in rows if "test_gc" not in r[0]] + [("t.py::test_gc2", "gc-1", "passed")]
        result = delta.compute(old, self._new(make_document, rows))
        assert [(c.nodeid, c.old, c.new) for c in result.regressions] == [
            ("t.py::test_fetch", "passed", "failed")
        ]
        assert [c.nodeid for c in result.fixes] == ["t.py::test_chunked"]
        assert [c.nodeid for c in result.unskipped] == ["t.py::test_mount"]
        assert [c.nodeid for c in result.added] == ["t.py::test_gc2"]
        assert [c.nodeid for c in result.removed] == ["t.py::test_gc"]
        assert (result.old_verdict, result.new_verdict) == ("non-conformant", "non-conformant")
        assert not result.verdict_changed
        assert [c.nodeid for c in result.must_regressions] == ["t.py::test_fetch"]

    def test_newly_skipped_is_not_a_regression(
        self, old: dict[str, Any], make_document: Factory
    ) -> None:
        """A test that now skips is listed apart and does not gate."""
        new = self._new(make_document, _with(BASE, test_chunked="failed", test_gc="skipped"))
        result = delta.compute(old, new)
        assert [c.nodeid for c in result.newly_skipped] == ["t.py::test_gc"]
        assert result.regressions == []
        assert result.must_regressions == []

    def test_fix_changes_the_verdict(self, old: dict[str, Any], make_document: Factory) -> None:
        """Fixing the only failure moves the verdict to conformant."""
        result = delta.compute(old, self._new(make_document, BASE))
        assert result.verdict_changed
        assert (result.old_verdict, result.new_verdict) == ("non-conformant", "conformant")

    def test_different_suites_are_refused(self, old: dict[str, Any]) -> None:
        """A delta between runs of two suites is an error."""
        other = json.loads(json.dumps(old))
        other["suite"] = "other"
        with pytest.raises(delta.DeltaError, match="different suites"):
            delta.compute(old, other)

    def test_delta_json_and_page(
        self, old: dict[str, Any], make_document: Factory, tmp_path: Path, parse_html: Any
    ) -> None:
        """delta.json carries every group; the page lists regressions first."""
        new = self._new(make_document, _with(BASE, test_fetch="error"))
        result = delta.compute(old, new, "old.json", "new.json")
        delta.write_all(result, tmp_path / "delta.html")
        data = json.loads((tmp_path / "delta.json").read_text())
        assert data["schema"] == "delta-1.0"
        assert data["must_regressions"] == 1
        assert data["regressions"][0]["nodeid"] == "t.py::test_fetch"
        assert data["fixes"][0]["nodeid"] == "t.py::test_chunked"
        page = parse_html((tmp_path / "delta.html").read_text())
        headings = [h.attrs["id"] for h in page.find_all("h2")]
        assert headings[0] == "regressions"
        group = page.find_all("table", data_group="regressions")[0]
        assert "t.py::test_fetch" in group.text()


def test_index_links_each_suite_with_its_verdict(
    runs: list[dict[str, Any]], tmp_path: Path, parse_html: Any
) -> None:
    """The index page links every suite's report and shows its verdict; a broken run shows."""
    index.write_index(tmp_path / "index.html", [("demo", runs[0]), ("broken", None)])
    page = parse_html((tmp_path / "index.html").read_text())
    rows = {r.attrs["data-suite"]: r for r in page.by_id("suites").find_all("tr")[1:]}
    assert rows["demo"].attrs["data-verdict"] == "non-conformant"
    assert rows["demo"].find_all("a")[0].attrs["href"] == "demo/report.html"
    assert rows["broken"].attrs["data-verdict"] == "harness-error"
    assert page.by_id("verdict").text() == "harness-error"
