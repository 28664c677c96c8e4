"""Per-container shim: creates the container with the OCI runtime, owns its stdio and exit.

Started detached by the server (its own session, so a server restart does not kill it). It
becomes a child subreaper so the container's init is re-parented to it, copies stdout and
stderr into the CRI log, reopens the log on SIGUSR1, and writes ``exit.json`` when the
container's init is reaped. The first line it prints is ``{"pid": N}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from reference_impl.cri.logs import CriLogWriter, StreamSplitter

PR_SET_CHILD_SUBREAPER = 36


def _pump(fd: int, splitter: StreamSplitter | None) -> None:
    with os.fdopen(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(65536):
            if splitter is not None:
                splitter.feed(chunk)
    if splitter is not None:
        splitter.close()


def _say(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    """Run the shim (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="reference-cri-shim")
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--runtime-root", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--log", default="")
    parser.add_argument("--stdin-fifo", default="", help="FIFO that feeds the process's stdin")
    args = parser.parse_args(argv)
    bundle = Path(args.bundle)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    writer = CriLogWriter(Path(args.log)) if args.log else None
    signal.signal(signal.SIGUSR1, lambda *_: writer.reopen() if writer else None)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid_file = bundle / "init.pid"
    cmd = [args.runtime, "--root", args.runtime_root, "--log", str(bundle / "runtime.log")]
    cmd += ["--log-format", "json", "create", "--bundle", str(bundle)]
    cmd += ["--pid-file", str(pid_file), args.id]
    if args.stdin_fifo:
        # opened read-write so the container never sees EOF while no one is attached
        os.mkfifo(args.stdin_fifo, 0o600)
        stdin = os.open(args.stdin_fifo, os.O_RDWR)
    else:
        stdin = os.open(os.devnull, os.O_RDONLY)
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=out_w, stderr=err_w, close_fds=True)
    os.close(stdin)
    os.close(out_w)
    os.close(err_w)
    pumps = [
        threading.Thread(target=_pump, args=(fd, StreamSplitter(writer, name) if writer else None))
        for fd, name in ((out_r, "stdout"), (err_r, "stderr"))
    ]
    for thread in pumps:
        thread.daemon = True
        thread.start()
    rc = proc.wait()
    if rc != 0 or not pid_file.exists():
        _say({"error": f"{args.runtime} create exited {rc}: {_runtime_error(bundle)}"})
        return 1
    pid = int(pid_file.read_text())
    _say({"pid": pid})
    status = _reap(pid)
    for thread in pumps:
        thread.join(timeout=2.0)
    result = {"exit_code": _exit_code(status), "finished_at": time.time_ns()}
    tmp = bundle / ".exit.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(bundle / "exit.json")
    if writer is not None:
        writer.close()
    return 0


def _reap(pid: int) -> int:
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            # not re-parented to us (should not happen); poll until it is gone
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)
            return 255 << 8
        except InterruptedError:
            continue
        if got == pid:
            return status


def _runtime_error(bundle: Path) -> str:
    try:
        lines = (bundle / "runtime.log").read_text(errors="replace").splitlines()
    except OSError:
        return "no runtime log"
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal"):
            return str(entry.get("msg"))
    return lines[-1] if lines else "no runtime log"


if __name__ == "__main__":
    sys.exit(main())
