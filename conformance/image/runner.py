"""Run the image suite in a subprocess and read its results.json (for self-tests and bench)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
"""The checkout (or site-packages dir) holding the ``conformance`` package."""


def run_suite(tmp_path: Path, *options: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``pytest --pyargs conformance.image`` with ``options``; return results.json."""
    report = tmp_path / "report"
    argv = [
        sys.executable, "-m", "pytest", "--pyargs", "conformance.image", "-q",
        "-p", "no:cacheprovider", "--level", "should", f"--report-dir={report}", *options,
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    results = report / "image" / "results.json"
    if not results.is_file():
        raise AssertionError(
            f"suite wrote no results.json:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(results.read_text())


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    """Test name (without module path) -> outcome."""
    return {t["nodeid"].split("::")[-1]: t["outcome"] for t in results["tests"]}


def with_outcome(results: dict[str, Any], *wanted: str) -> set[str]:
    """Names of the tests whose outcome is one of ``wanted``."""
    return {name for name, outcome in outcomes(results).items() if outcome in wanted}
