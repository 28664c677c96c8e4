"""Snapshots and volumes made from content sources (spec.md "CreateSnapshot", "DeleteSnapshot",
"ListSnapshots", "GetSnapshot", "CreateVolume" content sources)."""

from __future__ import annotations

import grpc
import pytest

from conformance.core import Violation, check, check_equal
from conformance.csi.client import expect_code, ok
from conformance.csi.data import read_marker, write_marker
from conformance.csi.target import unique_name
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNKNOWN_SNAPSHOT = "conformance-unknown-snapshot-0000"
UNKNOWN_VOLUME = "conformance-unknown-volume-0000"


def list_snapshots(csi, **fields) -> list[csi_pb2.Snapshot]:
    """Every snapshot ListSnapshots returns for ``fields``, following next_token."""
    found, token = [], ""
    for _ in range(10000):
        request = csi.with_secrets(csi_pb2.ListSnapshotsRequest(starting_token=token, **fields))
        reply = ok(csi.services.controller.ListSnapshots, request)
        found.extend(e.snapshot for e in reply.entries)
        token = reply.next_token
        if not token:
            return found
    raise Violation("ListSnapshotsResponse.next_token", "the listing to end", "endless tokens")


def snapshot_request(csi, source="", name=""):
    """A CreateSnapshotRequest with parameters and secrets."""
    return csi.with_secrets(
        csi_pb2.CreateSnapshotRequest(
            source_volume_id=source, name=name, parameters=csi.params.snapshot
        )
    )


# -- CreateSnapshot -----------------------------------------------------------------------


@pytest.mark.requirement("CreateSnapshot-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["name", "source_volume_id"])
def test_create_snapshot_without_required_field_is_invalid_argument(csi, tracker, missing):
    """CreateSnapshot without a name or source volume fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    volume = tracker.create_volume()
    request = snapshot_request(
        csi,
        source="" if missing == "source_volume_id" else volume.volume_id,
        name="" if missing == "name" else unique_name("csi-snap"),
    )

    expect_code(csi.services.controller.CreateSnapshot, request, INVALID)


@pytest.mark.requirement("CreateSnapshot-returns-snapshot")
def test_create_snapshot_returns_complete_snapshot(csi, tracker):
    """A snapshot names its id, its source volume and its creation time."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    volume = tracker.create_volume()

    snapshot = tracker.create_snapshot(volume.volume_id)

    check(snapshot.snapshot_id, "Snapshot.snapshot_id", "non-empty", "")
    check_equal(snapshot.source_volume_id, volume.volume_id, "Snapshot.source_volume_id")
    check(
        snapshot.HasField("creation_time") and snapshot.creation_time.seconds > 0,
        "Snapshot.creation_time",
        "a timestamp",
        snapshot.creation_time,
    )


@pytest.mark.requirement("CreateSnapshot-idempotent")
def test_create_snapshot_twice_with_same_name_and_source_returns_same_snapshot(csi, tracker):
    """Repeating CreateSnapshot with one name and source returns the same snapshot."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    volume = tracker.create_volume()
    name = unique_name("csi-snap")

    first = tracker.create_snapshot(volume.volume_id, name)
    second = tracker.create_snapshot(volume.volume_id, name)

    check_equal(second.snapshot_id, first.snapshot_id, "second Snapshot.snapshot_id")


@pytest.mark.requirement("CreateSnapshot-name-conflict-already-exists")
def test_create_snapshot_same_name_other_source_is_already_exists(csi, tracker):
    """Reusing a snapshot name for another source volume fails with ALREADY_EXISTS."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    first, other = tracker.create_volume(), tracker.create_volume()
    name = unique_name("csi-snap")
    tracker.create_snapshot(first.volume_id, name)

    try:
        snap = csi.services.controller.CreateSnapshot(snapshot_request(csi, other.volume_id, name))
    except grpc.RpcError as err:
        check_equal(err.code().name, "ALREADY_EXISTS", "CreateSnapshot status")
        return
    tracker.track_snapshot(snap.snapshot.snapshot_id)
    raise Violation("CreateSnapshot", "ALREADY_EXISTS", "OK")


@pytest.mark.requirement("CreateSnapshot-max-length-name")
def test_create_snapshot_accepts_128_byte_name(csi, tracker):
    """Snapshot names of the maximum length (128 bytes) are accepted."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    volume = tracker.create_volume()

    snapshot = tracker.create_snapshot(volume.volume_id, unique_name("csi-snap").ljust(128, "s"))

    check(snapshot.snapshot_id, "Snapshot.snapshot_id", "a snapshot", "")


@pytest.mark.requirement("CreateSnapshot-unknown-source-not-found")
def test_create_snapshot_of_unknown_volume_is_not_found(csi):
    """Snapshotting a volume that does not exist fails with NOT_FOUND."""
    csi.require("CREATE_DELETE_SNAPSHOT")
    request = snapshot_request(csi, UNKNOWN_VOLUME, unique_name("csi-snap"))

    expect_code(csi.services.controller.CreateSnapshot, request, NOT_FOUND)


# -- DeleteSnapshot -----------------------------------------------------------------------


@pytest.mark.requirement("DeleteSnapshot-missing-id-invalid-argument")
def test_delete_snapshot_without_id_is_invalid_argument(csi):
    """DeleteSnapshot without a snapshot id fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_SNAPSHOT")

    expect_code(
        csi.services.controller.DeleteSnapshot,
        csi.with_secrets(csi_pb2.DeleteSnapshotRequest()),
        INVALID,
    )


@pytest.mark.requirement("DeleteSnapshot-unknown-id-ok")
def test_delete_snapshot_of_unknown_id_succeeds(csi):
    """Deleting a snapshot that does not exist succeeds."""
    csi.require("CREATE_DELETE_SNAPSHOT")

    ok(
        csi.services.controller.DeleteSnapshot,
        csi.with_secrets(csi_pb2.DeleteSnapshotRequest(snapshot_id=UNKNOWN_SNAPSHOT)),
    )


@pytest.mark.requirement("DeleteSnapshot-idempotent")
def test_delete_snapshot_twice_succeeds_and_snapshot_is_gone(csi, tracker):
    """A deleted snapshot can be deleted again and is no longer listed."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS")
    snapshot = tracker.create_snapshot(tracker.create_volume().volume_id)
    request = csi.with_secrets(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))

    ok(csi.services.controller.DeleteSnapshot, request)
    ok(csi.services.controller.DeleteSnapshot, request, "second DeleteSnapshot")

    listed = list_snapshots(csi, snapshot_id=snapshot.snapshot_id)
    check_equal(listed, [], "ListSnapshots for the deleted snapshot")


# -- ListSnapshots ------------------------------------------------------------------------


@pytest.mark.requirement("ListSnapshots-lists-created")
def test_list_snapshots_shows_new_snapshot(csi, tracker):
    """A new snapshot appears in the unfiltered listing with its source volume."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS")
    snapshot = tracker.create_snapshot(tracker.create_volume().volume_id)

    listed = {s.snapshot_id: s for s in list_snapshots(csi)}

    check(
        snapshot.snapshot_id in listed,
        "ListSnapshotsResponse.entries",
        snapshot.snapshot_id,
        "absent",
    )
    check_equal(
        listed[snapshot.snapshot_id].source_volume_id,
        snapshot.source_volume_id,
        "listed Snapshot.source_volume_id",
    )


@pytest.mark.requirement("ListSnapshots-filter-by-id")
def test_list_snapshots_by_id_returns_only_that_snapshot(csi, tracker):
    """Filtering by snapshot id returns exactly that snapshot."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS")
    volume = tracker.create_volume()
    snapshot = tracker.create_snapshot(volume.volume_id)
    tracker.create_snapshot(volume.volume_id)

    listed = list_snapshots(csi, snapshot_id=snapshot.snapshot_id)

    check_equal(
        [s.snapshot_id for s in listed],
        [snapshot.snapshot_id],
        "ListSnapshots(snapshot_id) entries",
    )


@pytest.mark.requirement("ListSnapshots-filter-by-source")
def test_list_snapshots_by_source_volume_returns_its_snapshots(csi, tracker):
    """Filtering by source volume returns that volume's snapshots and no others."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS")
    volume, other = tracker.create_volume(), tracker.create_volume()
    mine = {tracker.create_snapshot(volume.volume_id).snapshot_id for _ in range(2)}
    tracker.create_snapshot(other.volume_id)

    listed = list_snapshots(csi, source_volume_id=volume.volume_id)

    check_equal(
        sorted(s.snapshot_id for s in listed),
        sorted(mine),
        "ListSnapshots(source_volume_id) entries",
    )


@pytest.mark.requirement("ListSnapshots-unknown-filter-empty")
@pytest.mark.parametrize("field", ["snapshot_id", "source_volume_id"])
def test_list_snapshots_with_unknown_filter_is_empty(csi, field):
    """Filtering by an unknown snapshot or volume id returns an empty list, not an error."""
    csi.require("LIST_SNAPSHOTS")

    listed = list_snapshots(csi, **{field: UNKNOWN_SNAPSHOT})

    check_equal(listed, [], f"ListSnapshots({field}=unknown) entries")


@pytest.mark.requirement("ListSnapshots-pagination")
def test_list_snapshots_pages_respect_max_entries(csi, tracker):
    """With max_entries=1 each page has at most one entry and a next_token while more remain."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS")
    volume = tracker.create_volume()
    mine = {tracker.create_snapshot(volume.volume_id).snapshot_id for _ in range(3)}
    seen, token = [], ""
    for page in range(10000):
        request = csi.with_secrets(
            csi_pb2.ListSnapshotsRequest(
                max_entries=1, starting_token=token, source_volume_id=volume.volume_id
            )
        )
        reply = ok(csi.services.controller.ListSnapshots, request)
        check(
            len(reply.entries) <= 1,
            "ListSnapshotsResponse.entries",
            "at most 1",
            len(reply.entries),
        )
        if page == 0:
            check(
                reply.next_token,
                "ListSnapshotsResponse.next_token",
                "a token while snapshots remain",
                "",
            )
        seen.extend(e.snapshot.snapshot_id for e in reply.entries)
        token = reply.next_token
        if not token:
            break

    check_equal(sorted(seen), sorted(mine), "snapshots across all pages")


@pytest.mark.requirement("ListSnapshots-invalid-token-aborted")
def test_list_snapshots_with_invalid_token_is_aborted(csi):
    """An unusable starting_token fails with ABORTED."""
    csi.require("LIST_SNAPSHOTS")
    request = csi.with_secrets(csi_pb2.ListSnapshotsRequest(starting_token="not-a-token-%%%"))

    expect_code(csi.services.controller.ListSnapshots, request, grpc.StatusCode.ABORTED)


# -- GetSnapshot --------------------------------------------------------------------------


@pytest.mark.requirement("GetSnapshot-missing-id-invalid-argument")
def test_get_snapshot_without_id_is_invalid_argument(csi):
    """GetSnapshot without a snapshot id fails with INVALID_ARGUMENT."""
    csi.require("GET_SNAPSHOT")

    expect_code(
        csi.services.controller.GetSnapshot, csi.with_secrets(csi_pb2.GetSnapshotRequest()), INVALID
    )


@pytest.mark.requirement("GetSnapshot-returns-snapshot")
def test_get_snapshot_returns_the_snapshot(csi, tracker):
    """GetSnapshot returns the snapshot with its id and source volume."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT", "GET_SNAPSHOT")
    snapshot = tracker.create_snapshot(tracker.create_volume().volume_id)

    reply = ok(
        csi.services.controller.GetSnapshot,
        csi.with_secrets(csi_pb2.GetSnapshotRequest(snapshot_id=snapshot.snapshot_id)),
    )

    check_equal(reply.snapshot.snapshot_id, snapshot.snapshot_id, "GetSnapshotResponse.snapshot")
    check_equal(
        reply.snapshot.source_volume_id,
        snapshot.source_volume_id,
        "GetSnapshotResponse.snapshot.source_volume_id",
    )


@pytest.mark.requirement("GetSnapshot-unknown-not-found")
def test_get_snapshot_of_unknown_id_is_not_found(csi):
    """GetSnapshot of a snapshot that does not exist fails with NOT_FOUND."""
    csi.require("GET_SNAPSHOT")

    expect_code(
        csi.services.controller.GetSnapshot,
        csi.with_secrets(csi_pb2.GetSnapshotRequest(snapshot_id=UNKNOWN_SNAPSHOT)),
        NOT_FOUND,
    )


# -- volumes from content sources ---------------------------------------------------------


def _with_marker(csi, tracker, text: str) -> csi_pb2.Volume:
    """A volume holding ``text``, written through a real publish and then unpublished."""
    volume = tracker.create_volume()
    target = tracker.make_available(volume.volume_id)
    write_marker(target, csi.access_type == "block", text)
    tracker.release_node()
    return volume


def _read_back(csi, tracker, volume: csi_pb2.Volume) -> str:
    target = tracker.make_available(volume.volume_id)
    return read_marker(target, csi.access_type == "block")


def source(snapshot_id: str = "", volume_id: str = "") -> csi_pb2.VolumeContentSource:
    """A content source naming a snapshot or a volume."""
    if snapshot_id:
        return csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snapshot_id)
        )
    return csi_pb2.VolumeContentSource(
        volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=volume_id)
    )


@pytest.mark.requirement("CreateVolume-from-snapshot")
def test_create_volume_from_snapshot_has_the_snapshot_data(csi, tracker):
    """A volume made from a snapshot reports it as content source and holds its data."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    text = f"snapshot data {unique_name()}"
    original = _with_marker(csi, tracker, text)
    snapshot = tracker.create_snapshot(original.volume_id)

    volume = tracker.create_volume(volume_content_source=source(snapshot_id=snapshot.snapshot_id))

    check_equal(
        volume.content_source.snapshot.snapshot_id,
        snapshot.snapshot_id,
        "Volume.content_source.snapshot.snapshot_id",
    )
    check(
        volume.capacity_bytes == 0 or volume.capacity_bytes >= snapshot.size_bytes,
        "Volume.capacity_bytes",
        f"0 (unknown) or at least the snapshot's size_bytes {snapshot.size_bytes}",
        volume.capacity_bytes,
    )
    check_equal(_read_back(csi, tracker, volume), text, "data in the restored volume")


@pytest.mark.requirement("CreateVolume-from-snapshot-not-found")
def test_create_volume_from_unknown_snapshot_is_not_found(csi, tracker):
    """A volume from a snapshot that does not exist fails with NOT_FOUND."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    request = tracker.volume_request(volume_content_source=source(snapshot_id=UNKNOWN_SNAPSHOT))

    expect_code(csi.services.controller.CreateVolume, request, NOT_FOUND)


@pytest.mark.requirement("CreateVolume-clone")
def test_create_volume_from_volume_has_the_source_data(csi, tracker):
    """A clone reports its source volume and holds the source's data."""
    csi.require("CREATE_DELETE_VOLUME", "CLONE_VOLUME")
    text = f"clone data {unique_name()}"
    original = _with_marker(csi, tracker, text)

    clone = tracker.create_volume(volume_content_source=source(volume_id=original.volume_id))

    check_equal(
        clone.content_source.volume.volume_id,
        original.volume_id,
        "Volume.content_source.volume.volume_id",
    )
    check_equal(_read_back(csi, tracker, clone), text, "data in the cloned volume")


@pytest.mark.requirement("CreateVolume-clone-not-found")
def test_create_volume_from_unknown_volume_is_not_found(csi, tracker):
    """A clone of a volume that does not exist fails with NOT_FOUND."""
    csi.require("CREATE_DELETE_VOLUME", "CLONE_VOLUME")
    request = tracker.volume_request(volume_content_source=source(volume_id=UNKNOWN_VOLUME))

    expect_code(csi.services.controller.CreateVolume, request, NOT_FOUND)


@pytest.mark.requirement("DeleteVolume-snapshots-survive")
def test_snapshot_stays_usable_after_source_volume_is_deleted(csi, tracker):
    """Deleting a snapshotted volume either is refused or leaves the snapshot restorable."""
    csi.require("CREATE_DELETE_VOLUME", "CREATE_DELETE_SNAPSHOT")
    original = tracker.create_volume()
    snapshot = tracker.create_snapshot(original.volume_id)

    try:
        csi.services.controller.DeleteVolume(
            csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=original.volume_id))
        )
    except grpc.RpcError as err:
        check_equal(err.code().name, "FAILED_PRECONDITION", "DeleteVolume status")
        return
    restored = tracker.create_volume(volume_content_source=source(snapshot_id=snapshot.snapshot_id))
    check(restored.volume_id, "Volume.volume_id", "a volume restored from the snapshot", "")
