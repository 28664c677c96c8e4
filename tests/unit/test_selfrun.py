"""The child-run helper used by the harness's own tests: environment and failure reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core.errors import HarnessError
from conformance.core.selfrun import CHECKOUT, SuiteRun, child_environment, run_suite


def test_child_environment_drops_targets_and_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Target variables and xdist worker markers of the caller never reach the child."""
    monkeypatch.setenv("RUNTIME", "/usr/bin/someone-elses-runtime")
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///run/other.sock")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")

    env = child_environment({"EXTRA": "1"})

    assert "RUNTIME" not in env
    assert "CONTAINER_RUNTIME_ENDPOINT" not in env
    assert "PYTEST_XDIST_WORKER" not in env
    assert env["PYTHONPATH"].split(":")[:2] == [str(CHECKOUT), "/elsewhere"]
    assert env["EXTRA"] == "1"


def test_a_child_that_writes_no_results_is_a_harness_error(tmp_path: Path) -> None:
    """An unknown option stops the child before it writes results; the error shows why."""
    with pytest.raises(HarnessError) as caught:
        run_suite("image", tmp_path, "--no-such-option", timeout=120)

    assert "--no-such-option" in str(caught.value)


def test_outcomes_are_keyed_by_the_id_inside_the_module() -> None:
    """Ids drop the module path but keep parameters; with_outcome selects by outcome."""
    run = SuiteRun(
        {
            "tests": [
                {"nodeid": "conformance/image/test_a.py::test_x[producer]", "outcome": "failed"},
                {"nodeid": "conformance/image/test_a.py::test_y", "outcome": "passed"},
            ]
        },
        1,
        "",
        "",
    )

    assert run.outcomes() == {"test_x[producer]": "failed", "test_y": "passed"}
    assert run.with_outcome("failed") == {"test_x[producer]"}
