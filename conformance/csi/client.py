"""The suite's gRPC client side: evidence recording, secret redaction, status checks.

Every call goes through :class:`EvidenceInterceptor`, so each test's result record holds the
requests and responses it exchanged (fields the spec marks ``csi_secret`` are redacted before
anything is recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from conformance.core import Violation, current_evidence
from wire.proto.csi import csi_pb2, csi_pb2_grpc

log = logging.getLogger(__name__)

RPC_TIMEOUT = 30.0
"""Seconds one RPC may take before the suite gives up on it."""

REDACTED = "[redacted]"


def is_secret(field: Any) -> bool:
    """True when the spec marks ``field`` with the ``csi_secret`` option."""
    return bool(field.GetOptions().Extensions[csi_pb2.csi_secret])


def redacted(message: Message) -> Message:
    """A copy of ``message`` with every ``csi_secret`` value replaced, at any depth."""
    copy = type(message)()
    copy.CopyFrom(message)
    _redact(copy)
    return copy


def _redact(message: Message) -> None:
    for field, value in message.ListFields():
        if is_secret(field):
            for key in list(value):
                value[key] = REDACTED
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            items = value if _repeated(field) else [value]
            for item in items:
                _redact(item)


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def to_dict(message: Message | None) -> dict[str, Any] | None:
    """JSON-like data of a message, secrets redacted; ``None`` stays ``None``."""
    if message is None:
        return None
    return MessageToDict(redacted(message), preserving_proto_field_name=True)


class EvidenceInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Record every RPC (method, request, response or status) into the running test."""

    def intercept_unary_unary(self, continuation, client_call_details, request):
        outcome = continuation(client_call_details, request)
        method = client_call_details.method
        try:
            response = outcome.result()
        except grpc.RpcError as err:
            log.debug("rpc %s -> %s", method, err.code().name)
            current_evidence().rpc(
                method, to_dict(request), code=err.code().name, detail=err.details() or ""
            )
        else:
            log.debug("rpc %s -> OK", method)
            current_evidence().rpc(method, to_dict(request), response=to_dict(response))
        return outcome

    def intercept_unary_stream(self, continuation, client_call_details, request):
        stream = continuation(client_call_details, request)
        return RecordingStream(stream, client_call_details.method, request)


class RecordingStream:
    """A server stream that records its messages and final status once it ends."""

    def __init__(self, stream: Any, method: str, request: Message) -> None:
        self._stream = stream
        self._method = method
        self._request = request
        self._messages: list[Any] = []
        self._recorded = False

    def __iter__(self) -> RecordingStream:
        return self

    def __next__(self) -> Any:
        try:
            message = next(self._stream)
        except StopIteration:
            self._record("OK", "")
            raise
        except grpc.RpcError as err:
            self._record(err.code().name, err.details() or "")
            raise
        self._messages.append(to_dict(message))
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _record(self, code: str, detail: str) -> None:
        if self._recorded:
            return
        self._recorded = True
        response = {"stream": self._messages} if code == "OK" else None
        current_evidence().rpc(
            self._method, to_dict(self._request), response=response, code=code, detail=detail
        )


class Stub:
    """A generated stub whose methods carry a default deadline."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Message, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", RPC_TIMEOUT)
            return method(request, **kwargs)

        call.__name__ = name
        return call


def open_channel(endpoint: str) -> grpc.Channel:
    """A channel to ``endpoint`` with evidence recording."""
    channel = grpc.insecure_channel(endpoint)
    return grpc.intercept_channel(channel, EvidenceInterceptor())


class Services:
    """Stubs of every CSI service on one or two channels (controller may be separate)."""

    def __init__(self, node: grpc.Channel, controller: grpc.Channel) -> None:
        self.identity = Stub(csi_pb2_grpc.IdentityStub(node))
        self.controller_identity = Stub(csi_pb2_grpc.IdentityStub(controller))
        self.controller = Stub(csi_pb2_grpc.ControllerStub(controller))
        self.group = Stub(csi_pb2_grpc.GroupControllerStub(controller))
        self.metadata = Stub(csi_pb2_grpc.SnapshotMetadataStub(controller))
        self.node = Stub(csi_pb2_grpc.NodeStub(node))


def short(message: Any) -> str:
    """A one-line rendering of a response for failure messages."""
    text = str(to_dict(message)) if isinstance(message, Message) else repr(message)
    return text if len(text) < 300 else text[:300] + "..."


def expect_code(
    call: Callable[[Message], Any], request: Message, code: grpc.StatusCode, where: str = ""
) -> grpc.RpcError:
    """Call and require the status ``code``; returns the error for further checks."""
    where = where or call.__name__
    try:
        response = call(request)
    except grpc.RpcError as err:
        if err.code() != code:
            raise Violation(
                where, f"status {code.name}", f"{err.code().name}: {err.details()}"
            ) from None
        return err
    raise Violation(where, f"status {code.name}", f"OK {short(response)}")


def expect_codes(
    call: Callable[[Message], Any],
    request: Message,
    codes: tuple[grpc.StatusCode, ...],
    where: str = "",
) -> grpc.StatusCode:
    """Call and require OK or one of ``codes`` (use ``grpc.StatusCode.OK`` to allow success)."""
    where = where or call.__name__
    try:
        call(request)
    except grpc.RpcError as err:
        if err.code() not in codes:
            names = " or ".join(c.name for c in codes)
            raise Violation(where, names, f"{err.code().name}: {err.details()}") from None
        return err.code()
    if grpc.StatusCode.OK not in codes:
        names = " or ".join(c.name for c in codes)
        raise Violation(where, names, "OK")
    return grpc.StatusCode.OK


def ok(call: Callable[[Message], Any], request: Message, where: str = "") -> Any:
    """Call and require success; an error status becomes a :class:`Violation`."""
    try:
        return call(request)
    except grpc.RpcError as err:
        raise Violation(
            where or call.__name__, "status OK", f"{err.code().name}: {err.details()}"
        ) from None


def drain(stream: Iterator[Any]) -> list[Any]:
    """Read a server stream to its end."""
    return list(stream)
