"""Run the cni suite in a subprocess and read its results.json (for the project's own tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_suite(
    report_dir: Path, *args: str, timeout: float = 900, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``python -m pytest --pyargs conformance.cni ARGS``; the process and the document."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = (
        f"{ROOT}{os.pathsep}{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(ROOT)
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "conformance.cni",
        "-p",
        "no:cacheprovider",
        "-q",
        "--report-dir",
        str(report_dir),
        *args,
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    results = report_dir / "cni" / "results.json"
    if not results.exists():
        raise AssertionError(
            f"no results.json; pytest said:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc, json.loads(results.read_text())


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    """Test node id (without the file path) -> outcome."""
    return {t["nodeid"].split("::", 1)[-1]: t["outcome"] for t in document["tests"]}
