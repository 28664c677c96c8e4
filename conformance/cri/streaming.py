"""A client of the Kubernetes streaming protocol over WebSocket (``v4.channel.k8s.io``).

Each binary frame starts with one byte naming the channel: 0 stdin, 1 stdout, 2 stderr,
3 error/status (a JSON ``Status`` in v4), 4 resize. Port forwarding uses two channels per port
(data, error), whose first frame from the server is the port number, little-endian uint16.
"""

from __future__ import annotations

import json
import time
from typing import Any

import websocket

from conformance.core import current_evidence

PROTOCOL = "v4.channel.k8s.io"


class ChannelStream:
    """One WebSocket connection to a streaming URL, with output collected per channel."""

    def __init__(self, url: str, timeout: float = 10.0, protocol: str = PROTOCOL) -> None:
        ws_url = "ws" + url[len("http") :] if url.startswith("http") else url
        self.url = ws_url
        self.ws = websocket.create_connection(ws_url, subprotocols=[protocol], timeout=timeout)
        self.protocol = self.ws.getsubprotocol()
        self.channels: dict[int, bytearray] = {}
        self.closed = False
        current_evidence().note("websocket connected", url=ws_url, protocol=self.protocol)

    def send(self, channel: int, data: bytes) -> None:
        """Send ``data`` on ``channel``."""
        self.ws.send_binary(bytes([channel]) + data)

    def read_frame(self) -> tuple[int, bytes] | None:
        """One frame, or ``None`` once the server closed the connection."""
        try:
            opcode, data = self.ws.recv_data()
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            self.closed = True
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE or not data:
            self.closed = opcode == websocket.ABNF.OPCODE_CLOSE
            return None if self.closed else (-1, b"")
        channel, payload = data[0], bytes(data[1:])
        self.channels.setdefault(channel, bytearray()).extend(payload)
        return channel, payload

    def read_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Read frames until ``predicate(self)`` holds or the stream ends or times out."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if self.closed or time.monotonic() > deadline:
                return False
            if self.read_frame() is None:
                return bool(predicate(self))
        return True

    def read_all(self, timeout: float = 10.0) -> None:
        """Read until the server closes the stream."""
        self.read_until(lambda s: s.closed, timeout)

    def output(self, channel: int) -> bytes:
        """Everything received on ``channel``."""
        return bytes(self.channels.get(channel, b""))

    def status(self) -> dict[str, Any] | None:
        """The v4 status object sent on channel 3, if any."""
        raw = self.output(3)
        return json.loads(raw) if raw else None

    def close(self) -> None:
        """Close the connection and record what each channel carried."""
        current_evidence().note(
            "websocket closed",
            url=self.url,
            channels={
                str(k): bytes(v[:2048]).decode(errors="replace") for k, v in self.channels.items()
            },
        )
        try:
            self.ws.close(timeout=2)
        except (websocket.WebSocketException, OSError):
            pass  # the server closed first; the socket is released below either way
        finally:
            self.ws.shutdown()
