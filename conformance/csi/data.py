"""Reading and writing test data on a published volume (a directory or a block device)."""

from __future__ import annotations

import os
from pathlib import Path

MARKER = "conformance-marker.txt"


def write_marker(target: str, block: bool, text: str) -> None:
    """Write ``text`` into the volume published at ``target``."""
    data = text.encode()
    if block:
        fd = os.open(target, os.O_WRONLY)
        try:
            os.pwrite(fd, data.ljust(512, b"\0"), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
    else:
        path = Path(target) / MARKER
        path.write_bytes(data)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def read_marker(target: str, block: bool) -> str:
    """Read the text :func:`write_marker` left, or ``""`` when there is none."""
    if block:
        fd = os.open(target, os.O_RDONLY)
        try:
            return os.pread(fd, 512, 0).rstrip(b"\0").decode(errors="replace")
        finally:
            os.close(fd)
    path = Path(target) / MARKER
    return path.read_text() if path.exists() else ""


def can_write(target: str, block: bool) -> OSError | None:
    """Try a write at ``target``; returns the error when it was refused."""
    try:
        write_marker(target, block, "write attempt")
    except OSError as err:
        return err
    return None
