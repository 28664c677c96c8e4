"""The cni suite's negative checks fail against deliberately broken plugins.

Each broken plugin is a small shell wrapper around a reference plugin that misbehaves in
one way; the suite runs against it through ``--cni-path`` exactly as against a real target.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from conformance.cni.selftest import outcomes, run_suite
from conformance.cni.target import write_reference_path

pytestmark = [pytest.mark.system, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

# Each wrapper gets the real plugin as $REAL; stdin passes through the command substitution.
WRAPPERS = {
    "exit-zero-on-error": 'out=$("$REAL"); printf "%s\\n" "$out"; exit 0',
    "garbage-on-stdout": (
        '[ "$CNI_COMMAND" = VERSION ] && exec "$REAL"; '
        'out=$("$REAL"); rc=$?; printf "%s\\nDEBUG: done\\n" "$out"; exit $rc'
    ),
    "garbage-version": 'echo "supported: 1.0.0"; exit 0',
    "text-error-on-stderr": (
        'out=$("$REAL"); rc=$?; if [ $rc -ne 0 ]; then echo "it failed" >&2; '
        'else printf "%s\\n" "$out"; fi; exit $rc'
    ),
    "del-does-nothing": '[ "$CNI_COMMAND" = DEL ] && exit 0; exec "$REAL"',
    "check-always-passes": '[ "$CNI_COMMAND" = CHECK ] && exit 0; exec "$REAL"',
    "fixed-address": (
        '[ "$CNI_COMMAND" = ADD ] && { echo \'{"cniVersion":"1.1.0","ips":'
        '[{"address":"10.99.0.5/24","gateway":"10.99.0.1"}]}\'; exit 0; }; exec "$REAL"'
    ),
}

# (wrapper, plugin it wraps, -k expression, tests that must fail, extra args)
CASES = [
    (
        "exit-zero-on-error",
        "bridge",
        "test_unknown_command_is_refused",
        ["test_unknown_command_is_refused[v1.1.0-BOGUS]"],
    ),
    (
        "exit-zero-on-error",
        "bridge",
        "test_add_fails_when_the_interface_already_exists",
        ["test_add_fails_when_the_interface_already_exists[v1.1.0]"],
    ),
    (
        "garbage-on-stdout",
        "bridge",
        "test_add_result_has_the_format",
        ["test_add_result_has_the_format_of_its_version[v1.1.0]"],
    ),
    (
        "garbage-version",
        "bridge",
        "test_version_reports",
        ["test_version_reports_supported_versions[version-query-failed]"],
    ),
    (
        "text-error-on-stderr",
        "bridge",
        "test_malformed_configuration_is_refused",
        ["test_malformed_configuration_is_refused[v1.1.0-empty]"],
    ),
    (
        "del-does-nothing",
        "bridge",
        "test_del_removes_interface_links_and_address",
        ["test_del_removes_interface_links_and_address[v1.1.0]"],
    ),
    (
        "check-always-passes",
        "bridge",
        "test_check_detects_tampered_attachment",
        [
            "test_check_detects_tampered_attachment[v1.1.0-delete-interface]",
            "test_check_detects_tampered_attachment[v1.1.0-flush-addresses]",
        ],
    ),
    (
        "fixed-address",
        "host-local",
        "test_ipam_concurrent_adds",
        ["test_ipam_concurrent_adds_get_distinct_addresses[v1.1.0]"],
    ),
]


def _broken_path(tmp_path: Path, wrapper: str, wrapped: str) -> Path:
    # The launchers move into tmp_path, which pytest removes; the wrappers call them there.
    made = write_reference_path()
    real = tmp_path / "real"
    shutil.copytree(made, real)
    shutil.rmtree(made)
    broken = tmp_path / "bin"
    broken.mkdir()
    for exe in real.iterdir():
        target = broken / exe.name
        if exe.name == wrapped:
            target.write_text(f"#!/bin/sh\nREAL={exe}\n{WRAPPERS[wrapper]}\n")
        else:
            target.write_text(exe.read_text())
        target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return broken


@pytest.mark.parametrize(
    ("wrapper", "wrapped", "select", "must_fail"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_suite_fails_a_broken_plugin(
    tmp_path: Path, wrapper: str, wrapped: str, select: str, must_fail: list[str]
) -> None:
    """The selected checks report a failure when the plugin misbehaves that way."""
    path = _broken_path(tmp_path, wrapper, wrapped)
    _, document = run_suite(
        tmp_path / "report",
        f"--cni-path={path}",
        "--cni-versions",
        "1.1.0",
        "--level",
        "should",
        "-k",
        select,
    )
    got = outcomes(document)
    for test in must_fail:
        assert got.get(test) == "failed", f"{test}: expected failed, got {got.get(test)}: {got}"


def test_suite_passes_the_unbroken_wrapper_baseline(tmp_path: Path) -> None:
    """The same selections pass against the reference plugins copied unchanged."""
    path = _broken_path(tmp_path, "exit-zero-on-error", "none")
    select = " or ".join(sorted({c[2] for c in CASES}))
    _, document = run_suite(
        tmp_path / "report",
        f"--cni-path={path}",
        "--cni-versions",
        "1.1.0",
        "--level",
        "should",
        "-k",
        select,
    )
    bad = {t: o for t, o in outcomes(document).items() if o not in ("passed",)}
    assert not bad, bad
