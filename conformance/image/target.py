"""How the image suite reaches what it tests: a layout, a producer, a registry, an unpacker.

Layout targets end as a directory or tar the validator reads. With no option the bundled
reference tooling produces them (``python -m reference_impl.image``, through its command line
like any producer) and the kit layout is checked too. Unpackers are command templates with
``{layout}``, ``{ref}`` and ``{dest}`` placeholders.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from conformance.core import (
    ConfigurationError,
    EnvironmentProblem,
    Violation,
    current_evidence,
)
from wire import digest as digest_mod
from wire.layout import LayoutWriter

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCER_TIMEOUT = 300
UNPACK_TIMEOUT = 60
"""Seconds an unpacker may take on a crafted image (below the suite's 120 s test timeout)."""

REFERENCE_UNPACKER = "{python} -m reference_impl.image unpack {layout} {ref} {dest}"

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass
class LayoutTarget:
    """One layout to validate, and who made it."""

    key: str
    path: Path
    name: str
    version: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def reference_env() -> dict[str, str]:
    """The environment for reference subprocesses: this checkout importable first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def tool_version(argv0: str) -> str:
    """The version a command reports with ``--version`` (``""`` when it says nothing usable)."""
    path = shutil.which(argv0)
    if path is None:
        return ""
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"\d+\.\d+[\w.~+-]*", proc.stdout + proc.stderr)
    return match.group(0) if match else ""


def _run(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float
) -> subprocess.CompletedProcess[str]:
    log.debug("exec %s", shlex.join(argv))
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except FileNotFoundError as err:
        raise EnvironmentProblem(f"cannot run {argv[0]!r}: {err}") from err
    except subprocess.TimeoutExpired as err:
        current_evidence().command(argv, returncode=None, stdout=err.stdout, stderr=err.stderr)
        raise
    current_evidence().command(
        argv, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr
    )
    return proc


def expand(template: str, **values: str) -> list[str]:
    """Split a command template and fill its ``{placeholders}`` word by word."""
    return [word.format(**values) for word in shlex.split(template)]


# -- the reference producer -----------------------------------------------------------------


def _sample_tree(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/motd").write_text("reference image\n")
    os.link(root / "etc/motd", root / "etc/motd.link")
    (root / "etc/motd.sym").symlink_to("motd")
    (root / "bin").mkdir()
    script = root / "bin/hello"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    return root


def produce_reference(dest: Path, work: Path) -> Path:
    """Write a layout with the reference CLI covering gzip/zstd/plain, sha256/sha512,
    multi-layer, multi-platform, artifacts with subject and the empty descriptor."""
    tree = _sample_tree(work / "tree")
    note = work / "note.json"
    note.write_text('{"note": "an artifact body"}\n')
    py = [sys.executable, "-m", "reference_impl.image"]
    out = str(dest)
    steps = [
        ["build", "--rootfs", str(tree), "--layout", out, "--ref", "gzip",
         "--cmd", '["/bin/hello"]', "--env", "GREETING=hello",
         "--label", "org.example.kind=sample", "--expose", "8080/tcp",
         "--annotation", "org.opencontainers.image.created=2000-01-01T00:00:00Z"],
        ["build", "--rootfs", str(tree), "--layout", out, "--ref", "zstd-sha512", "--base", "gzip",
         "--compression", "zstd", "--algorithm", "sha512", "--user", "1000:1000",
         "--whiteout", "etc/motd.sym", "--opaque", "tmp", "--inline-config"],
        ["build", "--rootfs", str(tree), "--layout", out, "--ref", "plain-arm64",
         "--compression", "none", "--platform", "linux/arm64/v8", "--workdir", "/etc"],
        ["index", "--layout", out, "--ref", "multi", "gzip", "plain-arm64"],
        ["artifact", "--layout", out, "--ref", "sbom", "--artifact-type",
         "application/vnd.example.sbom.v1+json", "--subject", "gzip",
         "--file", f"{note}:application/json"],
        ["artifact", "--layout", out, "--ref", "signature", "--artifact-type",
         "application/vnd.example.signature.v1", "--subject", "multi", "--algorithm", "sha512"],
    ]  # fmt: skip
    for step in steps:
        proc = _run(py + step, env=reference_env(), timeout=PRODUCER_TIMEOUT)
        if proc.returncode != 0:
            raise EnvironmentProblem(
                f"reference producer failed: {shlex.join(step)}: {proc.stderr}"
            )
    return dest


def run_producer(
    template: str, dest: Path, kit_layout: Path | str
) -> subprocess.CompletedProcess[str]:
    """Run a user's producer command; it must write a layout at ``dest``."""
    argv = expand(template, dest=str(dest), kit=str(kit_layout))
    return _run(argv, timeout=PRODUCER_TIMEOUT)


# -- a registry -----------------------------------------------------------------------------


def _split_ref(ref: str) -> tuple[str, str, str]:
    ref = ref.removeprefix("http://")
    host, _, rest = ref.partition("/")
    if "@" in rest:
        repo, _, tag = rest.partition("@")
    else:
        repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    if not host or not repo or not tag:
        raise ConfigurationError(f"--image-ref {ref!r} is not HOST[:PORT]/REPO:TAG or @DIGEST")
    return host, repo, tag


def fetch_ref(ref: str, dest: Path) -> Path:
    """Copy the image ``ref`` byte for byte from a plain-HTTP registry into a layout."""
    host, repo, tag = _split_ref(ref)
    base = f"http://{host}/v2/{repo}"
    writer = LayoutWriter(dest)
    session = requests.Session()

    def get(url: str, headers: dict[str, str]) -> requests.Response:
        resp = session.get(url, headers=headers, timeout=60)
        current_evidence().http(
            "GET", url, request_headers=headers, status=resp.status_code,
            response_headers=dict(resp.headers), response_body=resp.content[:2048],
        )  # fmt: skip
        if resp.status_code != 200:
            raise ConfigurationError(f"GET {url}: HTTP {resp.status_code}")
        return resp

    def copy(reference: str, seen: set[str]) -> dict[str, Any]:
        resp = get(f"{base}/manifests/{reference}", {"Accept": ACCEPT})
        body = resp.content
        algorithm = reference.split(":")[0] if ":" in reference else "sha256"
        digest = writer.write_blob(
            body, algorithm if algorithm in ("sha256", "sha512") else "sha256"
        )
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if digest in seen:
            return {"mediaType": media_type, "digest": digest, "size": len(body)}
        seen.add(digest)
        doc = resp.json()
        for child in doc.get("manifests") or []:
            copy(child["digest"], seen)
        blobs = [doc.get("config"), *(doc.get("layers") or [])]
        for blob in filter(None, blobs):
            data = get(f"{base}/blobs/{blob['digest']}", {}).content
            writer.write_blob(data, blob["digest"].split(":")[0])
        return {"mediaType": media_type, "digest": digest, "size": len(body)}

    desc = copy(tag, set())
    writer.tag(desc, tag if ":" not in tag else "fetched")
    writer.save()
    return dest


# -- unpackers ------------------------------------------------------------------------------


@dataclass
class Unpacker:
    """A command that unpacks ``{ref}`` of ``{layout}`` into ``{dest}``."""

    template: str
    name: str
    version: str = ""
    reference: bool = False

    def run(self, layout: Path, ref: str, dest: Path) -> subprocess.CompletedProcess[str]:
        """Run the unpacker; one still running after the timeout fails the test."""
        argv = expand(
            self.template, layout=str(layout), ref=ref, dest=str(dest), python=sys.executable
        )
        env = reference_env() if self.reference else None
        try:
            return _run(argv, env=env, timeout=UNPACK_TIMEOUT)
        except subprocess.TimeoutExpired as err:
            raise Violation(
                self.name, f"an exit within {UNPACK_TIMEOUT} s", "still running (killed)"
            ) from err


def unpacker_from(template: str | None) -> Unpacker:
    """The unpacker named by ``--image-unpacker``, or the reference's."""
    if not template:
        return Unpacker(REFERENCE_UNPACKER, "reference_impl.image", reference=True)
    argv0 = shlex.split(template)[0]
    return Unpacker(template, Path(argv0).name, tool_version(argv0))


def layout_digest(path: Path) -> str:
    """A digest over index.json, to name a layout in reports."""
    index = path / "index.json"
    return digest_mod.compute(index.read_bytes()) if index.is_file() else ""
