"""Run one suite in a child pytest and read back the ``results.json`` it wrote.

The harness's own tests (broken implementations, real peers) and some wrappers all need the
same thing: run suite X against a target given on the command line, then look at outcomes.
The child must see only the options it is given: target settings inherited from the
caller's environment (``RUNTIME``, ``OCI_ROOT_URL``, ``CONFORMANCE_*`` ...) and the
pytest-xdist worker variables of the calling test are removed before it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.core.errors import HarnessError

CHECKOUT = Path(__file__).resolve().parents[2]
"""The directory holding the ``conformance`` package (a checkout or site-packages)."""

XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


def target_variables() -> set[str]:
    """Every environment variable some suite reads a target option from."""
    from conformance.plugin import suite_options  # the plugin imports pytest; only load here

    return {name for options in suite_options().values() for opt in options for name in opt.env}


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without target settings, with this checkout importable."""
    drop = target_variables() | set(XDIST_VARIABLES)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class SuiteRun:
    """One finished child run: its results document, exit status and output."""

    document: dict[str, Any]
    returncode: int
    stdout: str
    stderr: str

    @property
    def tests(self) -> list[dict[str, Any]]:
        """The per-test records of the document."""
        tests: list[dict[str, Any]] = self.document["tests"]
        return tests

    def records(self) -> dict[str, dict[str, Any]]:
        """Test id inside its module (``test_x[param]``) → its record."""
        return {t["nodeid"].split("::", 1)[-1]: t for t in self.tests}

    def outcomes(self) -> dict[str, str]:
        """Test id inside its module → outcome."""
        return {name: record["outcome"] for name, record in self.records().items()}

    def with_outcome(self, *wanted: str) -> set[str]:
        """Ids of the tests whose outcome is one of ``wanted``."""
        return {name for name, outcome in self.outcomes().items() if outcome in wanted}

    def output_tail(self, chars: int = 3000) -> str:
        """The end of the child's stdout and stderr, for assertion messages."""
        return f"{self.stdout[-chars:]}\n{self.stderr[-chars:]}"


def run_suite(
    suite: str,
    report_dir: Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> SuiteRun:
    """Run ``pytest --pyargs conformance.<suite> *options`` and read its results.

    Raises :class:`HarnessError` with the child's output when it wrote no results.
    """
    argv = [
        sys.executable, "-m", "pytest", "--pyargs", f"conformance.{suite}",
        "-p", "no:cacheprovider", "-q", f"--rootdir={CHECKOUT}",
        f"--report-dir={report_dir}", *options,
    ]  # fmt: skip
    proc = subprocess.run(
        argv,
        cwd=CHECKOUT,
        env=child_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results = report_dir / suite / "results.json"
    if not results.is_file():
        raise HarnessError(
            f"the {suite} suite wrote no results (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return SuiteRun(json.loads(results.read_text()), proc.returncode, proc.stdout, proc.stderr)
