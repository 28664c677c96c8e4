"""The result model: phase merging, verdict rules and schema validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.core import results
from conformance.core.errors import ConfigurationError

Factory = Callable[..., dict[str, Any]]


def _record(outcome: str, **fields: Any) -> results.TestRecord:
    return results.TestRecord("t.py::a", ["pull-1"], "MUST", outcome, **fields)


class TestMergePhase:
    """A test's setup, call and teardown records fold into one."""

    def test_failure_in_teardown_wins_over_passing_call(self) -> None:
        """A passing call followed by a teardown error ends as error."""
        record = _record("passed", duration=1.0)
        record.merge_phase(_record("error", duration=0.5, message="cleanup failed"))
        assert (record.outcome, record.message, record.duration) == ("error", "cleanup failed", 1.5)

    def test_failure_is_not_hidden_by_a_later_pass(self) -> None:
        """A failed call stays failed when teardown passes."""
        record = _record("failed", message="got 500")
        record.merge_phase(_record("passed"))
        assert (record.outcome, record.message) == ("failed", "got 500")

    def test_warning_is_overridden_by_a_harder_outcome(self) -> None:
        """A SHOULD warning followed by a teardown error ends as error."""
        record = _record("warning")
        record.merge_phase(_record("error"))
        assert record.outcome == "error"

    def test_evidence_is_not_duplicated(self) -> None:
        """Evidence already present is not appended twice."""
        entry = {"kind": "note", "text": "x"}
        record = _record("passed", evidence=[entry])
        record.merge_phase(_record("passed", evidence=[entry, {"kind": "note", "text": "y"}]))
        assert [e["text"] for e in record.evidence] == ["x", "y"]


@pytest.mark.parametrize(
    ("rows", "level", "verdict"),
    [
        ([("a", "pull-1", "passed"), ("b", "pull-2", "passed"), ("c", "gc-1", "passed")],
         "MUST", "conformant"),
        ([("a", "pull-1", "passed"), ("b", "pull-2", "passed"), ("c", "gc-1", "passed"),
          ("d", "push-1", "warning")], "MUST", "conformant-with-warnings"),
        ([("a", "pull-1", "failed"), ("b", "pull-2", "error")], "MUST", "non-conformant"),
        ([("a", "pull-1", "known-deviation"), ("b", "pull-2", "passed"), ("c", "gc-1", "passed")],
         "MUST", "non-conformant"),
        ([("a", "pull-1", "passed"), ("b", "pull-2", "passed")], "MUST", "incomplete"),
        ([("a", "pull-1", "passed"), ("b", "pull-2", "passed"), ("c", "gc-1", "passed")],
         "SHOULD", "incomplete"),
        ([], "MUST", "incomplete"),
    ],
)  # fmt: skip
def test_verdict_rules(
    make_document: Factory, rows: list[tuple[str, str, str]], level: str, verdict: str
) -> None:
    """Failures beat everything; missing or broken MUSTs make the run incomplete."""
    from conformance.core.catalogue import Level

    assert make_document(rows, level=Level(level))["verdict"] == verdict


def test_capability_skip_of_must_still_certifies(make_document: Factory) -> None:
    """An optional capability not offered does not stop a run from being conformant."""
    rows = [("a", "pull-1", "passed"), ("b", "pull-2", "skipped"), ("c", "gc-1", "passed")]
    extra = {"b": {"skip_category": "capability"}}
    assert make_document(rows, extra=extra)["verdict"] == "conformant"


def test_host_skip_of_must_is_incomplete(make_document: Factory) -> None:
    """A MUST test the host could not run leaves the run incomplete, with the reason."""
    rows = [("a", "pull-1", "passed"), ("b", "pull-2", "skipped"), ("c", "gc-1", "passed")]
    document = make_document(rows, extra={"b": {"skip_category": "host"}})
    assert document["verdict"] == "incomplete"
    assert document["verdict_reasons"] == ["1 tests at level MUST skipped for host or config"]


def test_load_names_the_broken_field(make_document: Factory, tmp_path: Path) -> None:
    """An invalid results file is refused with the JSON path of the bad field."""
    document = make_document([("a", "pull-1", "passed")])
    document["tests"][0]["outcome"] = "sort-of"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="invalid at tests/0/outcome"):
        results.load(path)


def test_load_refuses_unreadable_json(tmp_path: Path) -> None:
    """A file that is not JSON is refused naming the file."""
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match=f"cannot read results {path}"):
        results.load(path)


def test_write_then_load_round_trips(make_document: Factory, tmp_path: Path) -> None:
    """A written document loads back unchanged."""
    document = make_document([("a", "pull-1", "failed")])
    results.write(document, tmp_path / "r" / "results.json")
    assert results.load(tmp_path / "r" / "results.json") == document
