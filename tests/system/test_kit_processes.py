"""The kit's images run: busybox in a chroot, pause handles SIGTERM, httpd serves its file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conformance import kit

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root"),
]


@pytest.fixture
def kit_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private kit cache (and scratch space for rootfs trees)."""
    cache = tmp_path / "kit-cache"
    monkeypatch.setenv(kit.CACHE_ENV, str(cache))
    return cache


def test_httpd_rootfs_runs_busybox(kit_cache: Path) -> None:
    """The unpacked httpd rootfs runs its shell and serves the known file from /www."""
    dest = kit.rootfs("httpd", kit_cache / "r")

    proc = subprocess.run(
        ["chroot", str(dest), "/bin/sh", "-c", "id -u kit; cat /www/index.html"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert proc.stdout == b"1000\n" + kit.HTTPD_BODY


class TestKitProcesses:
    """The kit's long-running images behave as documented."""

    def test_pause_exits_zero_on_sigterm(self, kit_cache: Path) -> None:
        """/pause keeps running until SIGTERM, then exits 0 at once."""
        dest = kit.rootfs("pause", kit_cache / "r")
        proc = subprocess.Popen(["chroot", str(dest), "/pause"])
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
            proc.send_signal(signal.SIGTERM)

            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_httpd_serves_the_known_file(self, kit_cache: Path) -> None:
        """busybox httpd from the httpd image serves HTTPD_BODY at HTTPD_PATH."""
        dest = kit.rootfs("httpd", kit_cache / "r")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        argv = ["chroot", str(dest), "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"]
        proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        try:
            body = _get_with_retry(f"http://127.0.0.1:{port}{kit.HTTPD_PATH}")

            assert body == kit.HTTPD_BODY
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _get_with_retry(url: str, deadline_s: float = 10.0) -> bytes:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return requests.get(url, timeout=2).content
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
