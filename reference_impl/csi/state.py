"""The driver's persistent state: volumes, snapshots and group snapshots in one JSON file.

Every change is written to a temporary file, fsynced and renamed over ``state.json``, so a
crash leaves the old or the new state, never a torn one, and a restart keeps every volume.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
KINDS = ("volumes", "snapshots", "groups")


class KeyedLocks:
    """One lock per key (a volume name, a volume id), created on demand and dropped after."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, *keys: str) -> Iterator[None]:
        """Hold the locks of ``keys`` (taken in sorted order, so two callers never deadlock)."""
        ordered = sorted(set(keys))
        locks = [self._acquire_ref(k) for k in ordered]
        for lock in locks:
            lock.acquire()
        try:
            yield
        finally:
            for key, lock in zip(reversed(ordered), reversed(locks), strict=True):
                lock.release()
                self._release_ref(key)

    def _acquire_ref(self, key: str) -> threading.Lock:
        with self._guard:
            lock, refs = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, refs + 1)
            return lock

    def _release_ref(self, key: str) -> None:
        with self._guard:
            lock, refs = self._locks[key]
            if refs <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, refs - 1)


class Store:
    """In-memory records mirrored to ``<state_dir>/state.json``.

    Records are plain dicts so the file stays readable. ``mutex`` guards the maps and the
    file; callers hold a :class:`KeyedLocks` lock of the object while doing slow work.
    """

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / STATE_FILE
        self.mutex = threading.RLock()
        self.data: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        loaded = json.loads(self.path.read_text())
        for kind in KINDS:
            self.data[kind] = dict(loaded.get(kind, {}))
        log.info("loaded state: %d volumes, %d snapshots", len(self.volumes), len(self.snapshots))

    @property
    def volumes(self) -> dict[str, dict[str, Any]]:
        """Volume records by id."""
        return self.data["volumes"]

    @property
    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Snapshot records by id."""
        return self.data["snapshots"]

    @property
    def groups(self) -> dict[str, dict[str, Any]]:
        """Group snapshot records by id."""
        return self.data["groups"]

    def save(self) -> None:
        """Write the state atomically (temp file, fsync, rename, fsync of the directory)."""
        with self.mutex:
            text = json.dumps(self.data, indent=1, sort_keys=True)
            fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.dir)
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def find_by(self, kind: str, field: str, value: str) -> dict[str, Any] | None:
        """The first record of ``kind`` whose ``field`` equals ``value``."""
        with self.mutex:
            for record in self.data[kind].values():
                if record.get(field) == value:
                    return record
        return None


def new_id(kind: str) -> str:
    """A fresh opaque id: ``vol-``, ``snap-`` or ``group-`` and 32 hex digits."""
    return f"{kind}-{uuid.uuid4().hex}"
