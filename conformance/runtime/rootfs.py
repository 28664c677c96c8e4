"""The container root filesystem: Debian's static busybox plus the probe, built once per run.

The first worker to need it builds it under a shared directory while holding a file lock;
the others wait on the lock and reuse it. Each bundle then gets its own tree of directories
whose files are hard links into the cache (cheap, and the runtime may create mount points
in it without disturbing other tests).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from pathlib import Path

import wire.native
from conformance.core.errors import EnvironmentProblem

log = logging.getLogger(__name__)

BUSYBOX = Path("/bin/busybox")
PROBE_SOURCE = Path(__file__).parent / "probe" / "probe.c"
PROBE_IN_CONTAINER = "/probe"

USER_UID = 1000
USER_GID = 1000
EXTRA_GROUPS = {"audio": 29, "video": 44, "staff": 50}

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:conformance user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""

GROUP = """\
root:x:0:
audio:x:29:user
video:x:44:user
staff:x:50:user
user:x:1000:
nogroup:x:65534:
"""


def probe_binary() -> Path:
    """The static probe binary, built from its C source when needed."""
    try:
        return wire.native.ensure(PROBE_SOURCE, static=True)
    except wire.native.NativeBuildError as err:
        raise EnvironmentProblem(str(err)) from err


def _applets() -> list[str]:
    proc = subprocess.run([str(BUSYBOX), "--list-full"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"{BUSYBOX} --list-full failed: {proc.stderr.strip()}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def _build(dest: Path) -> None:
    if not BUSYBOX.is_file():
        raise EnvironmentProblem(f"{BUSYBOX} is missing (install Debian's busybox-static)")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/user",
        "shared",
    ):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(tmp / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, tmp / "bin" / "busybox")
    for applet in _applets():
        link = tmp / applet.lstrip("/")
        if link.name == "busybox" or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (tmp / "etc" / "passwd").write_text(PASSWD)
    (tmp / "etc" / "group").write_text(GROUP)
    (tmp / "etc" / "hostname").write_text("rootfs\n")
    os.chown(tmp / "home" / "user", USER_UID, USER_GID)
    shutil.copy2(probe_binary(), tmp / PROBE_IN_CONTAINER.lstrip("/"))
    tmp.rename(dest)


def cached_rootfs(shared_dir: Path) -> Path:
    """The session's template rootfs under ``shared_dir``, built once across workers."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    dest = shared_dir / "rootfs-template"
    with open(shared_dir / "rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dest.is_dir():
            log.info("building the busybox rootfs in %s", dest)
            _build(dest)
    return dest


def clone_rootfs(template: Path, dest: Path) -> Path:
    """A private copy of ``template``: new directories, files hard-linked."""
    proc = subprocess.run(["cp", "-al", str(template), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"failed to copy the rootfs: {proc.stderr.strip()}")
    return dest
