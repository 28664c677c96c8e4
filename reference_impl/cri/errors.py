"""One mapping of server errors to gRPC status codes (id quoted, cause included)."""

# ruff: noqa: N818 - the classes are named for the gRPC status they map to

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class CriError(Exception):
    """An error a CRI call answers with; ``code`` is the gRPC status."""

    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(CriError):
    """The request is malformed (missing field, bad value)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(CriError):
    """The named pod, container or image does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(CriError):
    """A pod or container with the same metadata already exists."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(CriError):
    """The object is in the wrong state for the call."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class DeadlineExceeded(CriError):
    """An operation ran past its deadline (ExecSync timeout, pull deadline)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(CriError):
    """The registry refused the credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED


class Internal(CriError):
    """The runtime, CNI plugin or registry failed."""

    code = grpc.StatusCode.UNKNOWN


def rpc(method: F) -> F:
    """Wrap a servicer method: CriError -> its code, anything else -> UNKNOWN with the cause."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        name = method.__name__
        try:
            return method(self, request, context)
        except CriError as err:
            log.info("%s: %s: %s", name, err.code.name, err)
            context.abort(err.code, f"{name}: {err}")
        except Exception as err:  # the client must get the cause, not a bare UNKNOWN
            log.exception("%s failed", name)
            context.abort(grpc.StatusCode.UNKNOWN, f"{name}: {type(err).__name__}: {err}")
        raise AssertionError("unreachable")  # context.abort raises

    return wrapper  # type: ignore[return-value]
