"""Controller service: volumes, validation, listing, capacity, publication, modification.

Spec sections: spec.md "Controller Service RPC". Snapshots and expansion have their own
modules.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from conformance.core import Violation, check, check_equal, skip_capability, skip_config
from conformance.csi.client import expect_code, expect_codes, ok
from conformance.csi.target import unique_name
from wire.proto.csi import csi_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNKNOWN_VOLUME = "conformance-unknown-volume-0000"


def list_all_volumes(csi, page_size: int = 0) -> list[csi_pb2.ListVolumesResponse.Entry]:
    """Every entry of ListVolumes, following next_token."""
    entries, token = [], ""
    for _ in range(10000):
        reply = ok(
            csi.services.controller.ListVolumes,
            csi_pb2.ListVolumesRequest(max_entries=page_size, starting_token=token),
        )
        entries.extend(reply.entries)
        token = reply.next_token
        if not token:
            return entries
    raise Violation("ListVolumesResponse.next_token", "the listing to end", "endless tokens")


# -- ControllerGetCapabilities ------------------------------------------------------------


@pytest.mark.requirement("ControllerGetCapabilities-known-types")
def test_controller_get_capabilities_lists_only_known_types(csi):
    """Every controller capability is an RPC type the spec defines."""
    csi.require(plugin=("CONTROLLER_SERVICE",))
    reply = ok(
        csi.services.controller.ControllerGetCapabilities,
        csi_pb2.ControllerGetCapabilitiesRequest(),
    )

    known = csi_pb2.ControllerServiceCapability.RPC.Type.values()
    for index, cap in enumerate(reply.capabilities):
        where = f"ControllerGetCapabilitiesResponse.capabilities[{index}].rpc.type"
        check(cap.rpc.type in known and cap.rpc.type != 0, where, "a known type", cap.rpc.type)


# -- CreateVolume -------------------------------------------------------------------------


@pytest.mark.requirement("CreateVolume-missing-name-invalid-argument")
def test_create_volume_without_name_is_invalid_argument(csi, tracker):
    """CreateVolume without a name fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME")
    request = tracker.volume_request(name="x")
    request.name = ""

    expect_code(csi.services.controller.CreateVolume, request, INVALID)


@pytest.mark.requirement("CreateVolume-missing-capabilities-invalid-argument")
def test_create_volume_without_capabilities_is_invalid_argument(csi, tracker):
    """CreateVolume without volume capabilities fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME")
    request = tracker.volume_request()
    del request.volume_capabilities[:]

    expect_code(csi.services.controller.CreateVolume, request, INVALID)


@pytest.mark.requirement("CreateVolume-capability-incomplete-invalid-argument")
@pytest.mark.parametrize("missing", ["access_mode", "access_type"])
def test_create_volume_with_incomplete_capability_is_invalid_argument(csi, tracker, missing):
    """A capability lacking its access mode or access type is refused with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME")
    cap = csi.capability()
    cap.ClearField("access_mode" if missing == "access_mode" else cap.WhichOneof("access_type"))
    request = tracker.volume_request(caps=[cap])

    expect_code(csi.services.controller.CreateVolume, request, INVALID)


@pytest.mark.requirement("CreateVolume-returns-volume")
@pytest.mark.parametrize("sized", [False, True], ids=["no-capacity", "with-capacity"])
def test_create_volume_returns_volume_with_id_and_capacity(csi, tracker, sized):
    """A created volume has an id and a capacity within the requested range."""
    csi.require("CREATE_DELETE_VOLUME")
    size = csi.volume_size if sized else 0

    volume = tracker.create_volume(size=size)

    check(volume.volume_id, "Volume.volume_id", "a non-empty id", volume.volume_id)
    if sized:
        check(
            volume.capacity_bytes == 0 or volume.capacity_bytes >= size,
            "Volume.capacity_bytes",
            f"0 (unknown) or >= {size}",
            volume.capacity_bytes,
        )


@pytest.mark.requirement("CreateVolume-capacity-within-limit")
def test_create_volume_respects_limit_bytes(csi, tracker):
    """With required and limit bytes both set, the capacity lies between them."""
    csi.require("CREATE_DELETE_VOLUME")
    size = csi.volume_size
    request = tracker.volume_request(size=size)
    request.capacity_range.limit_bytes = size * 2

    volume = ok(csi.services.controller.CreateVolume, request).volume
    tracker.track_volume(volume.volume_id)

    check(
        volume.capacity_bytes == 0 or size <= volume.capacity_bytes <= size * 2,
        "Volume.capacity_bytes",
        f"0 or between {size} and {size * 2}",
        volume.capacity_bytes,
    )


@pytest.mark.requirement("CreateVolume-idempotent")
def test_create_volume_twice_with_same_arguments_returns_same_volume(csi, tracker):
    """Repeating CreateVolume with the same name and arguments returns the same volume."""
    csi.require("CREATE_DELETE_VOLUME")
    request = tracker.volume_request()

    first = ok(csi.services.controller.CreateVolume, request).volume
    tracker.track_volume(first.volume_id)
    second = ok(csi.services.controller.CreateVolume, request).volume
    tracker.track_volume(second.volume_id)

    check_equal(second.volume_id, first.volume_id, "second CreateVolumeResponse.volume.volume_id")
    check_equal(second.capacity_bytes, first.capacity_bytes, "second Volume.capacity_bytes")


@pytest.mark.requirement("CreateVolume-name-conflict-already-exists")
def test_create_volume_same_name_other_capacity_is_already_exists(csi, tracker):
    """Reusing a name with an incompatible capacity fails with ALREADY_EXISTS."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume(name=(name := unique_name()))
    bigger = max(volume.capacity_bytes, csi.volume_size) * 2
    request = tracker.volume_request(name=name, size=bigger)
    request.capacity_range.limit_bytes = bigger

    expect_code(csi.services.controller.CreateVolume, request, grpc.StatusCode.ALREADY_EXISTS)


@pytest.mark.requirement("CreateVolume-max-length-name")
def test_create_volume_accepts_128_byte_name(csi, tracker):
    """Names of the maximum length the spec allows (128 bytes) are accepted."""
    csi.require("CREATE_DELETE_VOLUME")
    name = unique_name().ljust(128, "x")

    volume = tracker.create_volume(name=name)

    check(volume.volume_id, "Volume.volume_id", "a volume for a 128-byte name", "")


@pytest.mark.requirement("CreateVolume-concurrent-one-volume")
def test_parallel_create_volume_with_one_name_yields_one_volume(csi, tracker):
    """Eight parallel CreateVolume calls with one name make exactly one volume."""
    csi.require("CREATE_DELETE_VOLUME")
    request = tracker.volume_request()

    def create(_: int) -> str:
        try:
            return csi.services.controller.CreateVolume(request).volume.volume_id
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.ABORTED:
                return ""  # the spec lets a plugin refuse a concurrent duplicate with ABORTED
            raise Violation(
                "CreateVolume (parallel)", "OK or ABORTED", f"{err.code().name}: {err.details()}"
            ) from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(8)))
    for volume_id in ids:
        tracker.track_volume(volume_id)
    final = ok(csi.services.controller.CreateVolume, request).volume.volume_id
    tracker.track_volume(final)

    check_equal(sorted(set(ids) - {""} | {final}), [final], "volume ids of parallel CreateVolume")


@pytest.mark.requirement("CreateVolume-out-of-range")
def test_create_volume_larger_than_maximum_is_out_of_range(csi, tracker):
    """A capacity beyond the plugin's maximum volume size fails with OUT_OF_RANGE."""
    csi.require("CREATE_DELETE_VOLUME", "GET_CAPACITY")
    reply = ok(
        csi.services.controller.GetCapacity,
        csi.with_secrets(csi_pb2.GetCapacityRequest(volume_capabilities=[csi.capability()])),
    )
    if not reply.HasField("maximum_volume_size"):
        skip_capability("GetCapacityResponse.maximum_volume_size", "no maximum reported")
    too_big = reply.maximum_volume_size.value + 1
    request = tracker.volume_request(size=too_big)
    request.capacity_range.limit_bytes = too_big

    try:
        volume = csi.services.controller.CreateVolume(request).volume
    except grpc.RpcError as err:
        check_equal(err.code().name, "OUT_OF_RANGE", "CreateVolume status")
        return
    tracker.track_volume(volume.volume_id)
    raise Violation("CreateVolume", "OUT_OF_RANGE", f"OK with {volume.capacity_bytes} bytes")


@pytest.mark.requirement("CreateVolume-accessible-topology")
def test_create_volume_reports_accessible_topology(csi, tracker):
    """With topology constraints, a volume says where it is accessible, incl. the test node."""
    csi.require("CREATE_DELETE_VOLUME", plugin=("VOLUME_ACCESSIBILITY_CONSTRAINTS",))

    volume = tracker.create_volume()

    check(volume.accessible_topology, "Volume.accessible_topology", "at least one segment", [])
    node_segments = dict(csi.node_info.accessible_topology.segments)
    check(
        any(dict(t.segments).items() <= node_segments.items() for t in volume.accessible_topology),
        "Volume.accessible_topology",
        f"a topology the node {node_segments} lies in",
        [dict(t.segments) for t in volume.accessible_topology],
    )


@pytest.mark.requirement("CreateVolume-topology-unsatisfiable-resource-exhausted")
def test_create_volume_in_impossible_topology_is_resource_exhausted(csi, tracker):
    """A requisite topology the plugin cannot reach fails with RESOURCE_EXHAUSTED."""
    csi.require("CREATE_DELETE_VOLUME", plugin=("VOLUME_ACCESSIBILITY_CONSTRAINTS",))
    segments = dict(csi.node_info.accessible_topology.segments)
    if not segments:
        skip_capability("NodeGetInfoResponse.accessible_topology", "the node reports none")
    nowhere = {key: f"{value}-conformance-nowhere" for key, value in segments.items()}
    request = tracker.volume_request()
    request.accessibility_requirements.requisite.add(segments=nowhere)

    try:
        volume = csi.services.controller.CreateVolume(request).volume
    except grpc.RpcError as err:
        check_equal(err.code().name, "RESOURCE_EXHAUSTED", "CreateVolume status")
        return
    tracker.track_volume(volume.volume_id)
    raise Violation("CreateVolume", "RESOURCE_EXHAUSTED", f"OK for topology {nowhere}")


@pytest.mark.requirement("CreateVolume-mutable-parameters")
def test_create_volume_with_mutable_parameters(csi, tracker):
    """Plugins that modify volumes accept supported mutable parameters at creation."""
    csi.require("CREATE_DELETE_VOLUME", "MODIFY_VOLUME")
    if not csi.params.mutable:
        skip_config("no mutableParameters in --csi-params")

    volume = tracker.create_volume(mutable_parameters=csi.params.mutable)

    check(volume.volume_id, "Volume.volume_id", "a volume", "")


@pytest.mark.requirement("CreateVolume-unsupported-mutable-parameters-invalid-argument")
def test_create_volume_with_unsupported_mutable_parameters_is_invalid_argument(csi, tracker):
    """Unsupported mutable parameters at creation fail with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "MODIFY_VOLUME")
    request = tracker.volume_request(mutable_parameters=csi.params.invalid_mutable)

    try:
        volume = csi.services.controller.CreateVolume(request).volume
    except grpc.RpcError as err:
        check_equal(err.code().name, "INVALID_ARGUMENT", "CreateVolume status")
        return
    tracker.track_volume(volume.volume_id)
    raise Violation("CreateVolume", "INVALID_ARGUMENT", "OK")


# -- DeleteVolume -------------------------------------------------------------------------


@pytest.mark.requirement("DeleteVolume-missing-id-invalid-argument")
def test_delete_volume_without_id_is_invalid_argument(csi):
    """DeleteVolume without a volume id fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME")

    expect_code(
        csi.services.controller.DeleteVolume,
        csi.with_secrets(csi_pb2.DeleteVolumeRequest()),
        INVALID,
    )


@pytest.mark.requirement("DeleteVolume-unknown-id-ok")
def test_delete_volume_of_unknown_id_succeeds(csi):
    """Deleting a volume that does not exist succeeds (it is already gone)."""
    csi.require("CREATE_DELETE_VOLUME")

    ok(
        csi.services.controller.DeleteVolume,
        csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=UNKNOWN_VOLUME)),
    )


@pytest.mark.requirement("DeleteVolume-idempotent")
def test_delete_volume_twice_succeeds_and_volume_is_gone(csi, tracker):
    """A deleted volume can be deleted again, and it no longer answers as existing."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume()
    request = csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id))

    ok(csi.services.controller.DeleteVolume, request)
    ok(csi.services.controller.DeleteVolume, request, "second DeleteVolume")

    validate = csi.with_secrets(
        csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[csi.capability()]
        )
    )
    expect_code(
        csi.services.controller.ValidateVolumeCapabilities,
        validate,
        NOT_FOUND,
        "ValidateVolumeCapabilities after DeleteVolume",
    )


# -- ValidateVolumeCapabilities -----------------------------------------------------------


@pytest.mark.requirement("ValidateVolumeCapabilities-missing-id-invalid-argument")
def test_validate_volume_capabilities_without_id_is_invalid_argument(csi):
    """ValidateVolumeCapabilities without a volume id fails with INVALID_ARGUMENT."""
    csi.require(plugin=("CONTROLLER_SERVICE",))
    request = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_capabilities=[csi.capability()])

    expect_code(csi.services.controller.ValidateVolumeCapabilities, request, INVALID)


@pytest.mark.requirement("ValidateVolumeCapabilities-missing-capabilities-invalid-argument")
def test_validate_volume_capabilities_without_capabilities_is_invalid_argument(csi, tracker):
    """ValidateVolumeCapabilities without capabilities fails with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume()
    request = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=volume.volume_id)

    expect_code(csi.services.controller.ValidateVolumeCapabilities, request, INVALID)


@pytest.mark.requirement("ValidateVolumeCapabilities-confirms")
def test_validate_volume_capabilities_confirms_creation_capabilities(csi, tracker):
    """The capabilities a volume was created with are confirmed, and echoed back."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume()
    request = csi.with_secrets(
        csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[csi.capability()]
        )
    )

    reply = ok(csi.services.controller.ValidateVolumeCapabilities, request)

    check(
        reply.HasField("confirmed"),
        "ValidateVolumeCapabilitiesResponse.confirmed",
        "present for supported capabilities",
        reply.message,
    )
    check_equal(
        list(reply.confirmed.volume_capabilities),
        [csi.capability()],
        "ValidateVolumeCapabilitiesResponse.confirmed.volume_capabilities",
    )


@pytest.mark.requirement("ValidateVolumeCapabilities-mismatch-not-confirmed")
def test_validate_volume_capabilities_does_not_confirm_other_access_type(csi, tracker):
    """A capability of the other access type (block vs mount) is not confirmed."""
    csi.require("CREATE_DELETE_VOLUME")
    volume = tracker.create_volume()
    other = csi.capability("mount" if csi.access_type == "block" else "block")
    request = csi.with_secrets(
        csi_pb2.ValidateVolumeCapabilitiesRequest(
            volume_id=volume.volume_id, volume_capabilities=[other]
        )
    )

    try:
        reply = csi.services.controller.ValidateVolumeCapabilities(request)
    except grpc.RpcError as err:
        # Refusing an unsupported capability outright is also allowed (spec.md "Error Scheme").
        check_equal(err.code().name, "INVALID_ARGUMENT", "ValidateVolumeCapabilities status")
        return
    check(
        not reply.HasField("confirmed"),
        "ValidateVolumeCapabilitiesResponse.confirmed",
        "absent for a capability the volume cannot serve",
        str(reply.confirmed),
    )


@pytest.mark.requirement("ValidateVolumeCapabilities-unknown-volume-not-found")
def test_validate_volume_capabilities_of_unknown_volume_is_not_found(csi):
    """ValidateVolumeCapabilities for a volume that does not exist fails with NOT_FOUND."""
    csi.require(plugin=("CONTROLLER_SERVICE",))
    request = csi_pb2.ValidateVolumeCapabilitiesRequest(
        volume_id=UNKNOWN_VOLUME, volume_capabilities=[csi.capability()]
    )

    expect_code(csi.services.controller.ValidateVolumeCapabilities, request, NOT_FOUND)


# -- ListVolumes --------------------------------------------------------------------------


@pytest.mark.requirement("ListVolumes-lists-created")
def test_list_volumes_shows_new_volumes_and_drops_deleted_ones(csi, tracker):
    """A created volume appears in ListVolumes, and disappears once deleted."""
    csi.require("CREATE_DELETE_VOLUME", "LIST_VOLUMES")
    volume = tracker.create_volume()

    listed = {e.volume.volume_id: e.volume for e in list_all_volumes(csi)}
    check(volume.volume_id in listed, "ListVolumesResponse.entries", volume.volume_id, "absent")
    check_equal(
        listed[volume.volume_id].capacity_bytes,
        volume.capacity_bytes,
        "listed Volume.capacity_bytes",
    )

    ok(
        csi.services.controller.DeleteVolume,
        csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id)),
    )
    ids = {e.volume.volume_id for e in list_all_volumes(csi)}
    check(
        volume.volume_id not in ids,
        "ListVolumesResponse.entries",
        f"no {volume.volume_id} after DeleteVolume",
        "still listed",
    )


@pytest.mark.requirement("ListVolumes-invalid-token-aborted")
def test_list_volumes_with_invalid_token_is_aborted(csi):
    """An unusable starting_token fails with ABORTED."""
    csi.require("LIST_VOLUMES")
    request = csi_pb2.ListVolumesRequest(starting_token="conformance-not-a-token-%%%")

    expect_code(csi.services.controller.ListVolumes, request, grpc.StatusCode.ABORTED)


@pytest.mark.requirement("ListVolumes-pagination")
def test_list_volumes_pages_cover_every_volume_once(csi, tracker):
    """Paging with max_entries=1 returns at most one entry per page and every volume once."""
    csi.require("CREATE_DELETE_VOLUME", "LIST_VOLUMES")
    mine = {tracker.create_volume().volume_id for _ in range(3)}
    entries, token, pages = [], "", 0
    while True:
        reply = ok(
            csi.services.controller.ListVolumes,
            csi_pb2.ListVolumesRequest(max_entries=1, starting_token=token),
        )
        check(
            len(reply.entries) <= 1,
            "ListVolumesResponse.entries",
            "at most max_entries=1",
            len(reply.entries),
        )
        entries.extend(e.volume.volume_id for e in reply.entries)
        token, pages = reply.next_token, pages + 1
        if not token or pages > 10000:
            break

    seen = [v for v in entries if v in mine]
    check_equal(sorted(seen), sorted(mine), "our volumes across all pages")


@pytest.mark.requirement("ListVolumes-token-survives-deletion")
def test_list_volumes_token_stays_valid_after_deleting_last_listed_volume(csi, tracker):
    """A next_token stays usable when the volume last returned is deleted in between."""
    csi.require("CREATE_DELETE_VOLUME", "LIST_VOLUMES")
    for _ in range(3):
        tracker.create_volume()
    first = ok(csi.services.controller.ListVolumes, csi_pb2.ListVolumesRequest(max_entries=1))
    if not first.next_token:
        raise Violation("ListVolumesResponse.next_token", "a token with more volumes left", "")
    last = first.entries[-1].volume.volume_id
    if last not in tracker.volumes:
        skip_config("the first page holds a volume this test did not make; not deleting it")
    ok(
        csi.services.controller.DeleteVolume,
        csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=last)),
    )

    ok(
        csi.services.controller.ListVolumes,
        csi_pb2.ListVolumesRequest(max_entries=1, starting_token=first.next_token),
        "ListVolumes with a token whose volume was deleted",
    )


@pytest.mark.requirement("ListVolumes-published-nodes")
def test_list_volumes_reports_published_node(csi, tracker):
    """After ControllerPublishVolume the volume's status lists the node."""
    csi.require(
        "CREATE_DELETE_VOLUME",
        "LIST_VOLUMES",
        "LIST_VOLUMES_PUBLISHED_NODES",
        "PUBLISH_UNPUBLISH_VOLUME",
    )
    volume = tracker.create_volume()
    tracker.attach(volume.volume_id)

    entry = next(e for e in list_all_volumes(csi) if e.volume.volume_id == volume.volume_id)

    check(
        csi.node_id in entry.status.published_node_ids,
        "ListVolumesResponse.entries[].status.published_node_ids",
        csi.node_id,
        list(entry.status.published_node_ids),
    )


# -- GetCapacity --------------------------------------------------------------------------


@pytest.mark.requirement("GetCapacity-returns-capacity")
def test_get_capacity_reports_non_negative_capacity(csi):
    """GetCapacity answers with a non-negative capacity (and sizes, when given, too)."""
    csi.require("GET_CAPACITY")
    request = csi_pb2.GetCapacityRequest(
        volume_capabilities=[csi.capability()], parameters=csi.params.volume
    )

    reply = ok(csi.services.controller.GetCapacity, request)

    check(
        reply.available_capacity >= 0,
        "GetCapacityResponse.available_capacity",
        ">= 0",
        reply.available_capacity,
    )
    if reply.HasField("maximum_volume_size"):
        check(
            reply.maximum_volume_size.value >= 0,
            "GetCapacityResponse.maximum_volume_size",
            ">= 0",
            reply.maximum_volume_size.value,
        )


@pytest.mark.requirement("GetCapacity-with-topology")
def test_get_capacity_for_node_topology(csi):
    """GetCapacity accepts the node's own topology segment."""
    csi.require("GET_CAPACITY", plugin=("VOLUME_ACCESSIBILITY_CONSTRAINTS",))
    request = csi_pb2.GetCapacityRequest(
        volume_capabilities=[csi.capability()],
        accessible_topology=csi.node_info.accessible_topology,
    )

    reply = ok(csi.services.controller.GetCapacity, request)

    check(
        reply.available_capacity >= 0,
        "GetCapacityResponse.available_capacity",
        ">= 0",
        reply.available_capacity,
    )


# -- ControllerGetVolume ------------------------------------------------------------------


@pytest.mark.requirement("ControllerGetVolume-returns-volume")
def test_controller_get_volume_returns_the_volume(csi, tracker):
    """ControllerGetVolume returns the volume with its id and capacity."""
    csi.require("CREATE_DELETE_VOLUME", "GET_VOLUME")
    volume = tracker.create_volume()

    reply = ok(
        csi.services.controller.ControllerGetVolume,
        csi_pb2.ControllerGetVolumeRequest(volume_id=volume.volume_id),
    )

    check_equal(reply.volume.volume_id, volume.volume_id, "ControllerGetVolumeResponse.volume")
    if "VOLUME_CONDITION" in csi.controller_caps:
        check(
            reply.status.HasField("volume_condition"),
            "ControllerGetVolumeResponse.status.volume_condition",
            "present with VOLUME_CONDITION",
            "absent",
        )
        check(
            not reply.status.volume_condition.abnormal,
            "volume_condition.abnormal",
            "false for a fresh volume",
            reply.status.volume_condition.message,
        )


@pytest.mark.requirement("ControllerGetVolume-missing-id-invalid-argument")
def test_controller_get_volume_without_id_is_invalid_argument(csi):
    """ControllerGetVolume without a volume id fails with INVALID_ARGUMENT."""
    csi.require("GET_VOLUME")

    expect_code(
        csi.services.controller.ControllerGetVolume, csi_pb2.ControllerGetVolumeRequest(), INVALID
    )


@pytest.mark.requirement("ControllerGetVolume-unknown-not-found")
def test_controller_get_volume_of_unknown_volume_is_not_found(csi):
    """ControllerGetVolume of a volume that does not exist fails with NOT_FOUND."""
    csi.require("GET_VOLUME")

    expect_code(
        csi.services.controller.ControllerGetVolume,
        csi_pb2.ControllerGetVolumeRequest(volume_id=UNKNOWN_VOLUME),
        NOT_FOUND,
    )


# -- ControllerPublishVolume / ControllerUnpublishVolume ----------------------------------


def publish_request(csi, volume_id="", node_id="", cap=True, readonly=False):
    """A ControllerPublishVolumeRequest with the given fields (secrets added)."""
    request = csi_pb2.ControllerPublishVolumeRequest(
        volume_id=volume_id, node_id=node_id, readonly=readonly
    )
    if cap:
        request.volume_capability.CopyFrom(csi.capability())
    return csi.with_secrets(request)


@pytest.mark.requirement("ControllerPublishVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "node_id", "volume_capability"])
def test_controller_publish_without_required_field_is_invalid_argument(csi, tracker, missing):
    """ControllerPublishVolume lacking volume_id, node_id or capability is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME")
    volume = tracker.create_volume()
    request = publish_request(
        csi,
        volume_id="" if missing == "volume_id" else volume.volume_id,
        node_id="" if missing == "node_id" else csi.node_id,
        cap=missing != "volume_capability",
    )

    expect_code(csi.services.controller.ControllerPublishVolume, request, INVALID)


@pytest.mark.requirement("ControllerPublishVolume-unknown-volume-not-found")
def test_controller_publish_of_unknown_volume_is_not_found(csi):
    """Publishing a volume that does not exist fails with NOT_FOUND."""
    csi.require("PUBLISH_UNPUBLISH_VOLUME")
    request = publish_request(csi, UNKNOWN_VOLUME, csi.node_id)

    expect_code(csi.services.controller.ControllerPublishVolume, request, NOT_FOUND)


@pytest.mark.requirement("ControllerPublishVolume-unknown-node-not-found")
def test_controller_publish_to_unknown_node_is_not_found(csi, tracker):
    """Publishing to a node that does not exist fails with NOT_FOUND."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME")
    volume = tracker.create_volume()
    tracker.attached.append((volume.volume_id, "conformance-unknown-node"))
    request = publish_request(csi, volume.volume_id, "conformance-unknown-node")

    expect_code(csi.services.controller.ControllerPublishVolume, request, NOT_FOUND)


@pytest.mark.requirement("ControllerPublishVolume-idempotent")
def test_controller_publish_twice_succeeds(csi, tracker):
    """Publishing the same volume to the same node twice succeeds both times."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME")
    volume = tracker.create_volume()

    tracker.attach(volume.volume_id)
    tracker.attach(volume.volume_id)


@pytest.mark.requirement("ControllerPublishVolume-incompatible-already-exists")
def test_controller_publish_incompatible_readonly_is_already_exists(csi, tracker):
    """Publishing again with another readonly flag fails with ALREADY_EXISTS."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME", "PUBLISH_READONLY")
    volume = tracker.create_volume()
    tracker.attach(volume.volume_id, readonly=False)
    request = publish_request(csi, volume.volume_id, csi.node_id, readonly=True)

    expect_code(
        csi.services.controller.ControllerPublishVolume, request, grpc.StatusCode.ALREADY_EXISTS
    )


@pytest.mark.requirement("ControllerPublishVolume-attach-limit-resource-exhausted")
def test_controller_publish_beyond_attach_limit_is_resource_exhausted(csi, tracker):
    """Publishing more volumes than the node's max_volumes_per_node fails RESOURCE_EXHAUSTED."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME")
    limit = csi.node_info.max_volumes_per_node
    if limit <= 0:
        skip_capability("NodeGetInfoResponse.max_volumes_per_node", "no limit reported")
    if limit > csi.attach_limit_max:
        skip_config(f"attach limit {limit} > --csi-attach-limit-max {csi.attach_limit_max}")
    # Attach until the plugin refuses. Other tests (xdist workers sharing the plugin) may
    # hold attachments too, so a refusal may come early; it must come by limit + 1 of ours
    # and say RESOURCE_EXHAUSTED.
    for attempt in range(limit + 1):
        volume = tracker.create_volume()
        tracker.attached.append((volume.volume_id, csi.node_id))
        try:
            csi.services.controller.ControllerPublishVolume(
                publish_request(csi, volume.volume_id, csi.node_id)
            )
        except grpc.RpcError as err:
            check_equal(err.code().name, "RESOURCE_EXHAUSTED", "ControllerPublishVolume status")
            return
        check(
            attempt < limit,
            "ControllerPublishVolume",
            f"RESOURCE_EXHAUSTED beyond max_volumes_per_node={limit}",
            f"volume {attempt + 1} attached",
        )


@pytest.mark.requirement("ControllerUnpublishVolume-missing-id-invalid-argument")
def test_controller_unpublish_without_volume_id_is_invalid_argument(csi):
    """ControllerUnpublishVolume without a volume id fails with INVALID_ARGUMENT."""
    csi.require("PUBLISH_UNPUBLISH_VOLUME")
    request = csi.with_secrets(csi_pb2.ControllerUnpublishVolumeRequest(node_id=csi.node_id))

    expect_code(csi.services.controller.ControllerUnpublishVolume, request, INVALID)


@pytest.mark.requirement("ControllerUnpublishVolume-idempotent")
def test_controller_publish_unpublish_lifecycle_is_idempotent(csi, tracker):
    """Publish, unpublish twice and delete all succeed: unpublishing is idempotent."""
    csi.require("CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME")
    volume = tracker.create_volume()
    tracker.attach(volume.volume_id)
    request = csi.with_secrets(
        csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume.volume_id, node_id=csi.node_id)
    )

    ok(csi.services.controller.ControllerUnpublishVolume, request)
    ok(csi.services.controller.ControllerUnpublishVolume, request, "second unpublish")
    ok(
        csi.services.controller.DeleteVolume,
        csi.with_secrets(csi_pb2.DeleteVolumeRequest(volume_id=volume.volume_id)),
    )


@pytest.mark.requirement("ControllerUnpublishVolume-unknown-volume")
def test_controller_unpublish_of_unknown_volume_is_ok_or_not_found(csi):
    """Unpublishing a volume that does not exist succeeds or says NOT_FOUND."""
    csi.require("PUBLISH_UNPUBLISH_VOLUME")
    request = csi.with_secrets(
        csi_pb2.ControllerUnpublishVolumeRequest(volume_id=UNKNOWN_VOLUME, node_id=csi.node_id)
    )

    expect_codes(
        csi.services.controller.ControllerUnpublishVolume, request, (grpc.StatusCode.OK, NOT_FOUND)
    )


# -- ControllerModifyVolume ---------------------------------------------------------------


def modify_request(csi, volume_id, params):
    """A ControllerModifyVolumeRequest with secrets."""
    return csi.with_secrets(
        csi_pb2.ControllerModifyVolumeRequest(volume_id=volume_id, mutable_parameters=params)
    )


@pytest.mark.requirement("ControllerModifyVolume-missing-fields-invalid-argument")
@pytest.mark.parametrize("missing", ["volume_id", "mutable_parameters"])
def test_controller_modify_without_required_field_is_invalid_argument(csi, tracker, missing):
    """ControllerModifyVolume without a volume id or mutable parameters is INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "MODIFY_VOLUME")
    volume = tracker.create_volume()
    params = {} if missing == "mutable_parameters" else (csi.params.mutable or {"k": "v"})
    volume_id = "" if missing == "volume_id" else volume.volume_id

    expect_code(
        csi.services.controller.ControllerModifyVolume,
        modify_request(csi, volume_id, params),
        INVALID,
    )


@pytest.mark.requirement("ControllerModifyVolume-unknown-volume-not-found")
def test_controller_modify_of_unknown_volume_is_not_found(csi):
    """Modifying a volume that does not exist fails with NOT_FOUND."""
    csi.require("MODIFY_VOLUME")
    if not csi.params.mutable:
        skip_config("no mutableParameters in --csi-params")

    expect_code(
        csi.services.controller.ControllerModifyVolume,
        modify_request(csi, UNKNOWN_VOLUME, csi.params.mutable),
        NOT_FOUND,
    )


@pytest.mark.requirement("ControllerModifyVolume-unsupported-invalid-argument")
def test_controller_modify_with_unsupported_parameters_is_invalid_argument(csi, tracker):
    """Mutable parameters the volume does not support fail with INVALID_ARGUMENT."""
    csi.require("CREATE_DELETE_VOLUME", "MODIFY_VOLUME")
    volume = tracker.create_volume()

    expect_code(
        csi.services.controller.ControllerModifyVolume,
        modify_request(csi, volume.volume_id, csi.params.invalid_mutable),
        INVALID,
    )


@pytest.mark.requirement("ControllerModifyVolume-idempotent")
@pytest.mark.parametrize("created_with", ["plain", "mutable"])
def test_controller_modify_applies_and_repeats(csi, tracker, created_with):
    """Supported mutable parameters apply to a volume, and applying them again succeeds."""
    csi.require("CREATE_DELETE_VOLUME", "MODIFY_VOLUME")
    if not csi.params.mutable:
        skip_config("no mutableParameters in --csi-params")
    extra = {"mutable_parameters": csi.params.mutable} if created_with == "mutable" else {}
    volume = tracker.create_volume(**extra)
    request = modify_request(csi, volume.volume_id, csi.params.mutable)

    ok(csi.services.controller.ControllerModifyVolume, request)
    ok(csi.services.controller.ControllerModifyVolume, request, "second ControllerModifyVolume")
