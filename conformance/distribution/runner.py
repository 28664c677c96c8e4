"""Run the distribution suite in a subprocess and read its results (for wrappers, the benchmark
and the harness's own tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conformance.core.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout the suite is imported from."""


def run_suite(report_dir: Path, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run the distribution suite with ``args`` and return its ``results.json`` document."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "conformance.distribution",
        "-p",
        "no:cacheprovider",
        "-q",
        "--report-dir",
        str(report_dir),
        *args,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    for name in list(env):
        if name.startswith(("OCI_", "CONFORMANCE_")):
            del env[name]
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    results = report_dir / "distribution" / "results.json"
    if not results.exists():
        raise HarnessError(f"no results written:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    document: dict[str, Any] = json.loads(results.read_text())
    document["_stdout"] = proc.stdout
    return document


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    """Node id (without the module path) -> outcome."""
    return {t["nodeid"].split("::", 1)[-1]: t["outcome"] for t in document["tests"]}
