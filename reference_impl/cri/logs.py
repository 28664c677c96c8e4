"""Container log files in the CRI format: ``<RFC3339Nano> <stream> <P|F> <message>``.

A line longer than the buffer limit is split into partial (``P``) records ending with a
full (``F``) one; the newline itself is not part of the message. Output that ends without a
newline stays a partial record (as containerd writes it).
"""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import BinaryIO

MAX_RECORD = 16 * 1024
"""Longest message in one record; longer lines become several partial records."""


def timestamp(now: datetime.datetime | None = None) -> str:
    """RFC 3339 time with nanosecond digits (Python has microseconds; padded with zeros)."""
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


class CriLogWriter:
    """Writes records of both streams to one file; ``reopen`` starts a new file at the path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fh: BinaryIO = self._open()

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return open(self.path, "ab", buffering=0)

    def record(self, stream: str, message: bytes, partial: bool) -> None:
        """Write one record (``message`` without its newline)."""
        tag = b"P" if partial else b"F"
        line = b"%s %s %s %s\n" % (timestamp().encode(), stream.encode(), tag, message)
        with self._lock:
            self._fh.write(line)

    def reopen(self) -> None:
        """Close the file and open ``path`` again (after a rotation moved the old one)."""
        with self._lock:
            self._fh.close()
            self._fh = self._open()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


class StreamSplitter:
    """Turns a byte stream into records: one per line, long lines split, a tail flushed."""

    def __init__(self, writer: CriLogWriter, stream: str, limit: int = MAX_RECORD) -> None:
        self.writer = writer
        self.stream = stream
        self.limit = limit
        self._buf = b""

    def feed(self, data: bytes) -> None:
        """Add ``data``; complete lines are written."""
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if 0 <= nl <= self.limit:
                self.writer.record(self.stream, self._buf[:nl], partial=False)
                self._buf = self._buf[nl + 1 :]
            elif len(self._buf) > self.limit:
                self.writer.record(self.stream, self._buf[: self.limit], partial=True)
                self._buf = self._buf[self.limit :]
            else:
                return

    def close(self) -> None:
        """Flush an unterminated last line as a partial record (no newline was seen)."""
        if self._buf:
            self.writer.record(self.stream, self._buf, partial=True)
            self._buf = b""
