"""``start``, ``kill``, ``delete``, ``state`` on top of :mod:`.process` and :mod:`.state`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
from typing import Any

from . import hooks as hooks_mod
from .errors import ContainerStateError, HostError, RuntimeCommandError
from .state import SOCKET_FILE, Container, Store

log = logging.getLogger(__name__)


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
        try:
            hooks_mod.run_hooks("poststart", container.poststart, container.oci_state("running"))
        except HostError:
            _signal(container, signal.SIGKILL)
            raise


def _release(store: Store, container: Container) -> None:
    """Connect to the helper's barrier, hand it the state, and read its verdict."""
    dirfd = os.open(store.dir(container.id), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/{SOCKET_FILE}")
        except OSError as err:
            raise HostError(f"failed to reach the container init: {err.strerror}") from err
        sock.sendall(json.dumps(container.oci_state("created")).encode())
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
        os.close(dirfd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(store.dir(container.id), SOCKET_FILE))
    if chunks:
        # The helper writes only on failure: the connection closes on a successful execve.
        raise HostError(b"".join(chunks).decode(errors="replace"))


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
    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(pidfd, sig)
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
    from .process import wait_pidfd

    with store.locked(container_id) as container:
        status = container.current_status()
        if status == "running" and not force:
            raise ContainerStateError(
                f"cannot delete container {container_id!r}: it is running (use --force)"
            )
        cgroups = Cgroups(container.cgroups, container.cgroups_created)
        if container.pid > 0 and status != "stopped":
            _stop(container, wait_pidfd)
        cgroups.kill_all(signal.SIGKILL)
        cgroups.destroy()
        store.remove(container_id)
    try:
        hooks_mod.run_hooks("poststop", container.poststop, container.oci_state("stopped"))
    except RuntimeCommandError as err:
        # config.md#posix-platform-hooks: a failing poststop hook is only a warning.
        log.warning("%s", err)


def _stop(container: Container, wait: Any) -> None:
    try:
        pidfd = os.pidfd_open(container.pid)
    except ProcessLookupError:
        return
    try:
        if container.alive():
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            wait(pidfd, 10.0)
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
