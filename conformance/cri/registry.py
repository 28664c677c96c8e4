"""The test images: pushed from the offline kit to a plain-HTTP registry the target pulls from.

By default the harness starts Debian's ``docker-registry`` (CNCF distribution) on loopback
with its storage in a temporary directory. Images are pushed with the registry API over
``requests``; derived images (another ``USER``, a distinct label) reuse the kit's layers and
only change the config, so they cost one small blob and one manifest each.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from conformance import kit
from conformance.core import EnvironmentProblem, HarnessError
from wire import digest as dg
from wire import mediatypes as mt

log = logging.getLogger(__name__)

REGISTRY_BIN = "/usr/bin/docker-registry"
NAMESPACE = "cri-test"
"""Repository prefix of every test image."""


@dataclass(frozen=True)
class PushedImage:
    """One image in the test registry.

    Attributes:
        repo: repository name without the registry host (``cri-test/busybox``).
        tags: the tags pushed.
        digest: the manifest digest (repo digests are ``<host>/<repo>@<digest>``).
        config_digest: the config digest (the image id most runtimes report).
        config: the parsed image config.
    """

    repo: str
    tags: tuple[str, ...]
    digest: str
    config_digest: str
    config: dict[str, Any]


class Registry:
    """A plain-HTTP registry reachable at ``host`` (``127.0.0.1:PORT``)."""

    def __init__(self, host: str, auth: tuple[str, str] | None = None) -> None:
        self.host = host
        self.session = requests.Session()
        if auth:
            self.session.auth = auth

    def ref(self, repo: str, tag: str = "latest") -> str:
        """``host/repo:tag``."""
        return f"{self.host}/{repo}:{tag}"

    def digest_ref(self, image: PushedImage) -> str:
        """``host/repo@digest``."""
        return f"{self.host}/{image.repo}@{image.digest}"

    def _url(self, path: str) -> str:
        return f"http://{self.host}/v2/{path}"

    def push_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` to ``repo`` unless the registry has it; returns its digest."""
        digest = dg.compute(data)
        head = self.session.head(self._url(f"{repo}/blobs/{digest}"), timeout=30)
        if head.status_code == 200:
            return digest
        start = self.session.post(self._url(f"{repo}/blobs/uploads/"), timeout=30)
        if start.status_code != 202:
            raise HarnessError(f"registry {self.host}: upload start → {start.status_code}")
        location = start.headers["Location"]
        if location.startswith("/"):
            location = f"http://{self.host}{location}"
        sep = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=60,
        )
        if done.status_code != 201:
            raise HarnessError(f"registry {self.host}: blob upload → {done.status_code}")
        return digest

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> None:
        """PUT one manifest under ``reference`` (a tag or its digest)."""
        resp = self.session.put(
            self._url(f"{repo}/manifests/{reference}"),
            data=body,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        if resp.status_code != 201:
            raise HarnessError(
                f"registry {self.host}: manifest {repo}:{reference} → {resp.status_code} "
                f"{resp.text[:200]}"
            )

    def push(
        self,
        repo: str,
        tags: tuple[str, ...] = ("latest",),
        *,
        base: str = "base",
        config_changes: dict[str, Any] | None = None,
        label: str = "",
    ) -> PushedImage:
        """Push the kit image ``base`` as ``repo`` with ``tags``.

        Args:
            repo: repository name (below :data:`NAMESPACE` by convention).
            tags: tags to point at the image; an empty tuple pushes by digest only.
            base: the kit image to start from.
            config_changes: keys replaced in the config's ``config`` section (``User``).
            label: when set, a label that makes the image (and its id) distinct.
        """
        source = kit.image(base)
        config = copy.deepcopy(source.config or {})
        section = config.setdefault("config", {})
        section.update(config_changes or {})
        if label:
            section.setdefault("Labels", {})["conformance.cri.variant"] = label
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        for layer in source.layers():
            self.push_blob(repo, source.blobs[layer["digest"]])
        config_digest = self.push_blob(repo, config_bytes)
        manifest = copy.deepcopy(source.manifest)
        manifest["config"] = {
            "mediaType": mt.IMAGE_CONFIG,
            "digest": config_digest,
            "size": len(config_bytes),
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        digest = dg.compute(body)
        for tag in tags or (digest,):
            self.push_manifest(repo, tag, body, mt.IMAGE_MANIFEST)
        return PushedImage(repo, tuple(tags), digest, config_digest, config)


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRegistry:
    """Debian's docker-registry on a loopback port with storage in a temporary directory.

    Args:
        htpasswd: when given, the contents of an htpasswd file; the registry then requires
            basic authentication.
    """

    def __init__(self, htpasswd: str | None = None) -> None:
        self.htpasswd = htpasswd
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.host = ""

    def start(self) -> str:
        """Start the registry; returns ``127.0.0.1:PORT`` once it answers."""
        if not Path(REGISTRY_BIN).exists():
            raise EnvironmentProblem(f"{REGISTRY_BIN} not found (Debian package docker-registry)")
        self.dir = Path(tempfile.mkdtemp(prefix="cri-registry-"))
        for _ in range(5):
            port = free_port()
            self.host = f"127.0.0.1:{port}"
            self.proc = self._spawn(port)
            if self._wait_ready():
                log.info("docker-registry at %s (storage %s)", self.host, self.dir)
                return self.host
            self._kill()
        raise EnvironmentProblem("docker-registry did not start; see its log in " + str(self.dir))

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        assert self.dir is not None
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.dir / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        if self.htpasswd is not None:
            (self.dir / "htpasswd").write_text(self.htpasswd)
            config["auth"] = {"htpasswd": {"realm": "cri-test", "path": str(self.dir / "htpasswd")}}
        path = self.dir / "config.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        with (self.dir / "registry.log").open("ab") as logfile:
            return subprocess.Popen(
                [REGISTRY_BIN, "serve", str(path)],
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_ready(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                requests.get(f"http://{self.host}/v2/", timeout=1)
                return True
            except requests.ConnectionError:
                time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """Stop the registry and delete its storage."""
        self._kill()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


BASE_IMAGES = {
    "busybox": ("base", {}),
    "pause": ("pause", {}),
    "httpd": ("httpd", {}),
    # USER forms of the image config (image-spec config.md#properties: User)
    "user-uid": ("base", {"User": str(kit.KIT_UID)}),
    "user-name": ("base", {"User": "kit"}),
    "user-uid-group": ("base", {"User": f"{kit.KIT_UID}:{kit.KIT_SUPPLEMENTARY_GIDS[0]}"}),
    "user-name-group": ("base", {"User": "kit:kitaudio"}),
}
"""Images every run pushes, by short name: (kit image, config changes)."""


def push_base_images(registry: Registry) -> dict[str, PushedImage]:
    """Push :data:`BASE_IMAGES` below :data:`NAMESPACE`; returns them by short name."""
    pushed = {}
    for name, (base, changes) in BASE_IMAGES.items():
        pushed[name] = registry.push(
            f"{NAMESPACE}/{name}", ("latest",), base=base, config_changes=changes
        )
    return pushed
