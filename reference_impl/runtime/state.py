"""Per-container state under the runtime root, safe under concurrent invocations.

Layout: ``<root>/<id>/`` made with ``mkdir`` (atomic: a second ``create`` of the same id fails
without touching the first), holding ``state.json`` (written by rename) and ``lock`` (every
operation holds an exclusive ``flock`` on it), and the start barrier socket ``notify.sock``.

Liveness: a container is alive while its init pid exists, is not a zombie, and has the start
time recorded at create (pid reuse is detected).
"""

from __future__ import annotations

import fcntl
import marshal
import os

from .errors import ContainerStateError

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/conformance-runtime"
STATE_FILE = "state.bin"
LOCK_FILE = "lock"
SOCKET_FILE = "notify.sock"
_ID_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ID_FIRST | frozenset("_.+-")


def check_id(container_id: str) -> str:
    """Reject ids that could escape the root or confuse tools (``../x``, ``a/b``, empty)."""
    cid = container_id or ""
    if not (0 < len(cid) <= 1024 and cid[0] in _ID_FIRST and set(cid) <= _ID_CHARS):
        raise ContainerStateError(
            f"invalid container id {container_id!r}: use letters, digits and _.+- "
            "(not starting with a punctuation character)"
        )
    return container_id


def oci_json(doc: dict[str, Any], indent: int | None = None) -> str:
    """JSON text of a state document (str, int and str-map values) without importing json.

    The standard encoder module pulls in ``re``; ``_json``'s string escaper is all we need.
    The text is what :func:`json.dumps` writes (with ``indent`` as there), except that other
    value types are not expected here.
    """
    from _json import encode_basestring_ascii as quote

    inner = "\n" + " " * indent if indent is not None else ""
    outer = "\n" if indent is not None else ""
    sep = "," + inner if indent is not None else ", "
    parts = []
    for key, value in doc.items():
        if isinstance(value, dict):
            text = "{}"
            if value:
                deeper = inner + " " * (indent or 0) if indent is not None else ""
                items = (f"{quote(k)}: {quote(v)}" for k, v in value.items())
                join = "," + deeper if indent is not None else ", "
                text = "{" + deeper + join.join(items) + inner + "}"
        elif isinstance(value, str):
            text = quote(value)
        else:
            text = str(int(value))
        parts.append(f"{quote(key)}: {text}")
    if not parts:
        return "{}"
    return "{" + inner + sep.join(parts) + outer + "}"


class Container:
    """What the runtime remembers about one container (a private, marshal-encoded file)."""

    FIELDS = (
        "id",
        "bundle",
        "oci_version",
        "status",
        "pid",
        "start_time",
        "annotations",
        "created",
        "cgroups",
        "cgroups_created",
        "poststart",
        "poststop",
        "creator_pid",
        "seccomp_listener",
    )

    def __init__(self, id: str, bundle: str, oci_version: str, **kw: Any) -> None:
        self.id = id
        self.bundle = bundle
        self.oci_version = oci_version
        self.status: str = kw.get("status", "creating")
        self.pid: int = kw.get("pid", 0)
        self.start_time: int = kw.get("start_time", 0)
        self.annotations: dict[str, str] = kw.get("annotations") or {}
        self.created: str = kw.get("created", "")
        self.cgroups: list[str] = kw.get("cgroups") or []
        self.cgroups_created: list[str] = kw.get("cgroups_created") or []
        self.poststart: list[dict[str, Any]] = kw.get("poststart") or []
        self.poststop: list[dict[str, Any]] = kw.get("poststop") or []
        self.creator_pid: int = kw.get("creator_pid", 0)
        # linux.seccomp.listenerPath when an SCMP_ACT_NOTIFY rule uses it: ``start`` connects.
        self.seccomp_listener: str = kw.get("seccomp_listener", "")

    def to_dict(self) -> dict[str, Any]:
        """The private state file's content."""
        return {name: getattr(self, name) for name in self.FIELDS}

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


def wait_pidfd(pidfd: int, timeout: float) -> bool:
    """Whether the process behind ``pidfd`` exited within ``timeout`` seconds."""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


class _Locked:
    """Context manager: the container's flock held, its record loaded."""

    def __init__(self, store: Store, container_id: str) -> None:
        self.store = store
        self.container_id = container_id
        self.fd = -1

    def __enter__(self) -> Container:
        path = self.store.dir(self.container_id)
        try:
            self.fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise ContainerStateError(f"container {self.container_id!r} does not exist") from err
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            return self.store.load(self.container_id)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


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

    def locked(self, container_id: str) -> _Locked:
        """``with store.locked(id) as container``: hold the lock; raises when it does not exist."""
        return _Locked(self, container_id)

    def load(self, container_id: str) -> Container:
        """Read a container's record (no lock: writers replace the file atomically)."""
        try:
            with open(os.path.join(self.dir(container_id), STATE_FILE), "rb") as fh:
                data = marshal.loads(fh.read())
        except FileNotFoundError as err:
            raise ContainerStateError(f"container {container_id!r} does not exist") from err
        return Container(**data)

    def save(self, container: Container) -> None:
        """Write a container's record atomically."""
        path = os.path.join(self.dir(container.id), STATE_FILE)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps(container.to_dict()))
        os.replace(tmp, path)

    def remove(self, container_id: str) -> None:
        """Remove the container's state directory (flat: a few files, no subdirectories)."""
        path = self.dir(container_id)
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            return
        for name in names:
            try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
        try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
            os.rmdir(path)
        except FileNotFoundError:
            pass

    def ids(self) -> list[str]:
        """All containers under the root."""
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if os.path.exists(os.path.join(self.root, n, STATE_FILE))]
