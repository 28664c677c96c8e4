"""Streaming server for Exec, Attach and PortForward over WebSocket (``channel.k8s.io``).

The RPCs hand out single-use URLs ``http://127.0.0.1:PORT/<kind>/<token>``; the WebSocket
session on such a URL speaks the Kubernetes channel protocol: each binary frame starts with
a channel byte (0 stdin, 1 stdout, 2 stderr, 3 status as a JSON ``Status`` in v4, 4 resize).
Port forwarding uses channel 0 (data) and 1 (errors) per port, each first carrying the port as
two little-endian bytes. Served by starlette on uvicorn (wsproto) in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import secrets
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from reference_impl.cri.errors import NotFound

log = logging.getLogger(__name__)

PROTOCOLS = ("v4.channel.k8s.io", "channel.k8s.io")
TOKEN_TTL = 60.0
CLONE_NEWNET = 0x40000000


@dataclass
class Session:
    """What a token grants: the kind of stream and its parameters."""

    kind: str
    container_id: str = ""
    cmd: list[str] = field(default_factory=list)
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    log_path: str = ""
    stdin_fifo: str = ""
    netns: str = ""
    ports: list[int] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)


def _status(code: int) -> bytes:
    if code == 0:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    ).encode()


def connect_in_netns(netns: str, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` inside the network namespace ``netns``.

    setns(2) applies to the calling thread only, so a short-lived thread enters the
    namespace, connects, and ends; the socket stays in the namespace it was made in.
    """
    result: dict[str, Any] = {}

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            fd = os.open(netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"failed to enter netns {netns}")
            finally:
                os.close(fd)
            result["sock"] = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError as err:
            result["error"] = err

    if not netns:
        return socket.create_connection(("127.0.0.1", port), timeout=10)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


class StreamServer:
    """Token registry plus the WebSocket endpoints."""

    def __init__(self, runtime_path: str, runtime_root: Path, host: str = "127.0.0.1") -> None:
        self.runtime_path = runtime_path
        self.runtime_root = runtime_root
        self.host = host
        self.port = 0
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.app = Starlette(routes=[WebSocketRoute("/{kind}/{token}", self.handle)])
        self.server: uvicorn.Server | None = None

    def start(self) -> None:
        """Listen on an ephemeral loopback port in a background thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, ws="wsproto", log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()

    def stop(self) -> None:
        """Ask uvicorn to exit."""
        if self.server is not None:
            self.server.should_exit = True

    def url(self, session: Session) -> str:
        """Register ``session`` and return its single-use URL."""
        token = secrets.token_urlsafe(16)
        with self.lock:
            now = time.monotonic()
            for key in [k for k, s in self.sessions.items() if now - s.created > TOKEN_TTL]:
                del self.sessions[key]
            self.sessions[token] = session
        return f"http://{self.host}:{self.port}/{session.kind}/{token}"

    async def handle(self, ws: WebSocket) -> None:
        """Accept a session by token, negotiate the subprotocol, run it."""
        token = ws.path_params["token"]
        with self.lock:
            session = self.sessions.pop(token, None)
        if session is None or session.kind != ws.path_params["kind"]:
            await ws.close(code=4404)
            return
        offered = ws.scope.get("subprotocols") or []
        chosen = next((p for p in PROTOCOLS if p in offered), None)
        await ws.accept(subprotocol=chosen)
        try:
            if session.kind == "exec":
                await self._exec(ws, session, chosen == PROTOCOLS[0])
            elif session.kind == "attach":
                await self._attach(ws, session)
            else:
                await self._portforward(ws, session)
        except WebSocketDisconnect:
            return
        except Exception:  # one broken session must not take the server down
            log.exception("%s session failed", session.kind)
        with contextlib.suppress(Exception):
            await ws.close()

    # -- exec -------------------------------------------------------------------------------

    async def _exec(self, ws: WebSocket, session: Session, v4: bool) -> None:
        loop = asyncio.get_running_loop()
        cmd = [self.runtime_path, "--root", str(self.runtime_root), "exec"]
        cmd += [session.container_id, *session.cmd]
        master = -1
        if session.tty:
            master, slave = os.openpty()
            proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave)
            os.close(slave)
            outputs = [(master, 1)]
            stdin_fd = master
        else:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if session.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            outputs = [(proc.stdout.fileno(), 1), (proc.stderr.fileno(), 2)]  # type: ignore[union-attr]
            stdin_fd = proc.stdin.fileno() if proc.stdin else -1
        readers = [
            threading.Thread(target=self._pump, args=(fd, ch, ws, loop), daemon=True)
            for fd, ch in outputs
        ]
        for reader in readers:
            reader.start()
        feeder = asyncio.ensure_future(self._feed(ws, stdin_fd, close=not session.tty))
        code = await loop.run_in_executor(None, proc.wait)
        for reader in readers:
            await loop.run_in_executor(None, reader.join, 5)
        feeder.cancel()
        if master >= 0:
            os.close(master)
        if v4:
            await ws.send_bytes(b"\x03" + _status(code))

    @staticmethod
    def _pump(fd: int, channel: int, ws: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO on a pty once the last writer is gone
                return
            if not data:
                return
            fut = asyncio.run_coroutine_threadsafe(ws.send_bytes(bytes([channel]) + data), loop)
            try:
                fut.result(timeout=30)
            except Exception:
                return

    @staticmethod
    async def _feed(ws: WebSocket, fd: int, close: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await ws.receive_bytes()
                if data[:1] == b"\x00" and fd >= 0:
                    await loop.run_in_executor(None, os.write, fd, data[1:])
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            if close and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- attach -----------------------------------------------------------------------------

    async def _attach(self, ws: WebSocket, session: Session) -> None:
        loop = asyncio.get_running_loop()
        fifo = -1
        if session.stdin and session.stdin_fifo:
            fifo = os.open(session.stdin_fifo, os.O_WRONLY | os.O_NONBLOCK)
        feeder = asyncio.ensure_future(self._feed(ws, fifo, close=True))
        path = Path(session.log_path)
        offset = path.stat().st_size if path.exists() else 0
        try:
            while not feeder.done():
                offset = await loop.run_in_executor(None, self._tail, path, offset, ws, loop)
                await asyncio.sleep(0.05)
        finally:
            feeder.cancel()

    @staticmethod
    def _tail(path: Path, offset: int, ws: WebSocket, loop: asyncio.AbstractEventLoop) -> int:
        """Send CRI log records written since ``offset`` (stdout -> 1, stderr -> 2)."""
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except OSError:
            return offset
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            parts = line.split(b" ", 3)
            if len(parts) < 4:
                continue
            channel = 1 if parts[1] == b"stdout" else 2
            msg = parts[3] + (b"\n" if parts[2] == b"F" else b"")
            asyncio.run_coroutine_threadsafe(ws.send_bytes(bytes([channel]) + msg), loop).result(
                timeout=30
            )
        return offset + end

    # -- port forward -----------------------------------------------------------------------

    async def _portforward(self, ws: WebSocket, session: Session) -> None:
        loop = asyncio.get_running_loop()
        query = ws.query_params.get("ports", "")
        ports = [int(p) for p in query.split(",") if p.strip().isdigit()] or session.ports
        if not ports:
            raise NotFound("no port to forward")
        port = ports[0]
        header = struct.pack("<H", port)
        await ws.send_bytes(b"\x00" + header)
        await ws.send_bytes(b"\x01" + header)
        sock = await loop.run_in_executor(None, connect_in_netns, session.netns, port)
        sock.settimeout(None)
        reader = threading.Thread(target=self._pump, args=(sock.fileno(), 0, ws, loop), daemon=True)
        reader.start()
        try:
            while reader.is_alive():
                try:
                    data = await asyncio.wait_for(ws.receive_bytes(), timeout=0.2)
                except TimeoutError:
                    continue
                if data[:1] == b"\x00" and len(data) > 1:
                    await loop.run_in_executor(None, sock.sendall, data[1:])
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
