"""The HTML report of one run, checked by parsing the page rather than by snapshots."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.core import results
from reports import html, model

HOSTILE = "<script>alert('owned')</script>"

ROWS = [
    ("t.py::test_blob_fetch", "pull-1", "passed"),
    ("t.py::test_blob_fetch_head", "pull-1", "failed"),
    ("t.py::test_missing_blob", "pull-2", "known-deviation"),
    ("t.py::test_chunked", "push-1", "warning"),
    ("t.py::test_mount", "push-2", "skipped"),
    ("t.py::test_mount_other", "push-2", "not-applicable"),
    ("t.py::test_mount_host", "push-2", "skipped"),
    ("t.py::test_broken", "pull-2", "error"),
]

EXTRA: dict[str, dict[str, Any]] = {
    "t.py::test_blob_fetch": {
        "evidence": [
            {"kind": "http", "method": "GET", "url": "http://127.0.0.1:5000/v2/", "status": 200}
        ]
    },
    "t.py::test_blob_fetch_head": {
        "message": HOSTILE,
        "finding": {
            "where": "/v2/<name>/blobs/<digest>",
            "expected": "status 200",
            "got": HOSTILE,
            "reference": "https://example.org/demo-spec/blob/v1.0.0/spec.md#pull",
        },
        "evidence": [
            {
                "kind": "http",
                "method": "HEAD",
                "url": "http://127.0.0.1:5000/v2/a/blobs/sha256:00",
                "status": 500,
                "request_headers": {"Authorization": "[redacted]"},
                "response_body": HOSTILE,
            },
            {"kind": "command", "argv": ["skopeo", "inspect"], "returncode": 1, "stderr": "boom"},
            {"kind": "rpc", "method": "CreateVolume", "request": {"name": "v"}, "code": "OK"},
            {"kind": "note", "text": "state seen", "data": {"n": 1}},
            {"kind": "attachment", "name": "config.json", "content": "{}"},
        ],
    },
    "t.py::test_missing_blob": {
        "message": "answered 200",
        "deviation": {
            "implementation": "demo-registry",
            "requirement": "pull-2",
            "reason": "answers 200 with an empty body",
            "upstream": "https://example.org/demo/issues/7",
        },
    },
    "t.py::test_chunked": {"message": "chunks refused"},
    "t.py::test_mount": {"message": "capability not offered: mount", "skip_category": "capability"},
    "t.py::test_mount_other": {"message": "405 allowed", "skip_category": "capability"},
    "t.py::test_mount_host": {"message": "host: no network", "skip_category": "host"},
    "t.py::test_broken": {"message": "KeyError: 'x'"},
}


@pytest.fixture
def document(make_document: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A run with every outcome, a hostile message and an untested requirement (gc-1)."""
    target = {
        "kind": "registry",
        "address": "http://127.0.0.1:5000",
        "name": f"evil{HOSTILE}",
        "version": "2.8.3",
        "details": {"mode": "proxy"},
    }
    return make_document(ROWS, target=target, extra=EXTRA)


@pytest.fixture
def page(document: dict[str, Any], parse_html: Callable[[str], Any]) -> Any:
    """The rendered report, parsed."""
    return parse_html(html.render_report(document))


def _cells(row: Any) -> dict[str, int]:
    return {td.attrs["data-outcome"]: int(td.text()) for td in row.find_all("td")}


def test_counts_equal_the_json_summary(page: Any, document: dict[str, Any]) -> None:
    """The counts table shows exactly the summary of results.json."""
    cells = _cells(page.by_id("counts"))
    summary = document["summary"]
    for outcome, key in model.COUNT_KEY.items():
        assert cells[outcome] == summary[key], outcome
    assert cells["total"] == summary["total"] == len(ROWS)


def test_level_grid_equals_the_json_per_level(page: Any, document: dict[str, Any]) -> None:
    """The MUST/SHOULD/MAY x outcome grid shows summary_by_level."""
    for row in page.by_id("level-grid").find_all("tr")[1:]:
        level = row.attrs["data-level"]
        cells = _cells(row)
        for outcome, key in model.COUNT_KEY.items():
            assert cells[outcome] == document["summary_by_level"][level][key]


def test_every_requirement_has_a_row_with_its_outcome(page: Any, document: dict[str, Any]) -> None:
    """The traceability table lists every catalogue requirement, untested ones marked."""
    rows = page.by_id("traceability").find_all("tr", class_="requirement")
    shown = {r.attrs["data-id"]: r.attrs["data-outcome"] for r in rows}
    assert shown == {r["id"]: r["outcome"] for r in document["requirements"]}
    assert shown["gc-1"] == "untested"
    gc_row = next(r for r in rows if r.attrs["data-id"] == "gc-1")
    assert "no test" in gc_row.text()
    link = gc_row.find_all("a")[0]
    assert link.attrs["href"] == "https://example.org/demo-spec/blob/v1.0.0/spec.md#gc"


def test_header_names_spec_target_digests_and_verdict(page: Any, document: dict[str, Any]) -> None:
    """The header carries verdict, spec, implementation, harness, digests and duration."""
    assert page.by_id("verdict").text() == document["verdict"] == "non-conformant"
    facts = {
        tr.find_all("th")[0].text(): tr.find_all("td")[0].text()
        for tr in page.by_id("facts").find_all("tr")
    }
    assert facts["Specification"] == "Demo Specification v1.0.0"
    assert facts["Implementation"] == f"evil{HOSTILE} 2.8.3"
    assert facts["Target address"] == "http://127.0.0.1:5000"
    assert facts["Target mode"] == "proxy"
    assert facts["Catalogue digest"] == document["catalogue_digest"]
    assert facts["results.json sha256"] == model.results_sha256(document)
    assert facts["Harness"].startswith("container-conformance ")
    assert facts["Duration"] == "1m 30s"


def test_sha256_matches_the_written_results_file(document: dict[str, Any], tmp_path: Path) -> None:
    """The digest in the header is the sha256 of results.json as the harness writes it."""
    path = tmp_path / "results.json"
    results.write(document, path)
    assert model.results_sha256(document) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hostile_strings_are_escaped(document: dict[str, Any], parse_html: Any) -> None:
    """A message containing <script> is shown as text and never becomes markup."""
    text = html.render_report(document)
    page = parse_html(text)
    assert len(page.find_all("script")) == 1  # the report's own filter script
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in text
    assert any(HOSTILE in pre.text() for pre in page.find_all("pre"))


def test_nothing_is_loaded_from_the_network(page: Any) -> None:
    """Scripts and styles are inline; no element loads a resource by URL."""
    for node in page.iter():
        assert "src" not in node.attrs, node.tag
        if node.tag == "link":
            raise AssertionError(f"external <link>: {node.attrs}")
    style = "".join(s.text() for s in page.find_all("style"))
    assert "url(" not in style
    assert "@import" not in style


def test_only_http_links_are_emitted(make_document: Any, parse_html: Any) -> None:
    """A javascript: URL in a deviation's upstream is shown as text, never as a link."""
    extra = {
        "t.py::a": {"deviation": {"reason": "r", "upstream": "javascript:alert(1)"}},
    }
    document = make_document([("t.py::a", "pull-1", "known-deviation")], extra=extra)
    page = parse_html(html.render_report(document))
    hrefs = [a.attrs.get("href") or "" for a in page.find_all("a")]
    assert not [h for h in hrefs if h.lower().startswith("javascript")]


def test_failures_come_first_must_before_should(page: Any) -> None:
    """Failures are listed MUST first, then SHOULD warnings, each open with its finding."""
    heading = page.by_id("failures-heading")
    siblings = [c for c in heading.parent.children if not isinstance(c, str)]
    start = siblings.index(heading)
    blocks = [n for n in siblings[start + 1 :] if n.tag == "details"][:2]
    ids = [b.attrs["id"] for b in blocks]
    assert ids == ["f-" + model.anchor_of("t.py::test_blob_fetch_head"),
                   "f-" + model.anchor_of("t.py::test_chunked")]  # fmt: skip
    first = blocks[0]
    assert "open" in first.attrs
    finding = first.find_all("table", class_="finding")[0].text()
    assert "/v2/<name>/blobs/<digest>" in finding
    assert "status 200" in finding


def test_evidence_of_every_kind_is_in_collapsible_blocks(page: Any) -> None:
    """HTTP exchanges, commands, RPCs, notes and attachments each get a details block."""
    block = page.by_id(model.anchor_of("t.py::test_blob_fetch_head"))
    kinds = [d.attrs["class"].split()[1] for d in block.find_all("details", class_="evidence")]
    assert kinds == [
        "evidence-http",
        "evidence-command",
        "evidence-rpc",
        "evidence-note",
        "evidence-attachment",
    ]
    http_text = block.find_all("details", class_="evidence-http")[0].text()
    assert "HEAD http://127.0.0.1:5000/v2/a/blobs/sha256:00 -> 500" in http_text
    assert "Authorization: [redacted]" in http_text


def test_skips_grouped_by_category_with_the_rule(page: Any) -> None:
    """Skips are grouped by category, each group stating whether it counts."""
    groups = {t.attrs["data-category"]: t for t in page.find_all("table", class_="skips")}
    assert set(groups) == {"capability", "host", "not-applicable"}
    assert "host: no network" in groups["host"].text()
    assert "capability not offered: mount" in groups["capability"].text()
    body = page.text()
    assert model.SKIP_MEANING["capability"] in body
    assert model.SKIP_MEANING["host"] in body


def test_known_deviation_shows_reason_and_upstream(page: Any) -> None:
    """A known deviation is listed with its reason and a link upstream."""
    table = page.by_id("deviations")
    assert "answers 200 with an empty body" in table.text()
    hrefs = [a.attrs["href"] for a in table.find_all("a")]
    assert "https://example.org/demo/issues/7" in hrefs


def test_verdict_reasons_are_listed(page: Any, document: dict[str, Any]) -> None:
    """The reasons behind the verdict are printed under it."""
    items = [li.text() for li in page.by_id("verdict-reasons").find_all("li")]
    assert items == document["verdict_reasons"]


def test_filter_controls_and_rows_are_present(page: Any) -> None:
    """Outcome, level and text filters exist and every table row can be filtered."""
    for control in ("filter-outcome", "filter-level", "filter-text"):
        page.by_id(control)
    options = [o.attrs["value"] for o in page.by_id("filter-outcome").find_all("option")]
    assert {"failed", "passed", "untested"} <= set(options)
    tests = page.by_id("tests").find_all("tr", class_="filterable")
    assert len(tests) == len(ROWS)


def test_empty_run_renders_an_honest_page(make_document: Any, parse_html: Any) -> None:
    """A run with no tests renders, says incomplete and lists every requirement as untested."""
    document = make_document([])
    page = parse_html(html.render_report(document))
    assert page.by_id("verdict").text() == "incomplete"
    outcomes = {r.attrs["data-outcome"] for r in page.find_all("tr", class_="requirement")}
    assert outcomes == {"untested"}


def test_write_report_writes_one_self_contained_file(
    document: dict[str, Any], tmp_path: Path
) -> None:
    """write_report writes one HTML file and nothing beside it."""
    path = tmp_path / "out" / "report.html"
    html.write_report([document], path)
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    assert re.search(r"<!DOCTYPE html>", path.read_text())


def test_write_report_refuses_nothing(tmp_path: Path) -> None:
    """Asking for a report of no documents is a clear error."""
    with pytest.raises(ValueError, match="at least one"):
        html.write_report([], tmp_path / "x.html")


def test_stale_deviation_is_listed(make_document: Any, parse_html: Any) -> None:
    """A passing test that carries a declared deviation is listed as a stale entry."""
    extra = {"t.py::a": {"deviation": {"reason": "used to fail", "upstream": ""}}}
    document = make_document([("t.py::a", "pull-1", "passed")], extra=extra)
    page = parse_html(html.render_report(document))
    assert "used to fail" in page.by_id("stale-deviations").text()
