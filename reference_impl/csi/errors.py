"""The one place where driver failures become gRPC status codes.

Handlers raise :class:`CsiError` with the code the CSI spec names for the situation; the
:func:`rpc` wrapper turns it into a gRPC status with a message and no ``details`` (spec.md
"Error Scheme"). Any other exception is a driver bug and answers INTERNAL.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from wire.proto.csi import csi_pb2

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class CsiError(Exception):
    """A failure the CSI spec assigns a status code to.

    Attributes:
        code: the gRPC status code.
        message: human-readable text naming the field or object concerned.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> CsiError:
    """INVALID_ARGUMENT: a field is missing or malformed."""
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CsiError:
    """NOT_FOUND: the named object does not exist."""
    return CsiError(grpc.StatusCode.NOT_FOUND, message)


def already_exists(message: str) -> CsiError:
    """ALREADY_EXISTS: an object with that name or at that path exists but differs."""
    return CsiError(grpc.StatusCode.ALREADY_EXISTS, message)


def precondition(message: str) -> CsiError:
    """FAILED_PRECONDITION: the object is in a state that forbids the call."""
    return CsiError(grpc.StatusCode.FAILED_PRECONDITION, message)


def rpc(method: F) -> F:
    """Wrap a servicer method: validate the request first, then map every failure to a status.

    The servicer must have a ``driver`` attribute (:class:`reference_impl.csi.driver.Driver`).
    """

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        name = method.__name__
        log.debug("rpc %s", name)
        try:
            self.driver.check(request)
            return method(self, request, context)
        except CsiError as err:
            log.debug("rpc %s -> %s: %s", name, err.code.name, err.message)
            if err.code == grpc.StatusCode.NOT_FOUND and self.driver.fault("missing-is-ok"):
                return getattr(csi_pb2, f"{name}Response")()
            context.abort(err.code, err.message)
        except Exception as err:
            log.exception("rpc %s failed unexpectedly", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name}: {type(err).__name__}: {err}")
        return None  # unreachable: abort raises

    return wrapper  # type: ignore[return-value]


def stream_rpc(method: F) -> F:
    """Like :func:`rpc`, for server-streaming methods (generators)."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        name = method.__name__
        log.debug("rpc %s (stream)", name)
        try:
            self.driver.check(request)
            yield from method(self, request, context)
        except CsiError as err:
            log.debug("rpc %s -> %s: %s", name, err.code.name, err.message)
            if err.code == grpc.StatusCode.NOT_FOUND and self.driver.fault("missing-is-ok"):
                return
            context.abort(err.code, err.message)
        except Exception as err:
            log.exception("rpc %s failed unexpectedly", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name}: {type(err).__name__}: {err}")

    return wrapper  # type: ignore[return-value]
