"""The reference config-to-bundle output runs under a real runtime (runc)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conformance import kit
from conformance.image.target import reference_env

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="runc needs root"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed"),
]


def test_nonroot_bundle_runs_as_kit_user_in_its_workdir(tmp_path: Path) -> None:
    """The bundle made from the nonroot kit image runs as uid 1000 with its groups and cwd."""
    bundle = tmp_path / "bundle"
    subprocess.run(
        [sys.executable, "-m", "reference_impl.image", "config-to-bundle",
         str(kit.layout()), "nonroot", str(bundle)],
        check=True, env=reference_env(), timeout=120,
    )  # fmt: skip
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["sh", "-c", "id -u; id -G; pwd"]
    (bundle / "config.json").write_text(json.dumps(config))
    state = tmp_path / "runc-state"
    cid = f"image-bundle-{uuid.uuid4().hex[:12]}"

    try:
        proc = subprocess.run(
            ["runc", "--root", str(state), "run", "--bundle", str(bundle), cid],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        subprocess.run(
            ["runc", "--root", str(state), "delete", "--force", cid],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    uid, groups, cwd = proc.stdout.split("\n")[:3]
    assert uid == str(kit.KIT_UID)
    assert set(groups.split()) == {str(kit.KIT_GID), *map(str, kit.KIT_SUPPLEMENTARY_GIDS)}
    assert cwd == "/home/kit"
