"""The smi suite's negative checks fail against a deliberately broken reference mesh.

Each case starts the suite in a subprocess against the reference run with one ``--debug-*``
flag that breaks a behaviour, selects the tests that guard that behaviour, and asserts from
``results.json`` that every one of them failed (and that they are not skipped or errors).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite

CASES = {
    "ignore-weights": (
        "--debug-ignore-weights",
        "test_split.py and (proportion or relative or three_way or weight_zero)",
        4,
    ),
    "allow-all": (
        "--debug-allow-all",
        "test_access.py and (without_traffic_target or unlisted or claiming or named_match"
        " or only_the_listed_port or anchored_at_the_start)",
        7,
    ),
    "accept-invalid": (
        "--debug-accept-invalid",
        "test_admission.py and (incomplete or malformed_traffic_target or 422 or refused_update)",
        13,
    ),
}


def _run_suite(flag: str, selection: str, report_dir: Path) -> dict[str, object]:
    run = run_suite(
        "smi",
        report_dir,
        "-n",
        "0",
        "--level=should",
        "-k",
        selection,
        f"--smi-reference-args={flag}",
        "--smi-requests=300",
        timeout=400,
    )
    return run.document


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_negative_checks_fail_against_broken_mesh(case: str, tmp_path: Path) -> None:
    """Every selected test fails (not skips, not errors) when the mesh is broken that way."""
    flag, selection, expected = CASES[case]
    document = _run_suite(flag, selection, tmp_path)
    tests = document["tests"]
    assert isinstance(tests, list)
    outcomes = {t["nodeid"]: t["outcome"] for t in tests}
    assert len(outcomes) == expected, outcomes
    not_failed = {
        t["nodeid"]: f"{t['outcome']}: {(t.get('message') or '')[:500]}"
        for t in tests
        if t["outcome"] != "failed"
    }
    assert not not_failed, f"with {flag} these tests did not fail: {not_failed}"
    assert document["verdict"] == "non-conformant"
    assert document["target"]["name"] == "smi-reference-mesh"
