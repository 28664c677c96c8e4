"""process.terminal and the console socket (config.md: Process; runtime-tools' CLI doc)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.core import check, check_equal, current_evidence
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container


@dataclass
class ConsoleSocket:
    """A listening unix socket that receives the pty master a runtime sends (SCM_RIGHTS)."""

    path: Path
    server: socket.socket
    fds: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def serve(self) -> None:
        """Accept one connection and keep every descriptor it carries."""
        try:
            conn, _ = self.server.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
                self.fds.extend(fds)
        except OSError as err:
            self.errors.append(str(err))
        finally:
            self.done.set()


@pytest.fixture
def console_socket() -> Iterator[ConsoleSocket]:
    """A console socket in a short path (sun_path holds 108 bytes), served in a thread."""
    base = Path(tempfile.mkdtemp(prefix="conf-console-"))
    path = base / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(20)
    console = ConsoleSocket(path, server)
    thread = threading.Thread(target=console.serve, daemon=True)
    thread.start()
    try:
        yield console
    finally:
        server.close()
        thread.join(5)
        for fd in console.fds:
            os.close(fd)
        shutil.rmtree(base, ignore_errors=True)


def _drain(fd: int) -> None:
    # The program's terminal output must not fill the pty; read what is there, never block.
    os.set_blocking(fd, False)
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        return


@pytest.mark.requirement("config-process-terminal")
def test_terminal_is_a_pty_whose_master_is_sent_to_the_console_socket(
    container: Container, bundle: Bundle, console_socket: ConsoleSocket
) -> None:
    """With terminal true the runtime sends a pty master over --console-socket; stdio is the pty."""
    bundle.process["terminal"] = True
    bundle.probe("--stat", "/dev/console", out="report.json")

    container.must_create("--console-socket", str(console_socket.path))
    console_socket.done.wait(20)
    check_equal(len(console_socket.fds), 1, "descriptors received on the console socket")
    master = console_socket.fds[0]
    current_evidence().note("pty master", target=os.readlink(f"/proc/self/fd/{master}"))
    container.must_start()
    container.wait()
    _drain(master)

    report = container.probe_report("report.json")
    check_equal(report["isatty"], [1, 1, 1], "isatty() of fds 0, 1, 2")
    st = os.fstat(master)
    check_equal(
        (stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev)),
        (True, 5, 2),
        "received descriptor (a pty master: character device 5:2)",
    )
    console = report["stat"]["/dev/console"]
    check(
        console.get("ok") and console.get("type") == "char",
        "/dev/console",
        "a character device (the pty) when terminal is true",
        console,
    )


@pytest.mark.requirement("config-console-size")
def test_console_size_is_applied(
    container: Container, bundle: Bundle, console_socket: ConsoleSocket
) -> None:
    """consoleSize sets the pty's rows and columns."""
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 33, "width": 111}
    bundle.probe(out="report.json")

    container.must_create("--console-socket", str(console_socket.path))
    console_socket.done.wait(20)
    container.must_start()
    container.wait()
    for fd in console_socket.fds:
        _drain(fd)

    report = container.probe_report("report.json")
    check_equal(report["winsize"], [33, 111], "TIOCGWINSZ rows, columns")


@pytest.mark.requirement("config-process-terminal")
def test_no_terminal_means_stdio_is_passed_through(container: Container, bundle: Bundle) -> None:
    """With terminal false the process writes to the stdout create was given (not a tty)."""
    bundle.process["terminal"] = False
    bundle.probe()

    container.run_to_exit()

    report = container.probe_report()
    check_equal(report["isatty"], [0, 0, 0], "isatty() of fds 0, 1, 2")
