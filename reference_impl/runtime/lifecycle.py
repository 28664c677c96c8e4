"""``start``, ``kill``, ``delete``, ``state`` on top of :mod:`.process` and :mod:`.state`.

These run once per CLI call in a fresh interpreter, so they use the C modules ``_socket`` and
``_signal`` directly (the ``socket``/``signal`` wrappers import ``enum``) and import hooks and
cgroups code only when there is work for it.
"""

from __future__ import annotations

import os

from ._log import get_logger
from .errors import ContainerStateError, HostError
from .state import SOCKET_FILE, Container, Store, oci_json, wait_pidfd

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)
SIGKILL = 9


def state(store: Store, container_id: str) -> dict[str, Any]:
    """The state document of runtime.md#state."""
    return store.load(container_id).oci_state()


def start(store: Store, container_id: str) -> None:
    """Release the barrier: startContainer hooks run, the process execs, poststart hooks run.

    Raises:
        ContainerStateError: the container is not ``created``.
        HostError: a startContainer or poststart hook failed, or the exec failed; the
            container is stopped (runtime.md#lifecycle, v1.3 for poststart).
    """
    with store.locked(container_id) as container:
        status = container.current_status()
        if status != "created":
            raise ContainerStateError(
                f"cannot start container {container_id!r}: it is {status}, not created"
            )
        _release(store, container)
        container.status = "running"
        store.save(container)
        if container.poststart:
            from .hooks import run_hooks

            try:
                run_hooks("poststart", container.poststart, container.oci_state("running"))
            except HostError:
                _signal(container, SIGKILL)
                raise


def _release(store: Store, container: Container) -> None:
    """Connect to the helper's barrier, hand it the state, and read its verdict."""
    import _socket

    # Connected here, in the runtime's namespaces, and only now: the path may be out of the
    # container's reach, and the listener gets its one state right after this connection.
    listener = _connect_listener(container.seccomp_listener) if container.seccomp_listener else None
    dirfd = os.open(store.dir(container.id), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    chunks = []
    try:
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/{SOCKET_FILE}")
        except OSError as err:
            raise HostError(f"failed to reach the container init: {err.strerror}") from err
        doc = container.oci_state("created")
        # startContainer hooks run in the container: they get the pid as seen there.
        doc["pid"] = _pid_in_container(container.pid)
        data = oci_json(doc).encode()
        if listener is not None:
            import struct

            # The helper sends the process state and notify fd over it once the filter is in.
            rights = struct.pack("i", listener.fileno())
            sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
            data = data[sent:]
            listener.close()
        sock.sendall(data)
        sock.shutdown(_socket.SHUT_WR)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
        os.close(dirfd)
        if listener is not None:
            listener.close()
    try:  # noqa: SIM105 (no contextlib import on the CLI's hot path)
        os.unlink(os.path.join(store.dir(container.id), SOCKET_FILE))
    except FileNotFoundError:
        pass
    if chunks:
        # The helper writes only on failure: the connection closes on a successful execve.
        raise HostError(b"".join(chunks).decode(errors="replace"))


_LISTENER_TIMEOUT = 10.0


def _connect_listener(path: str) -> Any:
    """A stream connection to ``linux.seccomp.listenerPath`` (through its directory's fd
    when the path is longer than sun_path holds)."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    dirfd = -1
    try:
        target = path
        if len(os.fsencode(path)) > 107:
            dirfd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
        # An agent that never accepts must not hang start: bound the connect, then go back to
        # blocking mode for the helper's sendmsg.
        sock.settimeout(_LISTENER_TIMEOUT)
        sock.connect(target)
        sock.settimeout(None)
    except OSError as err:
        sock.close()
        raise HostError(
            f"linux.seccomp.listenerPath: failed to connect to {path}: {err.strerror or err}"
        ) from err
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    return sock


def _pid_in_container(pid: int) -> int:
    """The innermost pid of ``pid`` (``NSpid`` in /proc/<pid>/status)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        pass
    return pid


def kill(store: Store, container_id: str, sig: int, all_processes: bool = False) -> None:
    """Send ``sig`` to the container's init (or every process with ``all_processes``)."""
    with store.locked(container_id) as container:
        status = container.current_status()
        if status not in ("created", "running"):
            raise ContainerStateError(f"cannot kill container {container_id!r}: it is {status}")
        if all_processes:
            from .cgroups import Cgroups

            Cgroups(container.cgroups, []).kill_all(sig)
        _signal(container, sig)


def _signal(container: Container, sig: int) -> None:
    """Signal the init through a pidfd, so a recycled pid is never hit."""
    import _signal as csignal

    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        return
    try:
        if container.alive():
            csignal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def delete(store: Store, container_id: str, force: bool = False) -> None:
    """Destroy the container: processes, cgroups, state; then the poststop hooks.

    A ``created`` container is deleted too (as runc, crun and runsc do); a running one only
    with ``force``.
    """
    from .cgroups import Cgroups

    with store.locked(container_id) as container:
        status = container.current_status()
        if status == "running" and not force:
            raise ContainerStateError(
                f"cannot delete container {container_id!r}: it is running (use --force)"
            )
        cgroups = Cgroups(container.cgroups, container.cgroups_created)
        if container.pid > 0 and status != "stopped":
            _stop(container)
        if force:
            cgroups.kill_all(SIGKILL)
        cgroups.destroy()
        store.remove(container_id)
    if container.poststop:
        from .hooks import run_hooks

        run_hooks("poststop", container.poststop, container.oci_state("stopped"), keep_going=True)


def _stop(container: Container) -> None:
    import _signal as csignal

    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        return
    try:
        if container.alive():
            csignal.pidfd_send_signal(pidfd, SIGKILL)
            wait_pidfd(pidfd, 10.0)
    finally:
        os.close(pidfd)


def list_containers(store: Store) -> list[dict[str, Any]]:
    """State documents (plus creation time) of every container under the root."""
    result = []
    for cid in store.ids():
        try:
            container = store.load(cid)
        except ContainerStateError:
            continue
        doc = container.oci_state()
        doc["created"] = container.created
        result.append(doc)
    return result
