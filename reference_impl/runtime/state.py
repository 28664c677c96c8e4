"""Per-container state under the runtime root, safe under concurrent invocations.

Layout: ``<root>/<id>/`` made with ``mkdir`` (atomic: a second ``create`` of the same id fails
without touching the first), holding ``state.json`` (written by rename) and ``lock`` (every
operation holds an exclusive ``flock`` on it), and the start barrier socket ``notify.sock``.

Liveness: a container is alive while its init pid exists, is not a zombie, and has the start
time recorded at create (pid reuse is detected).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ContainerStateError

DEFAULT_ROOT = "/run/conformance-runtime"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}$")
STATE_FILE = "state.json"
LOCK_FILE = "lock"
SOCKET_FILE = "notify.sock"


def check_id(container_id: str) -> str:
    """Reject ids that could escape the root or confuse tools (``../x``, ``a/b``, empty)."""
    if not _ID.match(container_id or ""):
        raise ContainerStateError(
            f"invalid container id {container_id!r}: use letters, digits and _.+- "
            "(not starting with a punctuation character)"
        )
    return container_id


@dataclass
class Container:
    """What the runtime remembers about one container."""

    id: str
    bundle: str
    oci_version: str
    status: str = "creating"
    pid: int = 0
    start_time: int = 0
    annotations: dict[str, str] = field(default_factory=dict)
    created: str = ""
    cgroups: list[str] = field(default_factory=list)
    cgroups_created: list[str] = field(default_factory=list)
    poststart: list[dict[str, Any]] = field(default_factory=list)
    poststop: list[dict[str, Any]] = field(default_factory=list)
    creator_pid: int = 0

    def to_json(self) -> dict[str, Any]:
        """The private state file's content."""
        return dict(self.__dict__)

    def oci_state(self, status: str | None = None) -> dict[str, Any]:
        """The state document of runtime.md#state (what ``state`` prints and hooks read)."""
        status = status or self.current_status()
        doc: dict[str, Any] = {
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status,
            "pid": self.pid if status in ("creating", "created", "running") else 0,
            "bundle": self.bundle,
        }
        if self.annotations:
            doc["annotations"] = self.annotations
        return doc

    def alive(self) -> bool:
        """Whether the container's init process still runs (not gone, not a zombie)."""
        if self.pid <= 0:
            return False
        stat = read_stat(self.pid)
        return stat is not None and stat[0] != "Z" and stat[1] == self.start_time

    def current_status(self) -> str:
        """The spec status now: stored status, downgraded to ``stopped`` when init is gone."""
        if self.status == "creating":
            return "creating"
        if self.status in ("created", "running") and not self.alive():
            return "stopped"
        return self.status


def read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of ``pid``, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


class Store:
    """The runtime root: one directory per container."""

    def __init__(self, root: str | None) -> None:
        self.root = os.path.abspath(root or DEFAULT_ROOT)

    def dir(self, container_id: str) -> str:
        """The container's state directory."""
        return os.path.join(self.root, check_id(container_id))

    def reserve(self, container_id: str) -> int:
        """Claim ``container_id`` atomically; returns an fd holding the container's lock."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        path = self.dir(container_id)
        try:
            os.mkdir(path, 0o711)
        except FileExistsError as err:
            raise ContainerStateError(f"container {container_id!r} already exists") from err
        fd = os.open(os.path.join(path, LOCK_FILE), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @contextlib.contextmanager
    def locked(self, container_id: str) -> Iterator[Container]:
        """Hold the container's lock and yield its record; raises when it does not exist."""
        path = self.dir(container_id)
        try:
            fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise ContainerStateError(f"container {container_id!r} does not exist") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.load(container_id)
        finally:
            os.close(fd)

    def load(self, container_id: str) -> Container:
        """Read a container's record (no lock: ``state`` and ``list`` read a renamed file)."""
        try:
            with open(os.path.join(self.dir(container_id), STATE_FILE), "rb") as fh:
                data = json.loads(fh.read())
        except FileNotFoundError as err:
            raise ContainerStateError(f"container {container_id!r} does not exist") from err
        return Container(**data)

    def save(self, container: Container) -> None:
        """Write a container's record atomically."""
        path = os.path.join(self.dir(container.id), STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(container.to_json(), fh)
        os.replace(tmp, path)

    def remove(self, container_id: str) -> None:
        """Remove the container's state directory."""
        shutil.rmtree(self.dir(container_id), ignore_errors=True)

    def ids(self) -> list[str]:
        """All containers under the root."""
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if os.path.exists(os.path.join(self.root, n, STATE_FILE))]
