"""The memory policy tests fail against a reference broken on purpose, and only where it is.

Three wrappers around the reference runtime: one deletes ``linux.memoryPolicy`` from
config.json before ``create`` (a runtime that ignores the field), one deletes only its
``flags``, one resets its own memory policy to MPOL_DEFAULT before running (a runtime that
does not leave the inherited policy alone). Each must fail exactly the tests that check
what it broke; the rest pass or skip for the host.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.core.selfrun import run_suite

pytestmark = [pytest.mark.peer, pytest.mark.slow]

EDITING_RUNTIME = textwrap.dedent(
    """\
    import ctypes, json, os, sys

    argv, how = sys.argv[2:], sys.argv[1]
    if how == "reset":
        ctypes.CDLL(None).syscall(238, 0, None, 0)  # set_mempolicy(MPOL_DEFAULT)
    if "create" in argv:
        tail = argv[argv.index("create") + 1:]
        bundle = tail[tail.index("--bundle") + 1] if "--bundle" in tail else "."
        config = os.path.join(bundle, "config.json")
        with open(config) as f:
            data = json.load(f)
        linux = data.get("linux", {})
        if how == "drop-policy":
            linux.pop("memoryPolicy", None)
        if how == "drop-flags":
            linux.get("memoryPolicy", {}).pop("flags", None)
        with open(config, "w") as f:
            json.dump(data, f)
    os.execv(sys.executable, [sys.executable, "-m", "reference_impl.runtime", *argv])
    """
)

FLAG_CASES = (
    "static-nodes",
    "relative-nodes",
    "numa-balancing",
    "unknown-flag",
    "static-and-relative",
)


def _with_flags(name: str) -> bool:
    return "advertised_memory_policy" in name or any(case in name for case in FLAG_CASES)


BREAKAGES: dict[str, Callable[[str], bool]] = {
    "drop-policy": lambda name: "unset" not in name,
    "drop-flags": _with_flags,
    "reset": lambda name: "unset" in name,
}
"""Wrapper mode → which of the memory policy tests it must fail (among those not skipped)."""


@pytest.mark.parametrize("how", list(BREAKAGES))
def test_broken_memory_policy_fails_its_tests(tmp_path: Path, how: str) -> None:
    """Each breakage fails exactly the memory policy tests that look at what it broke."""
    if os.geteuid() != 0:
        pytest.skip("the runtime suite needs root")
    script = tmp_path / "editing_runtime.py"
    script.write_text(EDITING_RUNTIME)

    run = run_suite(
        "runtime",
        tmp_path / "report",
        f"--runtime={sys.executable} {script} {how}",
        "--implementation=broken-reference",
        "--level=should",
        f"--runtime-root={tmp_path / 'root'}",
        "-k",
        "memory_policy",
    )

    outcomes = run.outcomes()
    tried = {name for name, outcome in outcomes.items() if outcome != "skipped"}
    failed = {name for name, outcome in outcomes.items() if outcome in ("failed", "error")}
    assert len(outcomes) >= 20, run.output_tail()
    assert failed == {name for name in tried if BREAKAGES[how](name)}, run.output_tail()
