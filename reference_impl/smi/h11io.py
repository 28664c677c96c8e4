"""HTTP/1.1 over asyncio streams with h11, for the proxies of the data plane.

Bodies are read whole (bounded by ``MAX_BODY``): the proxies forward small test traffic and
need the full request to decide on routes anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import h11

MAX_BODY = 8 * 1024 * 1024
READ_SIZE = 65536

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    }
)


class PeerClosedError(Exception):
    """The other side closed the connection before a whole message arrived."""


@dataclass
class Message:
    """One request or response with its whole body."""

    head: h11.Request | h11.Response
    body: bytes

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Header names (lower case) and values as text."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.head.headers]


def end_to_end(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers a proxy forwards: hop-by-hop ones and the framing are left out."""
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]


class H11Stream:
    """One HTTP/1.1 connection on an asyncio stream pair, as client or server."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: type[h11.CLIENT]
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(role, max_incomplete_event_size=64 * 1024)

    async def _next(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            self.conn.receive_data(data)

    def _paused_for_connect(self, event: object) -> bool:
        return event is h11.PAUSED and self.conn.their_state is h11.MIGHT_SWITCH_PROTOCOL

    async def read_message(self) -> Message | None:
        """The next whole message; ``None`` when the peer closed cleanly between messages."""
        head = await self._next()
        if isinstance(head, h11.ConnectionClosed):
            return None
        if not isinstance(head, h11.Request | h11.Response):
            raise PeerClosedError(f"unexpected HTTP event {head!r}")
        body = bytearray()
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise PeerClosedError("message body too large")
            elif isinstance(event, h11.EndOfMessage) or self._paused_for_connect(event):
                return Message(head, bytes(body))
            else:
                raise PeerClosedError(f"connection ended inside a message ({event!r})")

    async def send(self, head: h11.Request | h11.Response, body: bytes = b"") -> None:
        """Send a whole message with a Content-Length."""
        headers = [*head.headers, (b"content-length", str(len(body)).encode())]
        if isinstance(head, h11.Request):
            event: h11.Request | h11.Response = h11.Request(
                method=head.method, target=head.target, headers=headers
            )
        else:
            event = h11.Response(status_code=head.status_code, headers=headers, reason=head.reason)
        data = self.conn.send(event) or b""
        if body:
            data += self.conn.send(h11.Data(data=body)) or b""
        data += self.conn.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def send_response(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Send a response the proxy produced itself."""
        head = h11.Response(status_code=status, headers=headers or [])
        await self.send(head, body)

    async def accept_tunnel(self) -> bytes:
        """Answer a CONNECT with 200 and hand over the connection; the bytes already read."""
        self.writer.write(self.conn.send(h11.Response(status_code=200, headers=[])) or b"")
        await self.writer.drain()
        leftover, _ = self.conn.trailing_data
        return bytes(leftover)

    def reusable(self) -> bool:
        """Start the next request/response cycle when both sides finished cleanly."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False

    async def close(self) -> None:
        """Close the transport, ignoring a peer that is already gone."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until end of stream, then half-close (or close) the writer."""
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        else:
            writer.close()
    except (ConnectionError, OSError):
        writer.close()


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    first: bytes = b"",
) -> None:
    """Join two connections both ways until both directions end; ``first`` goes to ``b``."""
    if first:
        b[1].write(first)
    await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
    for _, writer in (a, b):
        writer.close()
