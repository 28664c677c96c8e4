"""A process held in new namespaces, for tests and host checks that join or inspect them.

unshare(1) makes the namespaces; the holder reports when it has unshared, waits for one line
(so the harness can write id maps first) and confirms. No polling and no sleeps are involved,
and the holder is killed when the ``with`` block ends, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from conformance.core.errors import EnvironmentProblem

HOLDER_SCRIPT = "echo unshared; read line; echo ready; exec /bin/busybox sleep 600"
"""The holder reports it has unshared, waits for one line (the harness writes id maps first
when asked) and confirms; no polling and no sleeps are involved."""


@contextlib.contextmanager
def holding(*unshare_args: str, id_maps: tuple[str, str] | None = None) -> Iterator[int]:
    """A process that unshare(1) put in new namespaces; yields its pid, kills it afterwards.

    With ``--fork`` (a new PID namespace is only entered by children) the holder is
    unshare's child, found in ``/proc/<pid>/task/<pid>/children``. ``id_maps`` are the
    (uid_map, gid_map) texts written for a new user namespace before the holder goes on.
    """
    proc = subprocess.Popen(
        ["unshare", *unshare_args, "--", "/bin/busybox", "sh", "-c", HOLDER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holder = proc.pid
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "unshared":
            raise EnvironmentProblem(f"failed to unshare {unshare_args}: {_stderr(proc)}")
        if "--fork" in unshare_args:
            holder = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
        if id_maps is not None:
            Path(f"/proc/{holder}/uid_map").write_text(id_maps[0])
            Path(f"/proc/{holder}/gid_map").write_text(id_maps[1])
        proc.stdin.write("go\n")
        proc.stdin.flush()
        if proc.stdout.readline().strip() != "ready":
            raise EnvironmentProblem(f"the holder in {unshare_args} ended: {_stderr(proc)}")
        yield holder
    finally:
        if holder != proc.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _stderr(proc: subprocess.Popen[str]) -> str:
    proc.kill()
    return (proc.stderr.read() if proc.stderr is not None else "").strip()
