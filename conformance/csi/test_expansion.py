"""Volume expansion on the controller and on the node (spec.md "ControllerExpandVolume",
"NodeExpandVolume")."""

from __future__ import annotations

import grpc
import pytest

from conformance.core import check, skip_capability
from conformance.csi.client import expect_code, ok
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNKNOWN_VOLUME = "conformance-unknown-volume-0000"


def expand_request(csi, volume_id="", size=0):
    """A ControllerExpandVolumeRequest (no capacity range when ``size`` is 0)."""
    request = csi_pb2.ControllerExpandVolumeRequest(volume_id=volume_id)
    if size:
        request.capacity_range.required_bytes = size
    return csi.with_secrets(request)


@pytest.mark.requirement("ControllerExpandVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "capacity_range"])
def test_controller_expand_without_required_field_is_invalid_argument(csi, tracker, missing):
    """ControllerExpandVolume without a volume id or capacity range is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "EXPAND_VOLUME")
    volume = tracker.create_volume()
    request = expand_request(
        csi,
        "" if missing == "volume_id" else volume.volume_id,
        0 if missing == "capacity_range" else csi.volume_size * 2,
    )

    expect_code(csi.services.controller.ControllerExpandVolume, request, INVALID)


@pytest.mark.requirement("ControllerExpandVolume-unknown-volume-not-found")
def test_controller_expand_of_unknown_volume_is_not_found(csi):
    """Expanding a volume that does not exist fails with NOT_FOUND."""
    csi.require("EXPAND_VOLUME")

    expect_code(
        csi.services.controller.ControllerExpandVolume,
        expand_request(csi, UNKNOWN_VOLUME, csi.volume_size * 2),
        NOT_FOUND,
    )


@pytest.mark.requirement("ControllerExpandVolume-grows")
def test_controller_expand_grows_volume_to_at_least_requested(csi, tracker):
    """Expansion reports a capacity of at least the requested size; repeating it succeeds."""
    csi.require("CREATE_DELETE_VOLUME", "EXPAND_VOLUME")
    volume = tracker.create_volume()
    wanted = max(volume.capacity_bytes, csi.volume_size) * 2

    first = ok(
        csi.services.controller.ControllerExpandVolume,
        expand_request(csi, volume.volume_id, wanted),
    )
    again = ok(
        csi.services.controller.ControllerExpandVolume,
        expand_request(csi, volume.volume_id, wanted),
        "repeated ControllerExpandVolume",
    )

    # The spec asks for at least the requested size; csi-sanity's equality is stricter
    # than the spec (kubernetes-csi/csi-test#218).
    check(
        first.capacity_bytes >= wanted,
        "ControllerExpandVolumeResponse.capacity_bytes",
        f">= {wanted}",
        first.capacity_bytes,
    )
    check(
        again.capacity_bytes >= wanted,
        "repeated ControllerExpandVolumeResponse.capacity_bytes",
        f">= {wanted}",
        again.capacity_bytes,
    )


@pytest.mark.requirement("ControllerExpandVolume-already-larger-ok")
def test_controller_expand_to_smaller_size_succeeds_without_shrinking(csi, tracker):
    """Asking to expand a volume already larger than the request succeeds and shrinks nothing."""
    csi.require("CREATE_DELETE_VOLUME", "EXPAND_VOLUME")
    volume = tracker.create_volume()
    wanted = max(volume.capacity_bytes, csi.volume_size) * 2
    grown = ok(
        csi.services.controller.ControllerExpandVolume,
        expand_request(csi, volume.volume_id, wanted),
    )

    reply = ok(
        csi.services.controller.ControllerExpandVolume,
        expand_request(csi, volume.volume_id, wanted // 2),
        "ControllerExpandVolume to a smaller size",
    )

    check(
        reply.capacity_bytes >= grown.capacity_bytes,
        "ControllerExpandVolumeResponse.capacity_bytes",
        f">= {grown.capacity_bytes} (no shrinking)",
        reply.capacity_bytes,
    )


@pytest.mark.requirement("NodeExpandVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "volume_path"])
def test_node_expand_without_required_field_is_invalid_argument(csi, tracker, missing):
    """NodeExpandVolume without a volume id or volume path is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", node=("EXPAND_VOLUME",))
    volume = tracker.create_volume()
    request = csi_pb2.NodeExpandVolumeRequest(
        volume_id="" if missing == "volume_id" else volume.volume_id,
        volume_path="" if missing == "volume_path" else csi.target_path(),
    )

    expect_code(csi.services.node.NodeExpandVolume, csi.with_secrets(request), INVALID)


@pytest.mark.requirement("NodeExpandVolume-unknown-volume-not-found")
def test_node_expand_of_unknown_volume_is_not_found(csi):
    """Expanding an unknown volume on the node fails with NOT_FOUND."""
    csi.require(node=("EXPAND_VOLUME",))
    request = csi_pb2.NodeExpandVolumeRequest(
        volume_id=UNKNOWN_VOLUME, volume_path=str(csi.target_dir)
    )

    expect_code(csi.services.node.NodeExpandVolume, csi.with_secrets(request), NOT_FOUND)


@pytest.mark.requirement("NodeExpandVolume-after-publish")
def test_node_expand_after_controller_expand_of_published_volume(csi, tracker):
    """After controller expansion, node expansion of the published volume reaches the size."""
    csi.require("CREATE_DELETE_VOLUME", node=("EXPAND_VOLUME",))
    if "ONLINE" not in csi.expansion:
        skip_capability("VolumeExpansion ONLINE")
    volume = tracker.create_volume()
    target = tracker.make_available(volume.volume_id)
    wanted = max(volume.capacity_bytes, csi.volume_size) * 2
    if "EXPAND_VOLUME" in csi.controller_caps:
        ok(
            csi.services.controller.ControllerExpandVolume,
            expand_request(csi, volume.volume_id, wanted),
        )
    request = csi_pb2.NodeExpandVolumeRequest(volume_id=volume.volume_id, volume_path=target)
    request.capacity_range.required_bytes = wanted
    request.volume_capability.CopyFrom(csi.capability())

    reply = ok(csi.services.node.NodeExpandVolume, csi.with_secrets(request))

    check(
        reply.capacity_bytes == 0 or reply.capacity_bytes >= wanted,
        "NodeExpandVolumeResponse.capacity_bytes",
        f"0 (unknown) or >= {wanted}",
        reply.capacity_bytes,
    )
