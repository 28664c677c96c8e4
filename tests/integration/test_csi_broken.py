"""Each negative check of the CSI suite can fail: run it against a deliberately broken reference.

The reference driver reads ``CSI_REFERENCE_FAULTS`` (see ``reference_impl.csi.driver.FAULTS``)
and then skips validation, answers OK for missing objects, ignores name idempotency or
accepts any paging token. The suite runs in a subprocess; the named tests must fail in its
results.json.
"""

from __future__ import annotations

import os

import pytest

from conformance.core.selfrun import run_suite

FAULTS = "skip-validation,missing-is-ok,duplicate-names,accept-any-token,hide-snapshot-metadata"
"""All deliberate faults at once: each breaks a different rule, so one run shows them all."""

EXPECTED_FAILURES = {
    # skip-validation: required fields are no longer checked
    "test_create_volume_without_name_is_invalid_argument": "skip-validation",
    "test_delete_volume_without_id_is_invalid_argument": "skip-validation",
    "test_node_publish_without_required_field_is_invalid_argument[target_path]": (
        "skip-validation"
    ),
    "test_create_snapshot_without_required_field_is_invalid_argument[name]": "skip-validation",
    "test_create_volume_with_incomplete_capability_is_invalid_argument[access_mode]": (
        "skip-validation"
    ),
    # missing-is-ok: unknown objects answer OK instead of NOT_FOUND
    "test_validate_volume_capabilities_of_unknown_volume_is_not_found": "missing-is-ok",
    "test_controller_publish_of_unknown_volume_is_not_found": "missing-is-ok",
    "test_node_get_volume_stats_of_unknown_volume_is_not_found": "missing-is-ok",
    "test_get_snapshot_of_unknown_id_is_not_found": "missing-is-ok",
    "test_create_volume_from_unknown_snapshot_is_not_found": "missing-is-ok",
    # duplicate-names: CreateVolume makes a new volume for a name it already has
    "test_create_volume_twice_with_same_arguments_returns_same_volume": "duplicate-names",
    "test_parallel_create_volume_with_one_name_yields_one_volume": "duplicate-names",
    "test_create_volume_same_name_other_capacity_is_already_exists": "duplicate-names",
    # accept-any-token: paging restarts instead of answering ABORTED
    "test_list_volumes_with_invalid_token_is_aborted": "accept-any-token",
    "test_list_snapshots_with_invalid_token_is_aborted": "accept-any-token",
    # hide-snapshot-metadata: a service served although not advertised
    "test_unoffered_snapshot_metadata_service_is_unimplemented": "hide-snapshot-metadata",
}


def _selection() -> str:
    names = {name.split("[")[0] for name in EXPECTED_FAILURES}
    return " or ".join(sorted(names))


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory) -> dict:
    """Results of the suite run once against the reference with every fault switched on."""
    if os.geteuid() != 0:
        pytest.skip("the suite needs root to start the reference driver")
    run = run_suite(
        "csi",
        tmp_path_factory.mktemp("csi-broken"),
        "-n",
        "0",
        "--level=should",
        "-k",
        _selection(),
        env={"CSI_REFERENCE_FAULTS": FAULTS},
        timeout=300,
    )
    assert run.returncode == 1, "the suite must fail against a broken driver"
    return run.document


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILURES))
def test_negative_check_fails_against_broken_reference(broken_run, name):
    """The suite's test of the broken rule fails, naming where the violation happened."""
    records = {t["nodeid"].split("::")[-1]: t for t in broken_run["tests"]}

    record = records.get(name)

    assert record is not None, f"{name} did not run"
    assert record["outcome"] == "failed", f"{name}: {record['outcome']} ({EXPECTED_FAILURES[name]})"
    assert record["finding"]["where"], "the failure names where it happened"


def test_broken_reference_is_not_conformant(broken_run):
    """The run's verdict reflects the failures."""
    assert broken_run["verdict"] != "conformant"
    assert broken_run["summary"]["failed"] >= len(EXPECTED_FAILURES)
