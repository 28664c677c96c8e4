"""Assemble the services into one gRPC server on a UNIX socket."""

from __future__ import annotations

import logging
import os
from concurrent import futures
from pathlib import Path

import grpc

from reference_impl.csi.controller import ControllerService
from reference_impl.csi.driver import Config, Driver
from reference_impl.csi.group import GroupControllerService
from reference_impl.csi.identity import IdentityService
from reference_impl.csi.node import NodeService
from reference_impl.csi.snapmeta import SnapshotMetadataService
from wire.proto.csi import csi_pb2_grpc

log = logging.getLogger(__name__)


class EndpointError(ValueError):
    """The endpoint is not a ``unix://`` address (the spec allows only UNIX sockets)."""


def socket_path(endpoint: str) -> Path:
    """The filesystem path of a ``unix:///abs/path`` or ``unix:relative`` endpoint."""
    if not endpoint.startswith("unix:"):
        raise EndpointError(f"endpoint {endpoint!r}: only unix:// sockets are supported")
    rest = endpoint[len("unix:") :]
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest:
        raise EndpointError(f"endpoint {endpoint!r}: no socket path")
    return Path(rest)


def build(config: Config) -> grpc.Server:
    """A started gRPC server serving every service of the driver on ``config.endpoint``."""
    path = socket_path(config.endpoint)
    if path.is_socket():
        # A socket left behind by a crashed run would make bind fail.
        path.unlink()
    driver = Driver(config)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    controller = ControllerService(driver)
    csi_pb2_grpc.add_IdentityServicer_to_server(IdentityService(driver), server)
    csi_pb2_grpc.add_ControllerServicer_to_server(controller, server)
    csi_pb2_grpc.add_NodeServicer_to_server(NodeService(driver), server)
    csi_pb2_grpc.add_GroupControllerServicer_to_server(
        GroupControllerService(driver, controller), server
    )
    csi_pb2_grpc.add_SnapshotMetadataServicer_to_server(SnapshotMetadataService(driver), server)
    server.add_insecure_port(f"unix://{os.path.abspath(path)}")
    server.start()
    log.info("serving CSI on %s (node %s, state %s)", path, config.node_id, config.state_dir)
    return server
