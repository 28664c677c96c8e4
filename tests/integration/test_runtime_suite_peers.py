"""The runtime suite against the real runtimes installed from Debian.

Every failure against a peer must be a declared known deviation; nothing may end as an
error; and the run must leave no containers, state, processes, mounts or cgroups behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.peer, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _run_suite(
    tmp_path: Path, preset: str, *extra: str, timeout: float = 200
) -> tuple[dict, subprocess.CompletedProcess[str]]:
    if os.geteuid() != 0:
        pytest.skip("the runtime suite needs root")
    if shutil.which(preset) is None:
        pytest.skip(f"{preset} is not installed")
    report_dir = tmp_path / "report"
    argv = [
        sys.executable, "-m", "pytest", "--pyargs", "conformance.runtime",
        f"--runtime-preset={preset}", f"--runtime-root={tmp_path / 'root'}",
        f"--report-dir={report_dir}", "-p", "no:cacheprovider", "-q", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    results = json.loads((report_dir / "runtime" / "results.json").read_text())
    return results, proc


def _unexplained(results: dict) -> list[str]:
    return [
        f"{t['nodeid']}: {t['outcome']}: {(t.get('message') or '')[:300]}"
        for t in results["tests"]
        if t["outcome"] in ("failed", "error")
    ]


def _leftovers(tmp_path: Path, results: dict) -> list[str]:
    """What this run left: state entries, mounts, processes and cgroups of its own containers.

    Scoped to the run's directory and the container ids its results name, because the other
    xdist workers run the suite (and other suites) on the same host at the same time.
    """
    ids = set(re.findall(r"conf-[0-9a-f]{10}", json.dumps(results)))
    found = [f"state entry {p}" for p in (tmp_path / "root").glob("conf-*")]
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    found += [m for m in mounts if str(tmp_path) in m or any(i in m for i in ids)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(tmp_path) in cmdline and "pytest" not in cmdline:
            found.append(f"process {entry.name}: {cmdline}")
    cgroups = Path("/sys/fs/cgroup").glob("*/conformance/conf-*")
    found += [f"cgroup {p}" for p in cgroups if p.name in ids]
    return found


def test_suite_against_runc_has_only_known_deviations(tmp_path: Path) -> None:
    """runc fails only where runc.yaml declares it, and the run cleans up after itself."""
    results, proc = _run_suite(tmp_path, "runc", "-n", "2")

    assert results["target"]["name"] == "runc"
    assert _unexplained(results) == [], proc.stdout[-3000:]
    assert results["summary"]["passed"] > 50
    assert _leftovers(tmp_path, results) == []


def test_suite_against_crun_has_only_known_deviations(tmp_path: Path) -> None:
    """crun (through its preset) fails only where crun.yaml declares it, and cleans up.

    Lifecycle, process and hook tests only, to keep the peer tests short; `tox -e runtime`
    runs the whole suite against crun.
    """
    selection = "test_lifecycle or test_process or test_hooks or test_terminal"
    results, proc = _run_suite(tmp_path, "crun", "-n", "2", "-k", selection)

    assert results["target"]["name"] == "crun"
    assert _unexplained(results) == [], proc.stdout[-3000:]
    assert results["summary"]["passed"] > 40
    assert _leftovers(tmp_path, results) == []


def test_lifecycle_smoke_against_runsc_has_only_known_deviations(tmp_path: Path) -> None:
    """runsc passes the state and lifecycle checks except the deviations runsc.yaml declares.

    The duplicate-id case is left out: runsc orphans the first sandbox there (gvisor#10724).
    """
    results, proc = _run_suite(
        tmp_path,
        "runsc",
        "-n",
        "2",
        "-k",
        "test_lifecycle and (state or start_of or delete) and not id_in_use",
    )

    assert results["target"]["name"] == "runsc"
    assert _unexplained(results) == [], proc.stdout[-3000:]
    assert results["summary"]["passed"] >= 6
