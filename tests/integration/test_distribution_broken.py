"""Each negative check of the distribution suite fails against a deliberately broken registry.

The reference registry is started with ``--fault NAME`` (see
``reference_impl.distribution.app.FAULTS``); the suite runs against it in a subprocess and the
check that covers the fault must come out ``failed``, while unrelated checks still pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite
from conformance.distribution.target import ReferenceRegistry

pytestmark = pytest.mark.slow

# Faults that do not interfere with each other's checks share one registry (one suite run).
GROUPS = {
    "integrity": {
        "skip-blob-digest-check": ["test_put_with_wrong_digest_is_refused_with_400"],
        "skip-manifest-digest-check": ["test_manifest_pushed_under_wrong_digest_is_refused"],
        "accept-out-of-order-chunks": ["test_out_of_order_chunk_is_refused_with_416"],
        "no-subject-header": ["test_put_with_subject_returns_oci_subject"],
        "no-upload-status": ["test_upload_status_reports_range_received"],
    },
    "discovery": {
        "500-on-unknown-blob": ["test_unknown_blob_returns_404[GET]"],
        "unsorted-tags": ["test_tags_are_listed_in_lexical_order"],
        "ignore-tag-pagination": [
            "test_n_zero_returns_no_tags_and_no_link",
            "test_last_continues_strictly_after_that_tag",
        ],
        "referrers-404": ["test_referrers_of_unknown_subject_is_an_empty_index"],
    },
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_suite_catches_each_fault(group: str, tmp_path: Path) -> None:
    """The checks covering each fault fail; a check unrelated to the faults still passes."""
    cases = GROUPS[group]
    names = [n for checks in cases.values() for n in checks]
    selector = " or ".join(n.split("[")[0] for n in names) + " or test_base_endpoint_answers_200"
    with ReferenceRegistry(tmp_path / "reg", faults=tuple(cases)) as registry:
        doc = run_suite(
            "distribution", tmp_path / "report", "--registry-url", registry.url, "-k", selector
        )
    got = doc.outcomes()
    for fault, checks in cases.items():
        for name in checks:
            assert got.get(name) == "failed", f"{fault}: {name} -> {got.get(name)}"
    assert got["test_base_endpoint_answers_200"] == "passed"


def test_plain_text_errors_fail_the_error_code_checks(tmp_path: Path) -> None:
    """A registry sending non-JSON error bodies fails the error-code (SHOULD) checks."""
    with ReferenceRegistry(tmp_path / "reg", faults=("plain-text-errors",)) as registry:
        doc = run_suite(
            "distribution",
            tmp_path / "report",
            "--registry-url",
            registry.url,
            "--level",
            "should",
            "-k",
            "names_blob_unknown or names_manifest_unknown or test_unknown_blob_returns_404",
        )
    got = doc.outcomes()
    assert got["test_unknown_blob_error_names_blob_unknown"] == "failed"
    assert got["test_unknown_manifest_error_names_manifest_unknown"] == "failed"
    assert got["test_unknown_blob_returns_404[GET]"] == "passed"
