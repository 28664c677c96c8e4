"""Persistent records of pods, containers and images: one JSON file per object.

Writes go to a temporary file that is renamed over the old one, so a crash leaves either
the old or the new record, never a torn one. Records are plain dicts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RecordStore:
    """A directory of ``<id>.json`` records kept in memory and on disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._records: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                # keep the unreadable file for inspection; never delete state we cannot parse
                log.error("skipping unreadable record %s: %s", path, err)
                continue
            if isinstance(record, dict) and record.get("id") == path.stem:
                self._records[path.stem] = record
            else:
                log.error("skipping record %s: id does not match the file name", path)

    def get(self, record_id: str) -> dict[str, Any] | None:
        """The record ``record_id`` (a copy-free reference) or None."""
        with self.lock:
            return self._records.get(record_id)

    def put(self, record: dict[str, Any]) -> None:
        """Store (insert or replace) ``record`` keyed by its ``id``."""
        with self.lock:
            write_json_atomic(self.directory / f"{record['id']}.json", record)
            self._records[record["id"]] = record

    def update(self, record_id: str, **fields: Any) -> dict[str, Any]:
        """Set ``fields`` on the record and persist it; KeyError when absent."""
        with self.lock:
            record = dict(self._records[record_id])
            record.update(fields)
            self.put(record)
            return record

    def delete(self, record_id: str) -> None:
        """Forget ``record_id`` (no error when absent)."""
        with self.lock:
            self._records.pop(record_id, None)
            (self.directory / f"{record_id}.json").unlink(missing_ok=True)

    def all(self) -> list[dict[str, Any]]:
        """Every record (a snapshot list)."""
        with self.lock:
            return list(self._records.values())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.all())

    def resolve(self, prefix: str) -> dict[str, Any] | None:
        """The record whose id is ``prefix`` or uniquely starts with it (crictl short ids)."""
        if not prefix:
            return None
        with self.lock:
            if prefix in self._records:
                return self._records[prefix]
            found = [r for k, r in self._records.items() if k.startswith(prefix)]
        return found[0] if len(found) == 1 else None
