"""Delegation to another plugin (CNI spec 1.1.0 section 4, "Plugin Delegation").

The delegate is found on ``CNI_PATH``, gets the caller's environment with only
``CNI_COMMAND`` changed when needed, the full network configuration on stdin, and its stderr
goes to the caller's stderr. Its error object is passed up unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from reference_impl.cni import skel
from reference_impl.cni.skel import CniError, Invocation, fail


def find(plugin_type: str, path: list[str]) -> str:
    """The executable of ``plugin_type`` on ``path``; code 7 when it is not there."""
    if not plugin_type or "/" in plugin_type or "\\" in plugin_type:
        fail(skel.INVALID_CONFIG, f"invalid plugin type {plugin_type!r}")
    for directory in path:
        candidate = os.path.join(directory, plugin_type)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    fail(skel.INVALID_CONFIG, f"plugin {plugin_type!r} not found on CNI_PATH", ":".join(path))


def call(
    plugin_type: str,
    inv: Invocation,
    command: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Run the delegate; its parsed stdout on success, :class:`CniError` on failure."""
    exe = find(plugin_type, inv.path)
    env = dict(os.environ)
    env["CNI_COMMAND"] = command or inv.command
    stdin = json.dumps(config if config is not None else inv.config)
    proc = subprocess.run([exe], input=stdin, env=env, capture_output=True, text=True, check=False)
    if proc.stderr:
        os.write(2, proc.stderr.encode())
    out = proc.stdout.strip()
    if proc.returncode != 0:
        try:
            err = json.loads(out)
            raise CniError(int(err["code"]), str(err["msg"]), str(err.get("details", "")))
        except (ValueError, KeyError, TypeError):
            fail(
                skel.INTERNAL,
                f"delegate {plugin_type!r} failed with status {proc.returncode}",
                out or proc.stderr.strip(),
            )
    if not out:
        return None
    try:
        return json.loads(out)
    except ValueError:
        fail(skel.DECODE_FAILURE, f"delegate {plugin_type!r} printed no valid JSON", out)
