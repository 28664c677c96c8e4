"""GroupController service: group snapshots (spec.md "Group Controller Service RPC")."""

from __future__ import annotations

import grpc
import pytest

from conformance.core import check, check_equal, not_applicable
from conformance.csi.client import expect_code, expect_codes, ok
from conformance.csi.target import unique_name
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNKNOWN_GROUP = "conformance-unknown-group-0000"


def create_group(csi, tracker, count: int = 2, name: str = ""):
    """Create a group snapshot of ``count`` new volumes and track it (and its members)."""
    volumes = [tracker.create_volume().volume_id for _ in range(count)]
    request = csi.with_secrets(
        csi_pb2.CreateVolumeGroupSnapshotRequest(
            name=name or unique_name("csi-group"),
            source_volume_ids=volumes,
            parameters=csi.params.group_snapshot,
        )
    )
    group = ok(csi.services.group.CreateVolumeGroupSnapshot, request).group_snapshot
    members = [s.snapshot_id for s in group.snapshots]
    tracker.groups.append((group.group_snapshot_id, members))
    return request, group


@pytest.mark.requirement("GroupControllerGetCapabilities-known-types")
def test_group_controller_get_capabilities_lists_only_known_types(csi):
    """Every group controller capability is an RPC type the spec defines."""
    csi.require(plugin=("GROUP_CONTROLLER_SERVICE",))
    reply = ok(
        csi.services.group.GroupControllerGetCapabilities,
        csi_pb2.GroupControllerGetCapabilitiesRequest(),
    )

    known = csi_pb2.GroupControllerServiceCapability.RPC.Type.values()
    for index, cap in enumerate(reply.capabilities):
        where = f"GroupControllerGetCapabilitiesResponse.capabilities[{index}].rpc.type"
        check(cap.rpc.type in known and cap.rpc.type != 0, where, "a known type", cap.rpc.type)


@pytest.mark.requirement("CreateVolumeGroupSnapshot-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["name", "source_volume_ids"])
def test_create_group_snapshot_without_required_field_is_invalid_argument(csi, tracker, missing):
    """CreateVolumeGroupSnapshot without a name or source volumes is INVALID_ARGUMENT."""
    csi.require_group()
    volume = tracker.create_volume()
    request = csi.with_secrets(
        csi_pb2.CreateVolumeGroupSnapshotRequest(
            name="" if missing == "name" else unique_name("csi-group"),
            source_volume_ids=[] if missing == "source_volume_ids" else [volume.volume_id],
        )
    )

    expect_code(csi.services.group.CreateVolumeGroupSnapshot, request, INVALID)


@pytest.mark.requirement("CreateVolumeGroupSnapshot-creates")
def test_create_group_snapshot_returns_one_snapshot_per_volume(csi, tracker):
    """A group snapshot has an id, a creation time and one snapshot per source volume."""
    csi.require_group()

    request, group = create_group(csi, tracker)

    check(group.group_snapshot_id, "VolumeGroupSnapshot.group_snapshot_id", "non-empty", "")
    check(group.HasField("creation_time"), "VolumeGroupSnapshot.creation_time", "set", "unset")
    check_equal(
        sorted(s.source_volume_id for s in group.snapshots),
        sorted(request.source_volume_ids),
        "VolumeGroupSnapshot.snapshots[].source_volume_id",
    )
    for snap in group.snapshots:
        check_equal(
            snap.group_snapshot_id,
            group.group_snapshot_id,
            "VolumeGroupSnapshot.snapshots[].group_snapshot_id",
        )


@pytest.mark.requirement("CreateVolumeGroupSnapshot-idempotent")
def test_create_group_snapshot_twice_returns_same_group(csi, tracker):
    """Repeating CreateVolumeGroupSnapshot with one name and volumes returns the same group."""
    csi.require_group()
    request, group = create_group(csi, tracker)

    again = ok(csi.services.group.CreateVolumeGroupSnapshot, request).group_snapshot

    check_equal(again.group_snapshot_id, group.group_snapshot_id, "second group_snapshot_id")


@pytest.mark.requirement("GetVolumeGroupSnapshot-missing-id-invalid-argument")
def test_get_group_snapshot_without_id_is_invalid_argument(csi):
    """GetVolumeGroupSnapshot without a group id is INVALID_ARGUMENT."""
    csi.require_group()

    expect_code(
        csi.services.group.GetVolumeGroupSnapshot,
        csi.with_secrets(csi_pb2.GetVolumeGroupSnapshotRequest()),
        INVALID,
    )


@pytest.mark.requirement("GetVolumeGroupSnapshot-unknown-not-found")
def test_get_group_snapshot_of_unknown_id_is_not_found(csi):
    """GetVolumeGroupSnapshot of a group that does not exist is NOT_FOUND."""
    csi.require_group()
    request = csi_pb2.GetVolumeGroupSnapshotRequest(
        group_snapshot_id=UNKNOWN_GROUP, snapshot_ids=["conformance-unknown-snapshot"]
    )

    expect_code(csi.services.group.GetVolumeGroupSnapshot, csi.with_secrets(request), NOT_FOUND)


@pytest.mark.requirement("GetVolumeGroupSnapshot-returns-group")
def test_get_group_snapshot_returns_the_group(csi, tracker):
    """GetVolumeGroupSnapshot returns the group with its member snapshots."""
    csi.require_group()
    _, group = create_group(csi, tracker)
    request = csi_pb2.GetVolumeGroupSnapshotRequest(
        group_snapshot_id=group.group_snapshot_id,
        snapshot_ids=[s.snapshot_id for s in group.snapshots],
    )

    reply = ok(csi.services.group.GetVolumeGroupSnapshot, csi.with_secrets(request))

    check_equal(
        sorted(s.snapshot_id for s in reply.group_snapshot.snapshots),
        sorted(request.snapshot_ids),
        "GetVolumeGroupSnapshotResponse snapshots",
    )


@pytest.mark.requirement("DeleteVolumeGroupSnapshot-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["group_snapshot_id", "snapshot_ids"])
def test_delete_group_snapshot_without_required_field_is_invalid_argument(csi, tracker, missing):
    """DeleteVolumeGroupSnapshot without a group id or snapshot ids is INVALID_ARGUMENT."""
    csi.require_group()
    _, group = create_group(csi, tracker)
    request = csi_pb2.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id="" if missing == "group_snapshot_id" else group.group_snapshot_id,
        snapshot_ids=[] if missing == "snapshot_ids" else [s.snapshot_id for s in group.snapshots],
    )

    expect_code(csi.services.group.DeleteVolumeGroupSnapshot, csi.with_secrets(request), INVALID)


@pytest.mark.requirement("DeleteVolumeGroupSnapshot-mismatch-invalid-argument")
def test_delete_group_snapshot_with_wrong_members_is_invalid_argument(csi, tracker):
    """Deleting a group with snapshot ids that are not its members is INVALID_ARGUMENT."""
    csi.require_group()
    _, group = create_group(csi, tracker)
    request = csi_pb2.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id=group.group_snapshot_id, snapshot_ids=[group.snapshots[0].snapshot_id]
    )

    expect_code(csi.services.group.DeleteVolumeGroupSnapshot, csi.with_secrets(request), INVALID)


@pytest.mark.requirement("DeleteVolumeGroupSnapshot-idempotent")
def test_delete_group_snapshot_twice_succeeds_and_group_is_gone(csi, tracker):
    """Deleting a group twice succeeds, and afterwards Get says NOT_FOUND."""
    csi.require_group()
    _, group = create_group(csi, tracker)
    request = csi.with_secrets(
        csi_pb2.DeleteVolumeGroupSnapshotRequest(
            group_snapshot_id=group.group_snapshot_id,
            snapshot_ids=[s.snapshot_id for s in group.snapshots],
        )
    )

    ok(csi.services.group.DeleteVolumeGroupSnapshot, request)
    ok(csi.services.group.DeleteVolumeGroupSnapshot, request, "second delete")

    expect_code(
        csi.services.group.GetVolumeGroupSnapshot,
        csi.with_secrets(
            csi_pb2.GetVolumeGroupSnapshotRequest(group_snapshot_id=group.group_snapshot_id)
        ),
        NOT_FOUND,
        "GetVolumeGroupSnapshot after delete",
    )


@pytest.mark.requirement("DeleteVolumeGroupSnapshot-unknown-ok")
def test_delete_group_snapshot_of_unknown_id_succeeds(csi):
    """Deleting a group snapshot that does not exist succeeds."""
    csi.require_group()
    request = csi_pb2.DeleteVolumeGroupSnapshotRequest(
        group_snapshot_id=UNKNOWN_GROUP, snapshot_ids=["conformance-unknown-snapshot"]
    )

    ok(csi.services.group.DeleteVolumeGroupSnapshot, csi.with_secrets(request))


@pytest.mark.requirement("DeleteSnapshot-group-member-invalid-argument")
def test_delete_snapshot_of_group_member_is_refused_with_invalid_argument(csi, tracker):
    """A plugin refusing to delete a group member alone says INVALID_ARGUMENT."""
    csi.require_group()
    csi.require("CREATE_DELETE_SNAPSHOT")
    _, group = create_group(csi, tracker)
    member = group.snapshots[0]
    if not member.group_snapshot_id:
        not_applicable("the plugin treats group members as independent snapshots")
    request = csi.with_secrets(csi_pb2.DeleteSnapshotRequest(snapshot_id=member.snapshot_id))

    # The spec lets the plugin refuse (then with INVALID_ARGUMENT) or comply.
    code = expect_codes(
        csi.services.controller.DeleteSnapshot, request, (INVALID, grpc.StatusCode.OK)
    )
    if code == grpc.StatusCode.OK:
        tracker.groups.pop()
