"""A private directory for one unpacker test: the crafted layout, the destination, canaries.

Layout of the sandbox (all inside the test's own temp dir)::

    <root>/layout/          the crafted OCI layout
    <root>/work/rootfs/     the unpacker's destination (not created beforehand)
    <root>/work/outside/    a directory escapes would write into
    <root>/work/secret      a file a hard link escape would reach
    <root>/work/victim      a file a whiteout escape would delete

Crafted names never climb more than two levels above the destination, so even an unpacker
that follows them writes only inside ``<root>/work``; :meth:`Sandbox.outside_changes` then
shows what it did there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from wire import image as img
from wire.layout import LayoutWriter

REF = "crafted"
SECRET = b"secret content that must not change\n"
VICTIM = b"a file outside the rootfs\n"


@dataclass
class Sandbox:
    """Paths of one unpacker test."""

    root: Path
    baseline: dict[str, tuple[int, int, int, bytes]] = field(default_factory=dict)

    @property
    def layout(self) -> Path:
        """The crafted layout."""
        return self.root / "layout"

    @property
    def work(self) -> Path:
        """The destination's parent: everything here but ``rootfs`` is outside."""
        return self.root / "work"

    @property
    def dest(self) -> Path:
        """The unpacker's destination."""
        return self.work / "rootfs"

    @property
    def outside(self) -> Path:
        """A directory outside the destination."""
        return self.work / "outside"

    @property
    def secret(self) -> Path:
        """A file outside the destination that must keep its content and link count."""
        return self.work / "secret"

    @property
    def victim(self) -> Path:
        """A file outside the destination that must not be deleted."""
        return self.work / "victim"

    def prepare(self, layers: list[bytes], **config: object) -> Sandbox:
        """Write the crafted image and the canaries."""
        self.outside.mkdir(parents=True)
        self.secret.write_bytes(SECRET)
        self.victim.write_bytes(VICTIM)
        writer = LayoutWriter(self.layout)
        config.setdefault("cmd", ["/bin/sh"])
        desc = writer.put_image(layers, compression="gzip", **config)  # type: ignore[arg-type]
        writer.tag(desc, REF)
        writer.save()
        self.baseline = self.snapshot()
        return self

    def snapshot(self) -> dict[str, tuple[int, int, int, bytes]]:
        """(type, size, link count, content head) of every path in ``work`` but the rootfs."""
        found: dict[str, tuple[int, int, int, bytes]] = {}
        for dirpath, dirnames, filenames in os.walk(self.work):
            if Path(dirpath) == self.work and "rootfs" in dirnames:
                dirnames.remove("rootfs")
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                st = path.lstat()
                head = path.read_bytes()[:64] if stat.S_ISREG(st.st_mode) else b""
                found[str(path.relative_to(self.work))] = (
                    stat.S_IFMT(st.st_mode),
                    st.st_size,
                    st.st_nlink,
                    head,
                )
        return found

    def outside_changes(self) -> list[str]:
        """Paths outside the destination that appeared, vanished or changed."""
        now = self.snapshot()
        changes = [f"new: {p}" for p in sorted(set(now) - set(self.baseline))]
        changes += [f"gone: {p}" for p in sorted(set(self.baseline) - set(now))]
        changes += [
            f"changed: {p}"
            for p in sorted(p for p in now if p in self.baseline and now[p] != self.baseline[p])
        ]
        return changes


def layer(*entries: img.Entry) -> bytes:
    """A tar of ``entries`` in the given order."""
    return img.write_tar(entries)


def reg(name: str, data: bytes = b"x\n", mode: int = 0o644, **kw: object) -> img.Entry:
    """A regular file entry."""
    return img.Entry(name, "file", data, mode, **kw)  # type: ignore[arg-type]


def directory(name: str, mode: int = 0o755, **kw: object) -> img.Entry:
    """A directory entry."""
    return img.Entry(name, "dir", mode=mode, **kw)  # type: ignore[arg-type]


def symlink(name: str, target: str) -> img.Entry:
    """A symlink entry."""
    return img.Entry(name, "symlink", mode=0o777, linkname=target)


def hardlink(name: str, target: str, mode: int = 0o644) -> img.Entry:
    """A hard link entry."""
    return img.Entry(name, "hardlink", mode=mode, linkname=target)
