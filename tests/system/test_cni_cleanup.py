"""The cni suite leaves no namespace behind: after a normal run and after Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conformance.cni import netns
from conformance.cni.selftest import ROOT, run_suite

pytestmark = [pytest.mark.system, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _token() -> str:
    return secrets.token_hex(3)


def _ours(token: str) -> list[str]:
    """Namespaces and the lab directory the run with ``token`` left behind."""
    left = netns.leftovers(f"{netns.PREFIX}{token}-")
    lab_dir = Path(tempfile.gettempdir()) / f"cni-lab-{token}"
    return left + ([str(lab_dir)] if lab_dir.exists() else [])


def test_suite_run_leaves_no_namespaces(tmp_path: Path) -> None:
    """A run with passing and failing tests removes every namespace it created."""
    token = _token()
    proc, document = run_suite(
        tmp_path / "report",
        "--cni-versions",
        "1.1.0",
        "-k",
        "test_del_removes or test_check_detects_tampered",
        env={netns.TOKEN_ENV: token},
    )
    assert document["summary"]["passed"] >= 3, proc.stdout[-2000:]
    assert _ours(token) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_no_namespaces(tmp_path: Path, signum: int) -> None:
    """A signal in the middle of a test still removes the namespaces (finalizers, atexit)."""
    token = _token()
    env = {**os.environ, "PYTHONPATH": str(ROOT), netns.TOKEN_ENV: token}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.cni",
            "-p",
            "no:cacheprovider",
            "-q",
            "--cni-versions",
            "1.1.0",
            "-k",
            "test_concurrent_adds",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not _ours(token) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert _ours(token), "the suite never created a namespace"
    proc.send_signal(signum)
    proc.communicate(timeout=120)
    assert _ours(token) == []
