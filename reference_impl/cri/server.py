"""The gRPC server: RuntimeService (pods, containers, info) and ImageService on one socket."""

from __future__ import annotations

import logging
import os
from concurrent import futures
from pathlib import Path

import grpc

from reference_impl.cri.containers import ContainerRpcs
from reference_impl.cri.context import Context, Settings
from reference_impl.cri.images import ImageService
from reference_impl.cri.info import InfoRpcs
from reference_impl.cri.sandbox import SandboxRpcs
from reference_impl.cri.streaming import StreamServer
from wire.proto.cri import api_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)


class RuntimeService(InfoRpcs, SandboxRpcs, ContainerRpcs, pb_grpc.RuntimeServiceServicer):
    """RuntimeService; RPCs not defined by a group answer UNIMPLEMENTED (generated base)."""

    def __init__(self, ctx: Context, streams: StreamServer) -> None:
        self.ctx = ctx
        self.streams = streams


def socket_path(endpoint: str) -> Path:
    """The filesystem path of a ``unix://`` endpoint."""
    if not endpoint.startswith("unix://"):
        raise ValueError(f"endpoint {endpoint!r} is not unix:///path")
    return Path(endpoint.removeprefix("unix://"))


def serve(endpoint: str, settings: Settings, workers: int = 16) -> grpc.Server:
    """Start the server on ``endpoint``; returns it (call ``wait_for_termination``)."""
    ctx = Context(settings)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    streams = StreamServer(settings.runtime, ctx.runtime.root)
    streams.start()
    pb_grpc.add_RuntimeServiceServicer_to_server(RuntimeService(ctx, streams), server)
    pb_grpc.add_ImageServiceServicer_to_server(ImageService(ctx.images, ctx.root), server)
    path = socket_path(endpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.unlink(path)
    server.add_insecure_port(f"unix://{path}")
    server.start()
    log.info("reference CRI listening on %s (runtime %s)", endpoint, settings.runtime)
    return server
