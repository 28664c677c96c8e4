"""The CRI gRPC client: every call gets a deadline and is recorded as evidence.

Recording happens in a client interceptor, so every RPC a test (or a fixture) makes lands in
the running test's evidence: method, request and response as JSON-like dicts, status code.
Credentials in ``AuthConfig`` are redacted before recording.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from conformance.core import current_evidence
from wire.proto.cri import api_pb2 as pb
from wire.proto.cri import api_pb2_grpc as rpc

log = logging.getLogger(__name__)

_AUTH_FIELDS = ("password", "auth", "identity_token", "registry_token", "username")


def to_dict(message: Message | None) -> dict[str, Any] | None:
    """A message as the JSON mapping of proto3 (original field names), or ``None``."""
    if message is None:
        return None
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _redacted(request: Message) -> dict[str, Any] | None:
    data = to_dict(request)
    if data and isinstance(data.get("auth"), dict):
        data["auth"] = {
            k: ("[redacted]" if k in _AUTH_FIELDS else v) for k, v in data["auth"].items()
        }
    return data


class _Recorder(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Records each unary call (method, request, response, code) into the test's evidence."""

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Message
    ) -> Any:
        started = time.monotonic()
        outcome = continuation(details, request)
        elapsed = round(time.monotonic() - started, 4)
        method = details.method
        err = outcome.exception()
        if err is None:
            current_evidence().rpc(
                method, _redacted(request), response=to_dict(outcome.result()), code="OK"
            )
        else:
            code = err.code().name if isinstance(err, grpc.Call) else type(err).__name__
            detail = err.details() if isinstance(err, grpc.Call) else str(err)
            current_evidence().rpc(method, _redacted(request), code=code, detail=detail or "")
        log.debug("%s %s in %.3fs", method, "OK" if err is None else "ERR", elapsed)
        return outcome


def channel(endpoint: str) -> grpc.Channel:
    """A recording channel to ``endpoint`` (``unix:///path`` or ``host:port``)."""
    target = endpoint
    if endpoint.startswith("/"):
        target = f"unix://{endpoint}"
    raw = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 16 << 20)])
    return grpc.intercept_channel(raw, _Recorder())


class _Stub:
    """Wraps a generated stub so every call carries the default deadline unless given one."""

    def __init__(self, stub: Any, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Message, timeout: float | None = None, **kwargs: Any) -> Any:
            return method(request, timeout=timeout or self._timeout, **kwargs)

        return call


class CriClient:
    """Runtime and image service stubs of one target.

    Attributes:
        runtime: ``RuntimeService`` methods (``client.runtime.Version(pb.VersionRequest())``).
        image: ``ImageService`` methods.
    """

    def __init__(self, endpoint: str, image_endpoint: str | None = None, timeout: float = 30):
        self.timeout = timeout
        self._channels = [channel(endpoint)]
        if image_endpoint and image_endpoint != endpoint:
            self._channels.append(channel(image_endpoint))
        self.runtime = _Stub(rpc.RuntimeServiceStub(self._channels[0]), timeout)
        self.image = _Stub(rpc.ImageServiceStub(self._channels[-1]), timeout)

    def close(self) -> None:
        """Close the channels."""
        for ch in self._channels:
            ch.close()

    def wait_ready(self, timeout: float = 30.0) -> pb.VersionResponse:
        """Poll ``Version`` until the endpoint answers; the last error propagates."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.runtime.Version(pb.VersionRequest(), timeout=2)
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def code_of(err: grpc.RpcError) -> grpc.StatusCode | None:
    """The status code of a failed call."""
    return err.code() if isinstance(err, grpc.Call) else None
