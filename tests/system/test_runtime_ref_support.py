"""Fixtures shared by the reference runtime's system tests (imported by the test modules).

A busybox rootfs built from Debian's static busybox, bundles written per test, and a runner
that drives a runtime binary with a private ``--root`` and cleans up every container it made.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "reference_impl" / "runtime" / "bin" / "conformance-runtime"
BUSYBOX = "/bin/busybox"


def needs_root() -> None:
    """Skip unless root with namespaces available."""
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, mounts, cgroups)")
    if not os.path.exists(BUSYBOX):
        pytest.skip("needs Debian's busybox-static at /bin/busybox")


def build_rootfs(path: Path) -> Path:
    """A tiny rootfs: static busybox with its applets as symlinks, passwd and group."""
    for sub in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, path / "bin" / "busybox")
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        link = path / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n"
    )
    (path / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\n")
    return path


def base_config(args: list[str], **overrides: Any) -> dict[str, Any]:
    """A runnable config for the busybox rootfs (read-only root, usual mounts, 6 namespaces)."""
    config: dict[str, Any] = {
        "ociVersion": "1.3.0",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                s: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                for s in ("bounding", "effective", "permitted")
            },
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "refrt",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/acpi"],
            "readonlyPaths": ["/proc/sys"],
        },
    }
    for key, value in overrides.items():
        config[key] = value
    return config


class Runtime:
    """Drives one runtime binary with a private state root; tracks containers to clean up."""

    def __init__(
        self, argv: list[str], root: Path, name: str, env: dict[str, str] | None = None
    ) -> None:
        self.argv = argv
        self.env = env
        self.root = root
        self.name = name
        self.made: list[str] = []

    def __call__(self, *args: str, timeout: float = 30, **kw: Any) -> subprocess.CompletedProcess:
        """Run ``<runtime> --root R <args>``; output captured through files, never pipes the
        container could inherit."""
        cmd = [*self.argv, "--root", str(self.root), *args]
        stdin = kw.pop("stdin", subprocess.DEVNULL)
        kw.setdefault("env", self.env)
        with (
            open(self.root.parent / f"out-{uuid.uuid4().hex}", "w+") as out,
            open(self.root.parent / f"err-{uuid.uuid4().hex}", "w+") as err,
        ):
            proc = subprocess.run(
                cmd, stdin=stdin, stdout=out, stderr=err, timeout=timeout, check=False, **kw
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())

    def create(
        self, cid: str, bundle: Path, *extra: str, output: Path | None = None
    ) -> subprocess.CompletedProcess:
        """``create``, tracking the id for cleanup. With ``output`` the runtime's (and so the
        container's) stdout and stderr go to that file."""
        self.made.append(cid)
        if output is None:
            return self("create", "--bundle", str(bundle), *extra, cid)
        cmd = [*self.argv, "--root", str(self.root), "create", "--bundle", str(bundle), *extra, cid]
        with open(output, "a") as out:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=self.env,
                timeout=30,
                check=False,
            )
        text = output.read_text()
        return subprocess.CompletedProcess(cmd, proc.returncode, text, text)

    def state(self, cid: str) -> dict[str, Any]:
        """The parsed ``state`` document (asserting success)."""
        proc = self("state", cid)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def cleanup(self) -> None:
        """Force-delete every container this runner created."""
        for cid in self.made:
            self("delete", "--force", cid)


def wait_exit(pid: int, timeout: float = 20.0) -> int:
    """Wait for a container init re-parented to this (subreaper) process; its exit code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    raise AssertionError(f"container init {pid} did not exit within {timeout} s")


def write_bundle(path: Path, rootfs: Path, config: dict[str, Any]) -> Path:
    """A bundle dir with a private copy of the shared rootfs (hard links keep it cheap)."""
    path.mkdir(parents=True, exist_ok=True)
    target = path / "rootfs"
    if not target.exists():
        shutil.copytree(rootfs, target, symlinks=True, copy_function=os.link)
    (path / "config.json").write_text(json.dumps(config))
    return path


def cgroup_dirs(name: str) -> list[str]:
    """Every v1/v2 directory named ``name`` directly below a hierarchy root."""
    base = Path("/sys/fs/cgroup")
    found = [str(p / name) for p in base.iterdir() if (p / name).is_dir()]
    if (base / name).is_dir():
        found.append(str(base / name))
    return found


@pytest.fixture(scope="session")
def subreaper() -> None:
    """Make this test process the subreaper, so container inits can be waited for."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared busybox rootfs (tests hard-link copies of it)."""
    needs_root()
    return build_rootfs(tmp_path_factory.mktemp("rootfs") / "rootfs")


@pytest.fixture
def refrt(tmp_path: Path, subreaper: None) -> Iterator[Runtime]:
    """The reference runtime through its wrapper, with a private root."""
    needs_root()
    env = dict(os.environ, CONFORMANCE_PYTHON=os.environ.get("CONFORMANCE_PYTHON", sys.executable))
    runtime = Runtime([str(WRAPPER)], tmp_path / "state", "reference", env=env)
    yield runtime
    runtime.cleanup()


@pytest.fixture
def runc(tmp_path: Path, subreaper: None) -> Iterator[Runtime]:
    """runc (Debian) with a private root."""
    needs_root()
    binary = shutil.which("runc")
    if binary is None:
        pytest.skip("runc is not installed")
    runtime = Runtime([binary], tmp_path / "runc-state", "runc")
    yield runtime
    runtime.cleanup()


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Any:
    """A factory: ``bundle(config, name="b")`` writes a bundle and returns its path."""

    def make(config: dict[str, Any], name: str = "bundle") -> Path:
        return write_bundle(tmp_path / name, busybox_rootfs, config)

    return make


def unique_id(prefix: str = "rt") -> str:
    """A container id unique across xdist workers and runs."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def processes_with_cwd_in(path: Path) -> list[int]:
    """Pids whose root directory is below ``path`` (leftover container processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{entry}/root").startswith(str(path)):
                found.append(int(entry))
    return found


def kill_quietly(pid: int) -> None:
    """SIGKILL ``pid`` if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
