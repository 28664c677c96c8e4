# ruff: noqa: F811  (fixtures are imported from the support module and used as arguments)
"""System tests: the reference runtime's SCMP_ACT_NOTIFY listener (config-linux.md#seccomp).

A seccomp agent in the test accepts the runtime's connection on ``listenerPath``, takes the
container process state and the notify fd, and answers the container's notified calls with
``SECCOMP_IOCTL_NOTIF_RECV``/``SEND`` (seccomp_unotify(2)); the container prints what it got.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_ref_support import (  # noqa: F401  (fixtures)
    base_config,
    bundle,
    busybox_rootfs,
    refrt,
    subreaper,
    unique_id,
    wait_exit,
)

pytestmark = pytest.mark.system

# seccomp_unotify(2): struct seccomp_notif is 80 bytes, struct seccomp_notif_resp 24.
NOTIF = struct.Struct("QIIiIQ6Q")
RESP = struct.Struct("QqiI")
IOCTL_NOTIF_RECV = 0xC0000000 | NOTIF.size << 16 | ord("!") << 8 | 0
IOCTL_NOTIF_SEND = 0xC0000000 | RESP.size << 16 | ord("!") << 8 | 1
NR_GETPPID, NR_MKDIR, NR_MKDIRAT = 110, 83, 258  # x86_64
PPID_ANSWER = 4242


class Agent(threading.Thread):
    """A one-connection seccomp agent: getppid returns PPID_ANSWER, mkdir(at) fails EXDEV."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.message: dict[str, Any] | None = None
        self.fds: list[int] = []
        self.trailing = b""
        self.answered: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._serve()
        except BaseException as err:  # reported by the test, never lost in the thread
            self.error = err
        finally:
            for fd in self.fds:
                os.close(fd)

    def _serve(self) -> None:
        ready, _, _ = select.select([self.sock], [], [], 20)
        if not ready:
            return
        conn, _ = self.sock.accept()
        with conn:
            data, self.fds, _, _ = socket.recv_fds(conn, 65536, 4)
            conn.settimeout(10)
            while chunk := conn.recv(65536):
                self.trailing += chunk
        self.message = json.loads(data)
        if len(self.fds) == 1:
            self._answer(self.fds[0])

    def _answer(self, fd: int) -> None:
        """Answer notifications until every task of the filter has gone (POLLHUP)."""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            events = poller.poll(20_000)
            if not events or events[0][1] & select.POLLHUP:
                return
            buf = bytearray(NOTIF.size)
            try:
                fcntl.ioctl(fd, IOCTL_NOTIF_RECV, buf)
            except OSError as err:
                if err.errno == errno.ENOENT:  # the caller was killed meanwhile
                    continue
                raise
            notif_id, _pid, _flags, nr, *_ = NOTIF.unpack(buf)
            self.answered.append(nr)
            if nr == NR_GETPPID:
                resp = RESP.pack(notif_id, PPID_ANSWER, 0, 0)
            else:
                resp = RESP.pack(notif_id, 0, -errno.EXDEV, 0)
            fcntl.ioctl(fd, IOCTL_NOTIF_SEND, resp)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening unix stream socket at a short path, removed afterwards."""
    directory = tempfile.mkdtemp(prefix="refrt-notify-", dir="/tmp")
    path = os.path.join(directory, "agent.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(2)
        yield sock
    finally:
        sock.close()
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)


def notify_config(path: str, script: str) -> dict[str, Any]:
    config = base_config(["sh", "-c", script])
    config["annotations"] = {"org.example.agent": "yes"}
    config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path,
        "listenerMetadata": "agent=test;v=1",
        "syscalls": [
            {"names": ["getppid", "mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
        ],
    }
    return config


def _variant(config: dict[str, Any], variant: str) -> None:
    """wait-killable: the flag that goes through the helper's own seccomp(2) call; no-nnp: the
    filter is loaded before the credentials change; userns: init in a new user namespace."""
    if variant == "wait-killable":
        config["linux"]["seccomp"]["flags"] = ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    elif variant == "no-nnp":
        config["process"]["noNewPrivileges"] = False
        config["process"]["user"] = {"uid": 1000, "gid": 1000}
    elif variant == "userns":
        # Root stays root so the bundle below pytest's 0700 directories is reachable.
        maps = [
            {"containerID": 0, "hostID": 0, "size": 1},
            {"containerID": 1, "hostID": 100001, "size": 65535},
        ]
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = config["linux"]["gidMappings"] = maps
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/sys"]


@pytest.mark.parametrize("variant", ["plain", "wait-killable", "no-nnp", "userns"])
def test_agent_answers_notified_calls(refrt, bundle, listener, tmp_path: Path, variant) -> None:
    """The agent gets the process state and the notify fd; its answers reach the container."""
    script = 'echo "ppid=$PPID"; mkdir /tmp/d 2>/dev/null; echo "mkdir=$?"; ls /proc/self/fd'
    config = notify_config(listener.getsockname(), script)
    _variant(config, variant)
    b = bundle(config)
    cid = unique_id("notify")
    out = tmp_path / "out"
    agent = Agent(listener)
    agent.start()

    assert refrt.create(cid, b, output=out).returncode == 0, out.read_text()
    pid = refrt.state(cid)["pid"]
    started = refrt("start", cid)
    code = wait_exit(pid)
    agent.join(30)

    assert started.returncode == 0, started.stderr
    assert agent.error is None, agent.error
    assert agent.message == {
        "ociVersion": "1.3.0",
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": "agent=test;v=1",
        "state": {
            "ociVersion": "1.3.0",
            "id": cid,
            "status": "created",
            "pid": pid,
            "bundle": str(b),
            "annotations": {"org.example.agent": "yes"},
        },
    }
    assert agent.trailing == b"", "one state per connection, then EOF"
    assert NR_GETPPID in agent.answered
    lines = out.read_text().split()
    assert code == 0, lines
    assert f"ppid={PPID_ANSWER}" in lines
    assert "mkdir=1" in lines
    # Only stdio (and ls's own directory fd): neither the agent socket nor the notify fd.
    assert lines[-4:] == ["0", "1", "2", "3"], lines


def test_listener_path_longer_than_sun_path_is_reached(refrt, bundle, tmp_path: Path) -> None:
    """A listenerPath over the 108 bytes of sun_path is still connected to."""
    directory = tmp_path / ("d" * 60) / ("e" * 60)
    directory.mkdir(parents=True)
    dirfd = os.open(directory, os.O_PATH | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(f"/proc/self/fd/{dirfd}/agent.sock")
        sock.listen(1)
        path = str(directory / "agent.sock")
        assert len(path) > 108
        agent = Agent(sock)
        agent.start()
        config = notify_config(path, 'echo "ppid=$PPID"')

        proc = refrt("run", "--bundle", str(bundle(config)), unique_id("notify"))
        agent.join(30)
    finally:
        sock.close()
        os.close(dirfd)

    assert proc.returncode == 0, proc.stderr
    assert agent.error is None, agent.error
    assert agent.message is not None
    assert agent.message["fds"] == ["seccompFd"]
    assert f"ppid={PPID_ANSWER}" in proc.stdout


def test_unreachable_listener_fails_start_without_effect(refrt, bundle, listener) -> None:
    """start names listenerPath when the agent is gone, and the container stays created."""
    path = listener.getsockname()
    b = bundle(notify_config(path, "true"))
    cid = unique_id("notify")
    assert refrt.create(cid, b).returncode == 0
    listener.close()
    os.unlink(path)

    started = refrt("start", cid)

    assert started.returncode != 0
    assert "linux.seccomp.listenerPath" in started.stderr
    assert refrt.state(cid)["status"] == "created"


@pytest.mark.parametrize(
    ("seccomp", "field"),
    [
        ({"syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}, "listenerPath"),
        ({"listenerMetadata": "x"}, "listenerMetadata"),
        ({"flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}, "flags[0]"),
    ],
)
def test_incomplete_notify_config_fails_create(refrt, bundle, seccomp, field) -> None:
    """create refuses a NOTIFY setup it cannot honour, naming the field, and leaves nothing."""
    config = base_config(["true"])
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", **seccomp}
    cid = unique_id("notify")

    proc = refrt.create(cid, bundle(config))

    assert proc.returncode != 0
    assert f"linux.seccomp.{field}" in proc.stderr
    assert refrt("state", cid).returncode != 0
