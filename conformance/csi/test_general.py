"""Rules for every RPC: transport, error scheme, unimplemented services (spec.md "RPC
Interface", "Error Scheme", "Configuration and Operation")."""

from __future__ import annotations

import grpc
import pytest

from conformance.core import check, not_applicable
from conformance.csi.client import expect_code, to_dict
from wire.proto.csi import csi_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _error(call, request) -> grpc.RpcError:
    try:
        call(request)
    except grpc.RpcError as err:
        return err
    raise AssertionError(f"{call.__name__} unexpectedly succeeded for {to_dict(request)}")


@pytest.mark.requirement("Endpoint-unix-socket")
def test_endpoint_is_a_unix_socket(csi):
    """Plugins serve on a UNIX domain socket (the spec's only transport)."""
    for name, endpoint in (("endpoint", csi.endpoint), ("controller", csi.controller_endpoint)):
        check(endpoint.startswith("unix:"), f"{name} endpoint", "unix:///path", endpoint)


@pytest.mark.requirement("Error-message-present")
def test_error_status_carries_a_message(csi):
    """A failed RPC carries a human-readable message."""
    err = _error(csi.services.node.NodeUnpublishVolume, csi_pb2.NodeUnpublishVolumeRequest())

    check(err.details(), "status message", "a non-empty message", err.details())


@pytest.mark.requirement("Error-details-empty")
def test_error_status_has_no_details(csi):
    """A failed RPC carries no status details (grpc-status-details-bin is absent)."""
    err = _error(csi.services.node.NodeUnpublishVolume, csi_pb2.NodeUnpublishVolumeRequest())

    keys = [key for key, _ in (err.trailing_metadata() or ())]
    check(STATUS_DETAILS_KEY not in keys, "trailing metadata", f"no {STATUS_DETAILS_KEY}", keys)


@pytest.mark.requirement("Unimplemented-service")
def test_unoffered_snapshot_metadata_service_is_unimplemented(csi):
    """A service the plugin does not offer answers UNIMPLEMENTED."""
    if "SNAPSHOT_METADATA_SERVICE" in csi.plugin_caps:
        not_applicable("the plugin offers SNAPSHOT_METADATA_SERVICE")
    stream = csi.services.metadata.GetMetadataAllocated(
        csi_pb2.GetMetadataAllocatedRequest(snapshot_id="conformance-unknown")
    )

    expect_code(lambda _: list(stream), None, grpc.StatusCode.UNIMPLEMENTED, "GetMetadataAllocated")


@pytest.mark.requirement("Unimplemented-group-controller")
def test_unoffered_group_controller_is_unimplemented(csi):
    """Without GROUP_CONTROLLER_SERVICE, group controller RPCs answer UNIMPLEMENTED."""
    if "GROUP_CONTROLLER_SERVICE" in csi.plugin_caps:
        not_applicable("the plugin offers GROUP_CONTROLLER_SERVICE")

    expect_code(
        csi.services.group.GroupControllerGetCapabilities,
        csi_pb2.GroupControllerGetCapabilitiesRequest(),
        grpc.StatusCode.UNIMPLEMENTED,
    )
