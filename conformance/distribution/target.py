"""How the suite reaches a registry, and how it starts the bundled reference or a local peer.

A target is a base URL plus credentials. With no ``--registry-url`` the suite starts the
bundled reference (``python -m reference_impl.distribution``) on a free loopback port with a
temporary storage directory, and stops it when the session ends. :class:`DockerRegistry`
starts Debian's ``docker-registry`` (CNCF distribution 2.8) the same way, for the peer
integration test and the benchmark.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from conformance.core.errors import ConfigurationError, EnvironmentProblem

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """A registry to test."""

    url: str
    verify: bool = True
    username: str | None = None
    password: str | None = None
    kind: str = "registry"
    name: str = ""
    version: str = ""


def resolve_url(url: str, tls: str) -> tuple[str, bool]:
    """The base URL and TLS verification for ``--registry-url`` and ``--registry-tls``.

    ``OCI_REGISTRY`` holds ``host:port`` without a scheme; ``OCI_TLS`` then says which.
    """
    tls = (tls or "enabled").lower()
    if tls not in ("enabled", "insecure", "disabled"):
        raise ConfigurationError(f"--registry-tls: expected enabled/insecure/disabled, got {tls!r}")
    if "://" not in url:
        url = ("http://" if tls == "disabled" else "https://") + url
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"--registry-url: expected http(s)://host[:port], got {url!r}")
    return url.rstrip("/"), tls != "insecure"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``url/v2/`` until it answers (any status), or fail when the process dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EnvironmentProblem(
                f"registry exited with {proc.returncode} while starting: "
                + log_path.read_text(errors="replace")[-2000:]
            )
        try:
            requests.get(f"{url}/v2/", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise EnvironmentProblem(f"registry at {url} did not answer within {START_TIMEOUT} s")


class _Process:
    """A registry subprocess on a loopback port, with its own temporary directory."""

    name = "registry"

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "registry.log"

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        """The command line (after :attr:`port` is chosen)."""
        raise NotImplementedError

    def start(self) -> _Process:
        """Start on a free port; retried on a port race."""
        for attempt in range(3):
            self.port = free_port()
            argv = self.argv()
            log.info("starting %s: %s", self.name, " ".join(argv))
            with open(self.log_path, "ab") as out:
                self.proc = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, env=self.env()
                )
            try:
                wait_ready(self.url, self.proc, self.log_path)
                return self
            except EnvironmentProblem:
                self.stop(remove=False)
                if attempt == 2:
                    raise
        return self

    def env(self) -> dict[str, str]:
        """The subprocess environment."""
        return dict(os.environ)

    def kill(self) -> None:
        """SIGKILL the process (crash tests) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, remove: bool = True) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL) and remove the directory when ours."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        if remove and self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> _Process:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ReferenceRegistry(_Process):
    """The bundled reference registry as a subprocess.

    Args:
        workdir: directory for storage and log (a fresh temporary one when ``None``).
        auth_config: optional auth configuration (a mapping written as YAML).
        faults: deliberate misbehaviours (harness self-tests only).
        rate_limit: requests per second per client before 429 (0: unlimited).
    """

    name = "reference-registry"

    def __init__(
        self,
        workdir: Path | None = None,
        auth_config: dict[str, Any] | None = None,
        faults: tuple[str, ...] = (),
        rate_limit: float = 0.0,
    ) -> None:
        super().__init__(workdir)
        self.auth_config = auth_config
        self.faults = faults
        self.rate_limit = rate_limit
        self.root = self.workdir / "storage"

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "reference_impl.distribution", "--root", str(self.root)]
        argv += ["--listen", f"127.0.0.1:{self.port}"]
        if self.auth_config is not None:
            path = self.workdir / "auth.yaml"
            path.write_text(yaml.safe_dump(self.auth_config))
            argv += ["--auth-config", str(path)]
        for fault in self.faults:
            argv += ["--fault", fault]
        if self.rate_limit:
            argv += ["--rate-limit", str(self.rate_limit)]
        return argv

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        return env


DOCKER_REGISTRY = "/usr/bin/docker-registry"


class DockerRegistry(_Process):
    """Debian's docker-registry (CNCF distribution 2.8) with deletes enabled, no auth."""

    name = "docker-registry"

    def argv(self) -> list[str]:
        binary = shutil.which("docker-registry") or DOCKER_REGISTRY
        if not Path(binary).exists():
            raise EnvironmentProblem(
                "docker-registry is not installed (apt-get install docker-registry)"
            )
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }
        path = self.workdir / "config.yml"
        path.write_text(yaml.safe_dump(config))
        return [binary, "serve", str(path)]

    @staticmethod
    def version() -> str:
        """The version the binary reports (``2.8.2+ds1``)."""
        binary = shutil.which("docker-registry") or DOCKER_REGISTRY
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        words = out.stdout.split()
        return words[2] if len(words) >= 3 else out.stdout.strip()
