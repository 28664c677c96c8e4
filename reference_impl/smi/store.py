"""The object store of the control plane: one JSON file per object under the state directory.

Writes go to a temporary file that replaces the old one, so a crash or a rejected update never
leaves a half-written or lost object behind. Keys are ``(resource, namespace, name)`` where
``resource`` is ``<group>/<plural>`` (``/pods`` for the core group).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Key = tuple[str, str, str]


class ConflictError(Exception):
    """The object exists already (create) or does not exist (update)."""


class Store:
    """Objects by ``(resource, namespace, name)``, persisted under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._version = 0
        self._load()

    def _path(self, key: Key) -> Path:
        resource, namespace, name = key
        return self.root / resource.replace("/", "_") / namespace / f"{name}.json"

    def _load(self) -> None:
        for path in sorted(self.root.glob("*/*/*.json")):
            try:
                obj = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                log.warning("skipping unreadable object %s: %s", path, err)
                continue
            key = (path.parent.parent.name.replace("_", "/"), path.parent.name, path.stem)
            self._objects[key] = obj
            version = int(obj.get("metadata", {}).get("resourceVersion", "0") or 0)
            self._version = max(self._version, version)
        log.info("loaded %d objects from %s", len(self._objects), self.root)

    def _write(self, key: Key, obj: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=1))
        tmp.replace(path)

    def _stamp(self, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        self._version += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._version)
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            meta["generation"] = 1
        else:
            for field in ("uid", "creationTimestamp"):
                meta[field] = old["metadata"][field]
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        return obj

    def create(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object; :class:`ConflictError` when the name is taken."""
        with self._lock:
            if key in self._objects:
                raise ConflictError(key)
            stored = self._stamp(copy.deepcopy(obj), None)
            self._write(key, stored)
            self._objects[key] = stored
            return copy.deepcopy(stored)

    def replace(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an existing object; :class:`ConflictError` when there is none."""
        with self._lock:
            old = self._objects.get(key)
            if old is None:
                raise ConflictError(key)
            stored = self._stamp(copy.deepcopy(obj), old)
            self._write(key, stored)
            self._objects[key] = stored
            return copy.deepcopy(stored)

    def get(self, key: Key) -> dict[str, Any] | None:
        """A copy of the object, or ``None``."""
        with self._lock:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def delete(self, key: Key) -> dict[str, Any] | None:
        """Remove the object and return it, or ``None`` when there was none."""
        with self._lock:
            obj = self._objects.pop(key, None)
            if obj is not None:
                self._path(key).unlink(missing_ok=True)
            return obj

    def list_objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Copies of every object of ``resource`` (in ``namespace`` when given), by name."""
        with self._lock:
            found = [
                (k, o)
                for k, o in self._objects.items()
                if k[0] == resource and (namespace is None or k[1] == namespace)
            ]
        return [copy.deepcopy(o) for _, o in sorted(found, key=lambda item: item[0])]

    def view(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        """The stored objects themselves, without copies, for the data plane's hot path.

        Callers must not modify them; the store replaces objects, never changes them in place,
        so a view stays consistent while it is used.
        """
        with self._lock:
            return [o for k, o in self._objects.items() if k[0] == resource and k[1] == namespace]

    def peek(self, key: Key) -> dict[str, Any] | None:
        """The stored object itself (not a copy); see :meth:`view`."""
        with self._lock:
            return self._objects.get(key)

    def namespaces(self) -> set[str]:
        """Every namespace that holds at least one object."""
        with self._lock:
            return {k[1] for k in self._objects}

    @property
    def version(self) -> int:
        """The last resourceVersion handed out: changes whenever anything changed."""
        return self._version
