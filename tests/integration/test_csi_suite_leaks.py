"""A run of the CSI suite against the reference leaves no mounts, loop devices or files.

The suite runs in a subprocess with its own TMPDIR, so whatever it or the reference made
lies below one directory; mounts and loop devices of other tests running in parallel are
not mistaken for leaks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.csi.target import loops_under, mounts_under

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.geteuid() != 0, reason="the suite needs root to start the reference")
@pytest.mark.parametrize("access_type", ["mount", "block"])
def test_suite_run_leaves_no_mounts_or_loop_devices(tmp_path, access_type):
    """After the node-side tests, nothing stays mounted or attached and temp dirs are gone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-n",
        "0",
        "--rootdir",
        str(ROOT),
        str(ROOT / "conformance" / "csi"),
        "--level",
        "should",
        "--csi-access-type",
        access_type,
        "-k",
        "node or snapshot or expand",
    ]

    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert mounts_under(tmp_path) == []
    assert loops_under(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("csi-")] == []
