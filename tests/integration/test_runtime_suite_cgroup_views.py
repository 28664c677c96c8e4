"""The cgroup tests of the runtime suite through the host view and the cgroup2 view.

On this kind of host (hybrid cgroup v1) a runtime in its default mode manages the v1
hierarchies, and the hugetlb controller lives only in the unified hierarchy; the
``*-cgroup2`` presets give the runtime a private mount namespace whose ``/sys/fs/cgroup`` is
that cgroup2 hierarchy, so its v2 code path runs. Checked here: the reference passes every
cgroup test both ways (the hugetlb and unified tests run, not skip, in the cgroup2 view);
runc in its cgroup2 view fails only where runc.yaml says; and a reference that silently
drops hugepageLimits, unified and a zero pids limit fails exactly those tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from conformance.core.selfrun import CHECKOUT, SuiteRun, run_suite

pytestmark = [pytest.mark.peer, pytest.mark.slow]

WRAPPER = CHECKOUT / "conformance" / "runtime" / "presets" / "cgroup2-view.sh"

V2_ONLY = {
    "test_hugepage_limit_is_applied",
    "test_unknown_hugepage_size_fails_create",
    "test_unified_keys_are_written_verbatim",
}

DROPPING_RUNTIME = textwrap.dedent(
    """\
    import json, os, sys

    argv = sys.argv[1:]
    if "create" in argv:
        tail = argv[argv.index("create") + 1:]
        bundle = tail[tail.index("--bundle") + 1] if "--bundle" in tail else "."
        config = os.path.join(bundle, "config.json")
        with open(config) as f:
            data = json.load(f)
        res = data.get("linux", {}).get("resources", {})
        res.pop("hugepageLimits", None)
        res.pop("unified", None)
        if res.get("pids", {}).get("limit") == 0:
            res.pop("pids")
        with open(config, "w") as f:
            json.dump(data, f)
    os.execv(sys.executable, [sys.executable, "-m", "reference_impl.runtime", *argv])
    """
)


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the runtime suite needs root")
    if not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists():
        pytest.skip("not a hybrid cgroup host: the cgroup2 view is the host view here")


def _failures(run: SuiteRun) -> list[str]:
    return sorted(run.with_outcome("failed", "error"))


def _leftovers(run: SuiteRun) -> list[str]:
    """cgroup directories left for the containers of this run (other runs may share the host)."""
    ids = set(re.findall(r"conf-[0-9a-f]{10}", json.dumps(run.document)))
    found = Path("/sys/fs/cgroup").glob("*/conformance/conf-*")
    return [str(p) for p in found if p.name in ids]


def test_reference_passes_the_cgroup_tests_in_its_v2_mode(tmp_path: Path) -> None:
    """Through the reference-cgroup2 preset every cgroup test passes or skips for the host."""
    _needs_root()

    run = run_suite(
        "runtime",
        tmp_path / "report",
        "--runtime-preset=reference-cgroup2",
        f"--runtime-root={tmp_path / 'root'}",
        "-k",
        "test_cgroups",
    )

    assert _failures(run) == [], run.output_tail()
    passed = run.with_outcome("passed")
    assert V2_ONLY | {"test_unified_key_of_an_absent_controller_fails_create"} <= passed
    assert {t for t in passed if t.startswith("test_device_allow_list_is_enforced")}, passed
    assert _leftovers(run) == []


def test_runc_in_its_v2_mode_has_only_known_deviations(tmp_path: Path) -> None:
    """runc through the runc-cgroup2 preset fails only where runc.yaml declares it."""
    _needs_root()
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")

    run = run_suite(
        "runtime",
        tmp_path / "report",
        "--runtime-preset=runc-cgroup2",
        f"--runtime-root={tmp_path / 'root'}",
        "-k",
        "test_cgroups",
    )

    assert _failures(run) == [], run.output_tail()
    assert {"test_unified_keys_are_written_verbatim"} <= run.with_outcome("passed")
    assert _leftovers(run) == []


@pytest.mark.parametrize(
    ("view", "expected_failures"),
    [
        (
            "host",
            {
                "test_pids_limit_zero_forbids_new_tasks",
                "test_unified_key_of_an_absent_controller_fails_create",
            },
        ),
        ("unified", V2_ONLY | {"test_unified_key_of_an_absent_controller_fails_create"}),
    ],
)
def test_dropped_resources_fail_their_tests(
    tmp_path: Path, view: str, expected_failures: set[str]
) -> None:
    """A reference that ignores hugepageLimits, unified and pids 0 fails exactly those tests."""
    _needs_root()
    script = tmp_path / "dropping_runtime.py"
    script.write_text(DROPPING_RUNTIME)
    options = [f"--runtime={sys.executable} {script}", "--implementation=dropping-reference"]
    if view == "unified":
        options += [f"--runtime-wrapper=/bin/sh {WRAPPER}", "--runtime-cgroup-view=unified"]

    run = run_suite(
        "runtime",
        tmp_path / "report",
        *options,
        f"--runtime-root={tmp_path / 'root'}",
        "-k",
        "test_cgroups",
    )

    assert set(_failures(run)) == expected_failures, run.output_tail()
    assert _leftovers(run) == []
