"""Drive a runtime through its CLI and watch the container's process.

Every runtime call goes through :meth:`Runtime.run`, which records the command line, exit
status and output as the running test's evidence. The harness process becomes a child
subreaper, so a container's init re-parents to it when the runtime's ``create`` exits; exits
are awaited with a pidfd and a deadline, never with fixed sleeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core import Violation, current_evidence
from conformance.core.errors import EnvironmentProblem
from conformance.runtime.target import RuntimeTarget

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    """Adopt orphaned descendants (container inits) so their exit status can be read."""
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise EnvironmentProblem(f"failed to become a child subreaper: {os.strerror(err)}")


def reap_orphans(keep: Iterable[int] = ()) -> dict[int, int]:
    """Reap zombie children that no ``subprocess`` object owns; returns pid → wait status.

    Only zombies are collected (``/proc/<pid>/stat`` state ``Z``), so the exit status of a
    ``subprocess.Popen`` still running in this process is never stolen.
    """
    me, kept, reaped = os.getpid(), set(keep), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in kept:
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            try:
                pid, status = os.waitpid(int(entry.name), os.WNOHANG)
            except ChildProcessError:
                continue
            if pid:
                reaped[pid] = status
    return reaped


class ExitWatcher:
    """Remembers wait statuses of adopted processes reaped by anyone in this module."""

    statuses: dict[int, int] = {}

    @classmethod
    def wait(cls, pid: int, timeout: float) -> int | None:
        """Wait for ``pid`` to end; its wait status when it was our child, else ``None``.

        Raises:
            TimeoutError: the process still runs after ``timeout`` seconds.
        """
        if pid in cls.statuses:
            return cls.statuses.pop(pid)
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            cls.statuses.update(reap_orphans())
            return cls.statuses.pop(pid, None)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            if not ready:
                raise TimeoutError(f"process {pid} still runs after {timeout} s")
        finally:
            os.close(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except ChildProcessError:
            cls.statuses.update(reap_orphans())
            return cls.statuses.pop(pid, None)


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


REAP_INTERVAL = 0.05
"""Seconds between reaping orphans while a runtime command runs (see :func:`_run_reaping`)."""


def _run_reaping(argv: list[str], timeout: float, kwargs: dict[str, Any]) -> tuple[int, str, str]:
    """Run ``argv`` while reaping adopted orphans, so a runtime waiting for its helpers to die
    (runsc waits for its sandbox and gofer) is not blocked by zombies only we can collect.

    Raises:
        subprocess.TimeoutExpired: the command outlived ``timeout`` (it is killed).
    """
    capture = kwargs.get("capture_output", False)
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        # Files, not pipes: output never blocks the command while we wait on its pidfd.
        if capture:
            stdio = {"stdin": subprocess.DEVNULL, "stdout": out_file, "stderr": err_file}
        else:
            stdio = {k: kwargs[k] for k in ("stdin", "stdout", "stderr")}
        with subprocess.Popen(argv, **stdio) as proc:
            _wait_reaping(proc, argv, timeout)
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode(errors="replace")
        err = err_file.read().decode(errors="replace")
        return proc.returncode, out, err


def _wait_reaping(proc: subprocess.Popen[bytes], argv: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(proc.pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd], [], [], REAP_INTERVAL)
            ExitWatcher.statuses.update(reap_orphans(keep=[proc.pid]))
            if ready:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(argv, timeout)
    finally:
        os.close(pidfd)
    proc.wait()
    ExitWatcher.statuses.update(reap_orphans())


@dataclass
class Result:
    """One finished runtime command."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True on exit status 0."""
        return self.returncode == 0


@dataclass
class Runtime:
    """The runtime under test, as the tests see it.

    Attributes:
        target: how to invoke it.
        name: its own name (first word of ``--version``).
        version: its version as reported.
        oci_version: the ``ociVersion`` the suite writes into configs.
        features: its ``features`` document, when it has the command.
        timeout: seconds one command may take.
        created: every container id this process created (the session sweeper deletes them).
        removed: ids a test's own cleanup already deleted successfully; the sweeper skips them,
            so the session's end does not cost two runtime calls per test.
    """

    target: RuntimeTarget
    name: str = ""
    version: str = ""
    oci_version: str = "1.0.2"
    features: dict[str, Any] | None = None
    timeout: float = 30.0
    created: list[str] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)

    def run(
        self, *args: str, stdio: tuple[Any, Any, Any] | None = None, record: bool = True
    ) -> Result:
        """Run one operation; ``stdio`` passes files the container process inherits."""
        argv = self.target.argv(*args)
        log.debug("runtime: %s", " ".join(argv))
        if stdio is None:
            kwargs: dict[str, Any] = {"capture_output": True}
        else:
            kwargs = {"stdin": stdio[0], "stdout": stdio[1], "stderr": stdio[2]}
        try:
            returncode, out, err = _run_reaping(argv, self.timeout, kwargs)
        except subprocess.TimeoutExpired as exc:
            current_evidence().command(argv, returncode=None, stderr="timed out")
            raise Violation(
                " ".join(args[:1]), f"the command to finish within {self.timeout} s", "hung"
            ) from exc
        result = Result(argv, returncode, out, err)
        if record:
            current_evidence().command(
                argv, returncode=result.returncode, stdout=result.stdout, stderr=result.stderr
            )
        return result

    def state(self, cid: str) -> Result:
        """``state <id>``."""
        return self.run("state", cid)

    def state_json(self, cid: str) -> dict[str, Any]:
        """``state <id>`` parsed; a failure or non-JSON output is a violation."""
        res = self.state(cid)
        if not res.ok:
            raise Violation(f"state {cid}", "exit status 0", res.returncode, detail=res.stderr)
        try:
            data = json.loads(res.stdout)
        except json.JSONDecodeError as err:
            raise Violation(f"state {cid}", "a JSON document", res.stdout[:200]) from err
        if not isinstance(data, dict):
            raise Violation(f"state {cid}", "a JSON object", data)
        return data

    def kill(self, cid: str, sig: str = "KILL") -> Result:
        """``kill <id> <signal>`` (the signal is positional, as runc and crun take it)."""
        return self.run("kill", cid, sig)

    def delete(self, cid: str, force: bool = False) -> Result:
        """``delete [--force] <id>``."""
        return self.run("delete", *(["--force"] if force else []), cid)

    def sweep(self) -> list[str]:
        """Force-delete every container this process created; ids whose state still answers."""
        left = []
        for cid in self.created:
            if cid in self.removed or not self.run("state", cid, record=False).ok:
                continue
            self.run("delete", "--force", cid, record=False)
            if self.run("state", cid, record=False).ok:
                left.append(cid)
        return left


@dataclass
class Container:
    """One container of one test: its id, bundle and the files its stdio goes to."""

    runtime: Runtime
    cid: str
    bundle: Path
    workdir: Path
    pid: int | None = None
    wait_status: int | None = None
    extra_create_args: list[str] = field(default_factory=list)
    on_create: Callable[[], Any] | None = None
    shared: Path = Path()

    @property
    def stdout_path(self) -> Path:
        """File the container's stdout goes to."""
        return self.workdir / f"{self.cid}.stdout"

    @property
    def stderr_path(self) -> Path:
        """File the container's stderr (and the runtime's create messages) go to."""
        return self.workdir / f"{self.cid}.stderr"

    @property
    def pid_file(self) -> Path:
        """The ``--pid-file`` given to create."""
        return self.workdir / f"{self.cid}.pid"

    def create(self, *extra: str) -> Result:
        """``create --bundle B --pid-file P <id>``; stdio goes to files, never to pipes."""
        args = ["create", "--bundle", str(self.bundle), "--pid-file", str(self.pid_file)]
        args += [*self.extra_create_args, *extra, self.cid]
        if self.on_create is not None:
            self.on_create()
        self.runtime.created.append(self.cid)
        with (
            open(os.devnull, "rb") as stdin,
            open(self.stdout_path, "ab") as out,
            open(self.stderr_path, "ab") as err,
        ):
            res = self.runtime.run(*args, stdio=(stdin, out, err), record=False)
        res.stderr = self.stderr_path.read_text(errors="replace")
        current_evidence().command(res.argv, returncode=res.returncode, stderr=res.stderr)
        if res.ok:
            # The pid file is checked by its own test; other tests fall back to the state so
            # one defect does not fail every test.
            self.pid = self.read_pid_file() or self._state_pid()
        return res

    def _state_pid(self) -> int | None:
        res = self.runtime.run("state", self.cid, record=False)
        try:
            pid = json.loads(res.stdout).get("pid") if res.ok else None
        except (json.JSONDecodeError, AttributeError):
            return None
        return pid if isinstance(pid, int) and pid > 0 else None

    def read_pid_file(self) -> int | None:
        """The pid the runtime wrote to ``--pid-file``; ``None`` when absent or unreadable."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def must_create(self, *extra: str) -> Result:
        """``create`` that must succeed; a failure is a violation naming the stderr."""
        res = self.create(*extra)
        if not res.ok:
            raise Violation(
                f"create {self.cid}", "exit status 0", res.returncode, detail=res.stderr[-2000:]
            )
        return res

    def start(self) -> Result:
        """``start <id>``."""
        return self.runtime.run("start", self.cid)

    def must_start(self) -> Result:
        """``start`` that must succeed."""
        res = self.start()
        if not res.ok:
            raise Violation(
                f"start {self.cid}", "exit status 0", res.returncode, detail=res.stderr[-2000:]
            )
        return res

    def state(self) -> dict[str, Any]:
        """The parsed state document."""
        return self.runtime.state_json(self.cid)

    def wait(self, timeout: float = 20.0) -> int | None:
        """Wait for the container's init to exit; its wait status when known."""
        if self.pid is None:
            self.pid = self.read_pid_file() or self._state_pid()
        if self.pid is None:
            raise Violation(f"{self.pid_file}", "the container's pid", "no pid file")
        try:
            self.wait_status = ExitWatcher.wait(self.pid, timeout)
        except TimeoutError as err:
            raise Violation(
                f"process {self.pid}", f"to exit within {timeout} s", "still running"
            ) from err
        return self.wait_status

    @property
    def exit_code(self) -> int | None:
        """The init's exit code, or ``-signal`` when a signal ended it."""
        if self.wait_status is None:
            return None
        if os.WIFSIGNALED(self.wait_status):
            return -os.WTERMSIG(self.wait_status)
        return os.waitstatus_to_exitcode(self.wait_status)

    def run_to_exit(self, timeout: float = 20.0) -> None:
        """create, start and wait for the process to end."""
        self.must_create()
        self.must_start()
        self.wait(timeout)

    def stdout(self) -> str:
        """What the container wrote to stdout so far."""
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def probe_report(self, out: str = "") -> dict[str, Any]:
        """The probe's JSON report, from stdout or from the shared file ``out``."""
        path = (self.shared / out) if out else self.stdout_path
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        current_evidence().attach("probe report", text)
        if not text.strip():
            stderr = (
                self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
            )
            raise Violation(
                "container process", "the probe's report", "no output", detail=stderr[-1500:]
            )
        try:
            data: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as err:
            raise Violation("container process", "JSON from the probe", text[:300]) from err
        return data

    def cleanup(self) -> None:
        """Force-delete the container and make sure its init is gone."""
        if self.runtime.run("delete", "--force", self.cid, record=False).ok:
            self.runtime.removed.add(self.cid)
        if self.pid is not None and alive(self.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
            try:
                ExitWatcher.wait(self.pid, 5)
            except TimeoutError:
                log.warning("container %s: pid %d survived SIGKILL", self.cid, self.pid)


def wait_for_path(path: Path, pid: int | None, timeout: float = 10.0) -> bool:
    """Wait until ``path`` exists, giving up early when process ``pid`` ends.

    Uses inotify-free polling of the process's pidfd with growing intervals bounded by the
    deadline; returns whether the path appeared.
    """
    deadline = time.monotonic() + timeout
    delay = 0.002
    pidfd = None
    if pid is not None:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as err:
            if err.errno != errno.ESRCH:
                raise
    try:
        while time.monotonic() < deadline:
            if path.exists():
                return True
            waitables = [pidfd] if pidfd is not None else []
            ready, _, _ = select.select(waitables, [], [], delay)
            if ready:
                return path.exists()
            delay = min(delay * 2, 0.1)
        return path.exists()
    finally:
        if pidfd is not None:
            os.close(pidfd)


def run_probe(container: Container, bundle: Any, *options: str) -> dict[str, Any]:
    """Run the probe with ``options`` through create, start and exit; return its report."""
    bundle.probe(*options, out="report.json")
    container.run_to_exit()
    return container.probe_report("report.json")


def start_signal_waiter(container: Container, bundle: Any) -> None:
    """Create and start a container whose probe waits for a signal; return once it waits.

    The probe writes its report to ``report.json`` when the signal arrives.
    """
    bundle.probe("--wait-signal", out="report.json")
    bundle.process.setdefault("env", []).append("PROBE_READY=/shared/ready")
    container.must_create()
    container.must_start()
    if not wait_for_path(bundle.shared / "ready", container.pid):
        raise Violation("container process", "to reach its signal wait", "it did not")
