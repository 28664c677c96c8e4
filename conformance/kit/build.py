"""Build the kit layout from the host's static busybox.

Every image is assembled from tar entries written in a fixed order with fixed times and
ownership, so two builds from the same busybox binary give byte-identical blobs (the kit's
digests are stable). Nothing here touches the network.
"""

from __future__ import annotations

import logging
import os
import platform
import struct
import subprocess
from pathlib import Path
from typing import Any

from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutWriter

log = logging.getLogger(__name__)

BUSYBOX_ENV = "CONFORMANCE_KIT_BUSYBOX"
DEFAULT_BUSYBOX = "/bin/busybox"

KIT_UID = 1000
KIT_GID = 1000
KIT_SUPPLEMENTARY_GIDS = (1001, 1002)
HTTPD_PORT = 8080
HTTPD_PATH = "/index.html"
HTTPD_BODY = b"conformance kit httpd: hello\n"
ARTIFACT_TYPE = "application/vnd.conformance.kit.note.v1"
ARTIFACT_BODY = b"conformance kit artifact: a note about the base image\n"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    f"kit:x:{KIT_UID}:{KIT_GID}:conformance kit user:/home/kit:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = (
    "root:x:0:\n"
    f"kit:x:{KIT_GID}:\n"
    f"kitaudio:x:{KIT_SUPPLEMENTARY_GIDS[0]}:kit\n"
    f"kitvideo:x:{KIT_SUPPLEMENTARY_GIDS[1]}:kit,root\n"
    "nogroup:x:65534:\n"
)

# The pause image's PID 1: a shell cannot be killed by SIGTERM as PID 1 unless it traps it,
# and `wait` on a background sleep lets the trap run at once instead of after the sleep.
PAUSE_SCRIPT = b"""#!/bin/sh
trap 'exit 0' TERM INT
while :; do
    sleep 3600 &
    wait $!
done
"""

_ARCH_NAMES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}
_OTHER_ARCH = {"amd64": ("arm64", "v8"), "arm64": ("amd64", None)}


class KitBuildError(RuntimeError):
    """The kit cannot be built on this host (busybox missing or not static)."""


def busybox_path() -> Path:
    """The busybox binary the kit is built from (``CONFORMANCE_KIT_BUSYBOX`` overrides)."""
    return Path(os.environ.get(BUSYBOX_ENV) or DEFAULT_BUSYBOX)


def host_arch() -> str:
    """The OCI architecture name of this host."""
    machine = platform.machine()
    return _ARCH_NAMES.get(machine, machine)


def _is_static_elf(data: bytes) -> bool:
    # A dynamically linked ELF has a PT_INTERP program header naming its loader; a static
    # one has none, which is what lets the kit run with an otherwise empty rootfs.
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    endian = "<" if data[5] == 1 else ">"
    phoff = struct.unpack_from(endian + "Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def read_busybox(path: Path) -> bytes:
    """The busybox binary's bytes, after checking it is a static 64-bit ELF."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise KitBuildError(
            f"cannot read busybox at {path} ({err}); install busybox-static or set {BUSYBOX_ENV}"
        ) from err
    if not _is_static_elf(data):
        raise KitBuildError(f"{path} is not a static 64-bit ELF; install busybox-static")
    return data


def applet_paths(busybox: Path) -> list[str]:
    """Where busybox installs its applets (``bin/sh``, ``usr/bin/wc`` ...), sorted."""
    proc = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        raise KitBuildError(f"failed to list busybox applets: {proc.stderr.strip()}")
    paths = {p.strip() for p in proc.stdout.splitlines() if "/" in p.strip()}
    paths.discard("bin/busybox")
    return sorted(paths)


def base_layer(busybox_bytes: bytes, applets: list[str]) -> bytes:
    """The base rootfs: busybox, its applets as hard links, users, groups and the usual dirs."""
    layer = img.LayerBuilder()
    dirs = {"bin", "dev", "etc", "home", "proc", "run", "sbin", "sys", "usr", "usr/bin"}
    dirs |= {"usr/sbin", "var", "var/run", "www"}
    dirs |= {a.rsplit("/", 1)[0] for a in applets}
    for name in sorted(dirs - {"var/run"}):
        layer.dir(name, 0o755)
    layer.dir("home/kit", 0o755, uid=KIT_UID, gid=KIT_GID)
    layer.dir("root", 0o700)
    layer.dir("tmp", 0o1777)
    layer.dir("var/tmp", 0o1777)
    layer.symlink("var/run", "../run")
    layer.file("bin/busybox", busybox_bytes, 0o755)
    for applet in applets:
        layer.hardlink(applet, "bin/busybox", mode=0o755)
    layer.file("etc/passwd", PASSWD.encode(), 0o644)
    layer.file("etc/group", GROUP.encode(), 0o644)
    layer.file("etc/hostname", b"kit\n", 0o644)
    layer.file("home/kit/.profile", b"export PS1='kit$ '\n", 0o644, uid=KIT_UID, gid=KIT_GID)
    return layer.tar()


def _history(*steps: str) -> list[dict[str, Any]]:
    return [img.history_entry(step) for step in steps]


def _labels(name: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": f"conformance-kit-{name}",
        "org.opencontainers.image.description": "built locally from the host's static busybox",
    }


def build_layout(root: Path) -> Path:
    """Write every kit image into the layout directory ``root``."""
    bb_path = busybox_path()
    bb_bytes = read_busybox(bb_path)
    applets = applet_paths(bb_path)
    arch = host_arch()
    log.info("building the image kit from %s (%d applets) into %s", bb_path, len(applets), root)

    writer = LayoutWriter(root)
    base = base_layer(bb_bytes, applets)
    common: dict[str, Any] = {"architecture": arch, "os_name": "linux", "env": [PATH_ENV]}

    base_desc = writer.put_image(
        [base],
        cmd=["sh"],
        labels=_labels("base"),
        history=_history("busybox rootfs"),
        **common,
    )
    writer.tag(base_desc, "base")

    nonroot = writer.put_image(
        [base],
        cmd=["sh"],
        user="kit",
        working_dir="/home/kit",
        labels=_labels("nonroot"),
        history=_history("busybox rootfs"),
        **common,
    )
    writer.tag(nonroot, "nonroot")

    pause_layer = img.LayerBuilder().file("pause", PAUSE_SCRIPT, 0o755).tar()
    pause = writer.put_image(
        [base, pause_layer],
        entrypoint=["/pause"],
        stop_signal="SIGTERM",
        labels=_labels("pause"),
        history=_history("busybox rootfs", "pause script"),
        **common,
    )
    writer.tag(pause, "pause")

    www = img.LayerBuilder().file("www" + HTTPD_PATH, HTTPD_BODY, 0o644).tar()
    httpd = writer.put_image(
        [base, www],
        entrypoint=["httpd", "-f", "-v", "-p", str(HTTPD_PORT), "-h", "/www"],
        exposed_ports=[f"{HTTPD_PORT}/tcp"],
        labels=_labels("httpd"),
        history=_history("busybox rootfs", "document root"),
        **common,
    )
    writer.tag(httpd, "httpd")

    writer.tag(_multiarch(writer, base, arch, common), "multiarch")
    writer.tag(_artifact(writer, base_desc), "artifact")
    writer.save()
    return root


def _multiarch(writer: LayoutWriter, base: bytes, arch: str, common: dict) -> dict[str, Any]:
    # Only the host's busybox is at hand, so the second platform's image reuses the host
    # layer under another architecture name: right for index selection tests, not runnable.
    other_arch, other_variant = _OTHER_ARCH.get(arch, ("arm64", "v8"))
    native = writer.put_image([base], cmd=["sh"], history=_history("busybox rootfs"), **common)
    foreign_fields = {**common, "architecture": other_arch}
    foreign = writer.put_image(
        [base],
        cmd=["sh"],
        variant=other_variant,
        history=_history("busybox rootfs (host binary, not runnable here)"),
        platform={
            "architecture": other_arch,
            "os": "linux",
            **({"variant": other_variant} if other_variant else {}),
        },
        **foreign_fields,
    )
    index = img.image_index([native, foreign])
    return writer.put_json(index, mt.IMAGE_INDEX)


def _artifact(writer: LayoutWriter, subject: dict[str, Any]) -> dict[str, Any]:
    writer.write_blob(b"{}")
    note = writer.put_blob(
        ARTIFACT_BODY,
        "text/plain",
        annotations={"org.opencontainers.image.title": "note.txt"},
    )
    subject_desc = {k: subject[k] for k in ("mediaType", "digest", "size")}
    manifest = img.image_manifest(
        img.empty_descriptor(),
        [note],
        subject=subject_desc,
        artifact_type=ARTIFACT_TYPE,
        annotations={"org.opencontainers.image.created": img.FIXED_CREATED},
    )
    return writer.put_json(manifest, mt.IMAGE_MANIFEST, artifact_type=ARTIFACT_TYPE)
