"""Child processes that die with their parent: backends of the mesh, and the mesh itself.

Every child gets ``PR_SET_PDEATHSIG`` (Linux ``prctl``) in its own process group, so a parent
killed without a chance to clean up still takes its children along, and a stop signals the
whole group.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"failed to set parent death signal: {os.strerror(err)}")


def _child_setup(sig: int) -> Callable[[], None]:
    def setup() -> None:
        os.setpgid(0, 0)
        set_parent_death_signal(sig)

    return setup


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    death_signal: int = signal.SIGKILL,
    stdout: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, tied to this process's life."""
    out: int | IO[bytes] | None = stdout
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = log_path.open("ab")
    log.debug("starting %s", " ".join(argv))
    try:
        return subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            preexec_fn=_child_setup(death_signal),
        )
    finally:
        if log_path is not None and hasattr(out, "close"):
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> int | None:
    """SIGTERM the process group, then SIGKILL it after ``timeout``; the exit status."""
    if proc.poll() is not None:
        return proc.returncode
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("process %d ignored %s", proc.pid, signal.Signals(sig).name)
    return proc.wait(timeout=timeout)
