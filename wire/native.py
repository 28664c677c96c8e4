"""Build the project's small native programs (the runtime helper, the in-container probe).

Each program is one C file beside the Python code that uses it. The package build compiles
them into ``native-bin/`` next to their source (see ``setup.py``); :func:`ensure` compiles on first
use when that did not happen (an editable install, a changed source), into a cache directory
keyed by the source's hash, so a stale binary is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

NATIVE_DIR = "native-bin"
"""Where the package build puts a program, beside its source. Not a Python identifier, so
setuptools never takes the directory for a package it was not told about."""


class NativeBuildError(RuntimeError):
    """The C compiler failed or is missing; the message carries its output."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "container-conformance" / "native"


def compile_c(
    source: Path, output: Path, *, static: bool = True, libs: tuple[str, ...] = ()
) -> Path:
    """Compile one C file into ``output`` atomically."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise NativeBuildError("no C compiler found (install gcc and libc6-dev)")
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    os.close(fd)
    argv = [cc, "-O2", "-Wall", "-Wextra", "-std=gnu11", "-o", tmp, str(source)]
    argv += ["-static"] if static else []
    argv += [f"-l{lib}" for lib in libs]
    log.debug("compiling %s", " ".join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        raise NativeBuildError(f"failed to compile {source}:\n{proc.stderr}")
    os.chmod(tmp, 0o755)
    os.replace(tmp, output)
    return output


def ensure(source: Path, *, static: bool = True, libs: tuple[str, ...] = ()) -> Path:
    """The path of an up-to-date binary built from ``source``, building it when needed."""
    digest = hashlib.sha256(source.read_bytes() + repr((static, libs)).encode()).hexdigest()[:16]
    prebuilt = source.parent / NATIVE_DIR / source.stem
    stamp = prebuilt.with_name(prebuilt.name + ".sha")
    if prebuilt.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return prebuilt
    cached = _cache_dir() / digest / source.stem
    if cached.exists():
        return cached
    return compile_c(source, cached, static=static, libs=libs)


def prebuild(source: Path, *, static: bool = True, libs: tuple[str, ...] = ()) -> Path:
    """Build ``source`` into ``native-bin/`` beside it with a hash stamp (the package build
    step)."""
    digest = hashlib.sha256(source.read_bytes() + repr((static, libs)).encode()).hexdigest()[:16]
    out = compile_c(source, source.parent / NATIVE_DIR / source.stem, static=static, libs=libs)
    out.with_name(out.name + ".sha").write_text(digest + "\n")
    return out
