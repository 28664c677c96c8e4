"""Node service: stage, publish, unpublish, unstage, stats, info (spec.md "Node Service RPC").

Paths follow the spec's division of work: the suite (as CO) creates staging paths and the
parent of every target path; the plugin creates the target itself and removes it again.
"""

from __future__ import annotations

import os
import stat

import grpc
import pytest

from conformance.core import check, check_equal, skip_capability
from conformance.csi.client import expect_code, expect_codes, ok
from conformance.csi.data import can_write, read_marker, write_marker
from conformance.csi.target import unique_name
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
UNKNOWN_VOLUME = "conformance-unknown-volume-0000"
_Mode = csi_pb2.VolumeCapability.AccessMode


def staged_volume(csi, tracker, cap=None):
    """A created, attached and staged volume: (volume id, staging path)."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume(caps=[cap] if cap else None)
    tracker.attach(volume.volume_id, cap=cap)
    return volume.volume_id, tracker.stage(volume.volume_id, cap=cap)


def block_supported(csi, tracker, access_type: str) -> None:
    """Skip a block variant when the plugin refuses block volumes altogether."""
    if access_type != "block" or csi.access_type == "block":
        return
    request = tracker.volume_request(access_type="block")
    try:
        volume = csi.services.controller.CreateVolume(request).volume
    except grpc.RpcError as err:
        if err.code() == INVALID:
            skip_capability("block access type", err.details() or "")
        raise
    tracker.track_volume(volume.volume_id)


# -- capabilities and info ----------------------------------------------------------------


@pytest.mark.requirement("NodeGetCapabilities-known-types")
def test_node_get_capabilities_lists_only_known_types(csi):
    """Every node capability is an RPC type the spec defines."""
    reply = ok(csi.services.node.NodeGetCapabilities, csi_pb2.NodeGetCapabilitiesRequest())

    known = csi_pb2.NodeServiceCapability.RPC.Type.values()
    for index, cap in enumerate(reply.capabilities):
        where = f"NodeGetCapabilitiesResponse.capabilities[{index}].rpc.type"
        check(cap.rpc.type in known and cap.rpc.type != 0, where, "a known type", cap.rpc.type)


@pytest.mark.requirement("NodeGetInfo-returns-node")
def test_node_get_info_returns_node_id_limit_and_topology(csi):
    """NodeGetInfo names the node (at most 256 bytes), a non-negative limit, and topology."""
    info = ok(csi.services.node.NodeGetInfo, csi_pb2.NodeGetInfoRequest())

    check(info.node_id, "NodeGetInfoResponse.node_id", "non-empty", "")
    check(
        len(info.node_id.encode()) <= 256,
        "NodeGetInfoResponse.node_id",
        "<= 256 bytes",
        len(info.node_id.encode()),
    )
    check(
        info.max_volumes_per_node >= 0,
        "NodeGetInfoResponse.max_volumes_per_node",
        ">= 0",
        info.max_volumes_per_node,
    )
    if "VOLUME_ACCESSIBILITY_CONSTRAINTS" in csi.plugin_caps:
        check(
            info.accessible_topology.segments,
            "NodeGetInfoResponse.accessible_topology",
            "segments when VOLUME_ACCESSIBILITY_CONSTRAINTS is offered",
            {},
        )


# -- NodeStageVolume / NodeUnstageVolume --------------------------------------------------


@pytest.mark.requirement("NodeStageVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "staging_target_path", "volume_capability"])
def test_node_stage_without_required_field_is_invalid_argument(csi, tracker, missing):
    """NodeStageVolume without a volume id, staging path or capability is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", node=("STAGE_UNSTAGE_VOLUME",))
    volume = tracker.create_volume()
    tracker.attach(volume.volume_id)
    path = csi.staging_path()
    request = csi.with_secrets(
        csi_pb2.NodeStageVolumeRequest(
            volume_id="" if missing == "volume_id" else volume.volume_id,
            staging_target_path="" if missing == "staging_target_path" else path,
        )
    )
    if missing != "volume_capability":
        request.volume_capability.CopyFrom(csi.capability())
    tracker.staged.append((volume.volume_id, path))

    expect_code(csi.services.node.NodeStageVolume, request, INVALID)


@pytest.mark.requirement("NodeStageVolume-unknown-volume-not-found")
def test_node_stage_of_unknown_volume_is_not_found(csi):
    """Staging a volume that does not exist fails with NOT_FOUND."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    request = csi.with_secrets(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=UNKNOWN_VOLUME,
            staging_target_path=csi.staging_path(),
            volume_capability=csi.capability(),
        )
    )

    expect_code(csi.services.node.NodeStageVolume, request, NOT_FOUND)


@pytest.mark.requirement("NodeStageVolume-idempotent")
def test_node_stage_twice_at_same_path_succeeds(csi, tracker):
    """Staging the same volume at the same path again succeeds."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    volume_id, path = staged_volume(csi, tracker)

    for attempt in range(3):
        tracker.stage(volume_id, path=path)
        check(
            os.path.isdir(path) or csi.access_type == "block",
            "staging_target_path",
            "still a directory",
            f"attempt {attempt}",
        )


@pytest.mark.requirement("NodeStageVolume-incompatible-already-exists")
def test_node_stage_again_with_other_access_mode_is_already_exists(csi, tracker):
    """Staging at the same path with an incompatible capability fails with ALREADY_EXISTS."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    volume_id, path = staged_volume(csi, tracker)
    request = csi.with_secrets(
        csi_pb2.NodeStageVolumeRequest(
            volume_id=volume_id,
            staging_target_path=path,
            volume_capability=csi.capability(mode=_Mode.MULTI_NODE_MULTI_WRITER),
        )
    )

    expect_code(csi.services.node.NodeStageVolume, request, grpc.StatusCode.ALREADY_EXISTS)


@pytest.mark.requirement("NodeUnstageVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "staging_target_path"])
def test_node_unstage_without_required_field_is_invalid_argument(csi, missing):
    """NodeUnstageVolume without a volume id or staging path is INVALID_ARGUMENT."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    request = csi_pb2.NodeUnstageVolumeRequest(
        volume_id="" if missing == "volume_id" else UNKNOWN_VOLUME,
        staging_target_path="" if missing == "staging_target_path" else csi.staging_path(),
    )

    expect_code(csi.services.node.NodeUnstageVolume, request, INVALID)


@pytest.mark.requirement("NodeUnstageVolume-idempotent")
def test_node_unstage_twice_succeeds(csi, tracker):
    """Unstaging a staged volume twice succeeds both times."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    volume_id, path = staged_volume(csi, tracker)
    request = csi_pb2.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=path)

    ok(csi.services.node.NodeUnstageVolume, request)
    ok(csi.services.node.NodeUnstageVolume, request, "second NodeUnstageVolume")


# -- NodePublishVolume / NodeUnpublishVolume ----------------------------------------------


@pytest.mark.requirement("NodePublishVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "target_path", "volume_capability"])
def test_node_publish_without_required_field_is_invalid_argument(csi, tracker, missing):
    """NodePublishVolume without a volume id, target path or capability is INVALID_ARGUMENT."""
    # Required fields are checked before any state, so the volume need not be staged.
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume()
    staging = csi.staging_path() if csi.stages else ""
    request = tracker.publish_request(volume.volume_id, staging)
    if missing == "volume_capability":
        request.ClearField("volume_capability")
    else:
        setattr(request, missing, "")

    expect_code(csi.services.node.NodePublishVolume, request, INVALID)


@pytest.mark.requirement("NodePublishVolume-missing-staging-failed-precondition")
def test_node_publish_without_staging_path_is_failed_precondition(csi, tracker):
    """A node that stages refuses NodePublishVolume without a staging path (FAILED_PRECONDITION)."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    volume_id, staging = staged_volume(csi, tracker)
    request = tracker.publish_request(volume_id, staging)
    request.staging_target_path = ""

    expect_codes(csi.services.node.NodePublishVolume, request, (PRECONDITION,))


@pytest.mark.requirement("NodePublishVolume-unknown-volume-not-found")
def test_node_publish_of_unknown_volume_is_not_found(csi, tracker):
    """Publishing a volume that does not exist fails with NOT_FOUND."""
    staging = csi.staging_path() if csi.stages else ""
    request = tracker.publish_request(UNKNOWN_VOLUME, staging)

    expect_code(csi.services.node.NodePublishVolume, request, NOT_FOUND)


@pytest.mark.requirement("NodePublishVolume-round-trip")
@pytest.mark.parametrize("access_type", ["mount", "block"])
def test_node_publish_makes_volume_usable_and_unpublish_removes_target(csi, tracker, access_type):
    """A published volume is usable at the target; unpublishing removes the target."""
    csi.require("CREATE_DELETE_VOLUME")
    block_supported(csi, tracker, access_type)
    cap = csi.capability(access_type)
    volume = tracker.create_volume(caps=[cap])
    target = tracker.make_available(volume.volume_id, cap=cap)

    if access_type == "block":
        check(stat.S_ISBLK(os.stat(target).st_mode), "target_path", "a block device", target)
    else:
        check(os.path.isdir(target), "target_path", "a directory", target)
    text = f"round trip {unique_name()}"
    write_marker(target, access_type == "block", text)
    check_equal(read_marker(target, access_type == "block"), text, "data at target_path")

    ok(
        csi.services.node.NodeUnpublishVolume,
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume.volume_id, target_path=target),
    )
    check(not os.path.exists(target), "target_path", "removed by NodeUnpublishVolume", target)


@pytest.mark.requirement("NodePublishVolume-readonly")
@pytest.mark.parametrize("access_type", ["mount", "block"])
def test_node_publish_readonly_refuses_writes(csi, tracker, access_type):
    """A volume published readonly cannot be written through the target path."""
    csi.require("CREATE_DELETE_VOLUME")
    block_supported(csi, tracker, access_type)
    cap = csi.capability(access_type)
    volume = tracker.create_volume(caps=[cap])
    tracker.attach(volume.volume_id, readonly=True, cap=cap)
    staging = tracker.stage(volume.volume_id, cap=cap)

    target = tracker.publish(volume.volume_id, staging, readonly=True, cap=cap)

    error = can_write(target, access_type == "block")
    check(error is not None, "target_path", "writes refused on a readonly publish", "write OK")


@pytest.mark.requirement("NodePublishVolume-idempotent")
def test_node_publish_twice_at_same_target_succeeds(csi, tracker):
    """Publishing the same volume at the same target with the same arguments succeeds again."""
    volume_id, staging = staged_volume(csi, tracker)
    request = tracker.publish_request(volume_id, staging)

    for attempt in range(3):
        ok(csi.services.node.NodePublishVolume, request, f"NodePublishVolume #{attempt + 1}")


@pytest.mark.requirement("NodePublishVolume-incompatible-already-exists")
def test_node_publish_same_target_other_readonly_is_already_exists(csi, tracker):
    """Publishing at a used target with another readonly flag fails with ALREADY_EXISTS."""
    volume_id, staging = staged_volume(csi, tracker)
    request = tracker.publish_request(volume_id, staging)
    ok(csi.services.node.NodePublishVolume, request)
    request.readonly = True

    expect_code(csi.services.node.NodePublishVolume, request, grpc.StatusCode.ALREADY_EXISTS)


@pytest.mark.requirement("NodePublishVolume-single-writer-failed-precondition")
def test_node_publish_single_writer_at_second_target_is_failed_precondition(csi, tracker):
    """A SINGLE_NODE_SINGLE_WRITER volume published once cannot go to a second target."""
    csi.require("CREATE_DELETE_VOLUME", node=("SINGLE_NODE_MULTI_WRITER",))
    cap = csi.capability(mode=_Mode.SINGLE_NODE_SINGLE_WRITER)
    volume_id, staging = staged_volume(csi, tracker, cap=cap)
    tracker.publish(volume_id, staging, cap=cap)
    second = tracker.publish_request(volume_id, staging, cap=cap)

    expect_code(csi.services.node.NodePublishVolume, second, PRECONDITION)


@pytest.mark.requirement("NodePublishVolume-multi-writer-second-target")
def test_node_publish_multi_writer_at_second_target_shares_data(csi, tracker):
    """A SINGLE_NODE_MULTI_WRITER volume can be published at two targets sharing data."""
    csi.require("CREATE_DELETE_VOLUME", node=("SINGLE_NODE_MULTI_WRITER",))
    cap = csi.capability(mode=_Mode.SINGLE_NODE_MULTI_WRITER)
    volume_id, staging = staged_volume(csi, tracker, cap=cap)
    first = tracker.publish(volume_id, staging, cap=cap)

    second = tracker.publish(volume_id, staging, cap=cap)

    text = f"shared {unique_name()}"
    write_marker(first, csi.access_type == "block", text)
    check_equal(read_marker(second, csi.access_type == "block"), text, "data at second target")


@pytest.mark.requirement("NodeUnpublishVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "target_path"])
def test_node_unpublish_without_required_field_is_invalid_argument(csi, missing):
    """NodeUnpublishVolume without a volume id or target path is INVALID_ARGUMENT."""
    request = csi_pb2.NodeUnpublishVolumeRequest(
        volume_id="" if missing == "volume_id" else UNKNOWN_VOLUME,
        target_path="" if missing == "target_path" else csi.target_path(),
    )

    expect_code(csi.services.node.NodeUnpublishVolume, request, INVALID)


@pytest.mark.requirement("NodeUnpublishVolume-idempotent")
def test_node_unpublish_twice_succeeds(csi, tracker):
    """Unpublishing a published volume twice succeeds both times."""
    volume_id, staging = staged_volume(csi, tracker)
    target = tracker.publish(volume_id, staging)
    request = csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=target)

    ok(csi.services.node.NodeUnpublishVolume, request)
    ok(csi.services.node.NodeUnpublishVolume, request, "second NodeUnpublishVolume")


@pytest.mark.requirement("NodeUnpublishVolume-unknown-volume")
def test_node_unpublish_of_unknown_volume_is_not_found_or_ok(csi):
    """Unpublishing a volume the plugin does not know says NOT_FOUND (or OK: nothing to do)."""
    request = csi_pb2.NodeUnpublishVolumeRequest(
        volume_id=UNKNOWN_VOLUME, target_path=csi.target_path()
    )

    expect_codes(csi.services.node.NodeUnpublishVolume, request, (NOT_FOUND, grpc.StatusCode.OK))


@pytest.mark.requirement("NodeUnstageVolume-unknown-volume")
def test_node_unstage_of_unknown_volume_is_not_found_or_ok(csi):
    """Unstaging a volume the plugin does not know says NOT_FOUND (or OK: nothing to do)."""
    csi.require(node=("STAGE_UNSTAGE_VOLUME",))
    request = csi_pb2.NodeUnstageVolumeRequest(
        volume_id=UNKNOWN_VOLUME, staging_target_path=csi.staging_path()
    )

    expect_codes(csi.services.node.NodeUnstageVolume, request, (NOT_FOUND, grpc.StatusCode.OK))


# -- NodeGetVolumeStats -------------------------------------------------------------------


@pytest.mark.requirement("NodeGetVolumeStats-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "volume_path"])
def test_node_get_volume_stats_without_required_field_is_invalid_argument(csi, tracker, missing):
    """NodeGetVolumeStats without a volume id or volume path is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", node=("GET_VOLUME_STATS",))
    volume = tracker.create_volume()
    request = csi_pb2.NodeGetVolumeStatsRequest(
        volume_id="" if missing == "volume_id" else volume.volume_id,
        volume_path="" if missing == "volume_path" else csi.target_path(),
    )

    expect_code(csi.services.node.NodeGetVolumeStats, request, INVALID)


@pytest.mark.requirement("NodeGetVolumeStats-unknown-volume-not-found")
def test_node_get_volume_stats_of_unknown_volume_is_not_found(csi):
    """Stats of a volume that does not exist fail with NOT_FOUND."""
    csi.require(node=("GET_VOLUME_STATS",))
    request = csi_pb2.NodeGetVolumeStatsRequest(
        volume_id=UNKNOWN_VOLUME, volume_path=str(csi.target_dir)
    )

    expect_code(csi.services.node.NodeGetVolumeStats, request, NOT_FOUND)


@pytest.mark.requirement("NodeGetVolumeStats-wrong-path-not-found")
def test_node_get_volume_stats_at_unrelated_path_is_not_found(csi, tracker):
    """Stats asked at a path where the volume is not published fail with NOT_FOUND."""
    csi.require(node=("GET_VOLUME_STATS",))
    volume_id, staging = staged_volume(csi, tracker)
    tracker.publish(volume_id, staging)
    elsewhere = csi.target_path()

    expect_code(
        csi.services.node.NodeGetVolumeStats,
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume_id, volume_path=elsewhere),
        NOT_FOUND,
    )


@pytest.mark.requirement("NodeGetVolumeStats-reports-usage")
def test_node_get_volume_stats_reports_usage_with_total_and_unit(csi, tracker):
    """Stats of a published volume list usage with a known unit and consistent numbers."""
    csi.require(node=("GET_VOLUME_STATS",))
    volume_id, staging = staged_volume(csi, tracker)
    target = tracker.publish(volume_id, staging)

    reply = ok(
        csi.services.node.NodeGetVolumeStats,
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume_id, volume_path=target),
    )

    check(reply.usage, "NodeGetVolumeStatsResponse.usage", "at least one entry", [])
    for index, usage in enumerate(reply.usage):
        where = f"NodeGetVolumeStatsResponse.usage[{index}]"
        check(usage.unit in (1, 2), f"{where}.unit", "BYTES or INODES", usage.unit)
        check(
            usage.total >= 0 and usage.used >= 0 and usage.available >= 0,
            where,
            "non-negative numbers",
            str(usage),
        )
    if "VOLUME_CONDITION" in csi.node_caps:
        check(
            reply.HasField("volume_condition"),
            "NodeGetVolumeStatsResponse.volume_condition",
            "present with VOLUME_CONDITION",
            "absent",
        )
        check(
            not reply.volume_condition.abnormal,
            "volume_condition.abnormal",
            "false for a healthy volume",
            reply.volume_condition.message,
        )
