"""The CSI v1.12 requirement catalogue, in our own words.

Ids are the RPC name plus a short suffix (``CreateVolume-idempotent``). Sections are the
headings of spec.md; anchors point at them in the v1.12.0 tag.
"""

from conformance.core.catalogue import Catalogue, Level, Requirement

MUST, SHOULD = Level.MUST, Level.SHOULD

_ROWS: tuple[tuple[str, Level, str, str], ...] = (
    # -- general ----------------------------------------------------------------------------
    (
        "Endpoint-unix-socket",
        MUST,
        "Connectivity",
        "A plugin serves its gRPC services on a UNIX domain socket endpoint.",
    ),
    (
        "Error-message-present",
        MUST,
        "Error Scheme",
        "Every non-OK status carries a human-readable message.",
    ),
    (
        "Error-details-empty",
        MUST,
        "Error Scheme",
        "Error statuses carry no details payload; the code and message say everything.",
    ),
    (
        "Unimplemented-service",
        MUST,
        "Error Scheme",
        "RPCs of a service the plugin does not offer answer UNIMPLEMENTED.",
    ),
    (
        "Unimplemented-group-controller",
        MUST,
        "Error Scheme",
        "Without GROUP_CONTROLLER_SERVICE, group controller RPCs answer UNIMPLEMENTED.",
    ),
    # -- identity ---------------------------------------------------------------------------
    (
        "GetPluginInfo-name-and-version",
        MUST,
        "GetPluginInfo",
        "The plugin reports a domain-style name of at most 63 characters and a vendor version.",
    ),
    (
        "GetPluginInfo-same-on-every-endpoint",
        MUST,
        "GetPluginInfo",
        "Controller and node endpoints of one plugin report the same name and version.",
    ),
    (
        "GetPluginCapabilities-known-types",
        MUST,
        "GetPluginCapabilities",
        "Plugin capabilities are service or volume-expansion types the spec defines.",
    ),
    (
        "GetPluginCapabilities-stable",
        MUST,
        "GetPluginCapabilities",
        "The advertised plugin capabilities do not change between calls or endpoints.",
    ),
    (
        "Probe-ready",
        MUST,
        "Probe",
        "Probe succeeds on a healthy plugin, or reports FAILED_PRECONDITION with a reason.",
    ),
    # -- controller: volumes ----------------------------------------------------------------
    (
        "ControllerGetCapabilities-known-types",
        MUST,
        "ControllerGetCapabilities",
        "Controller capabilities are RPC types the spec defines.",
    ),
    (
        "CreateVolume-missing-name-invalid-argument",
        MUST,
        "CreateVolume",
        "CreateVolume without a name is refused with INVALID_ARGUMENT.",
    ),
    (
        "CreateVolume-missing-capabilities-invalid-argument",
        MUST,
        "CreateVolume",
        "CreateVolume without volume capabilities is refused with INVALID_ARGUMENT.",
    ),
    (
        "CreateVolume-capability-incomplete-invalid-argument",
        MUST,
        "CreateVolume",
        "A volume capability lacking its access mode or access type is INVALID_ARGUMENT.",
    ),
    (
        "CreateVolume-returns-volume",
        MUST,
        "CreateVolume",
        "A created volume has an id and a capacity of 0 (unknown) or at least the request.",
    ),
    (
        "CreateVolume-capacity-within-limit",
        MUST,
        "CreateVolume",
        "A created volume's capacity lies between required_bytes and limit_bytes.",
    ),
    (
        "CreateVolume-idempotent",
        MUST,
        "CreateVolume",
        "CreateVolume repeated with one name and compatible arguments returns the same volume.",
    ),
    (
        "CreateVolume-name-conflict-already-exists",
        MUST,
        "CreateVolume Errors",
        "Reusing a volume name with incompatible arguments is refused with ALREADY_EXISTS.",
    ),
    (
        "CreateVolume-max-length-name",
        MUST,
        "Size Limits",
        "Volume names of 128 bytes are accepted.",
    ),
    (
        "CreateVolume-concurrent-one-volume",
        SHOULD,
        "Concurrency",
        "Parallel CreateVolume calls with one name produce a single volume (or ABORTED).",
    ),
    (
        "CreateVolume-out-of-range",
        MUST,
        "CreateVolume Errors",
        "A capacity the plugin cannot provide is refused with OUT_OF_RANGE.",
    ),
    (
        "CreateVolume-accessible-topology",
        MUST,
        "CreateVolume",
        "With topology constraints a volume reports where it is accessible.",
    ),
    (
        "CreateVolume-topology-unsatisfiable-resource-exhausted",
        MUST,
        "CreateVolume Errors",
        "A requisite topology the plugin cannot serve is refused with RESOURCE_EXHAUSTED.",
    ),
    (
        "CreateVolume-mutable-parameters",
        MUST,
        "CreateVolume",
        "Plugins with MODIFY_VOLUME accept supported mutable parameters at creation.",
    ),
    (
        "CreateVolume-unsupported-mutable-parameters-invalid-argument",
        MUST,
        "CreateVolume",
        "Unsupported mutable parameters at creation are refused with INVALID_ARGUMENT.",
    ),
    (
        "CreateVolume-from-snapshot",
        MUST,
        "CreateVolume",
        "A volume created from a snapshot names it as content source and holds its data.",
    ),
    (
        "CreateVolume-from-snapshot-not-found",
        MUST,
        "CreateVolume Errors",
        "A volume from a snapshot that does not exist is refused with NOT_FOUND.",
    ),
    (
        "CreateVolume-clone",
        MUST,
        "CreateVolume",
        "A volume cloned from another names it as content source and holds its data.",
    ),
    (
        "CreateVolume-clone-not-found",
        MUST,
        "CreateVolume Errors",
        "A clone of a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "DeleteVolume-missing-id-invalid-argument",
        MUST,
        "DeleteVolume",
        "DeleteVolume without a volume id is refused with INVALID_ARGUMENT.",
    ),
    (
        "DeleteVolume-unknown-id-ok",
        MUST,
        "DeleteVolume",
        "Deleting a volume that does not exist succeeds.",
    ),
    (
        "DeleteVolume-idempotent",
        MUST,
        "DeleteVolume",
        "A deleted volume can be deleted again and no longer exists.",
    ),
    (
        "DeleteVolume-snapshots-survive",
        MUST,
        "DeleteVolume",
        "Deleting a snapshotted volume is refused, or its snapshots stay restorable.",
    ),
    (
        "ValidateVolumeCapabilities-missing-id-invalid-argument",
        MUST,
        "ValidateVolumeCapabilities",
        "ValidateVolumeCapabilities without a volume id is refused with INVALID_ARGUMENT.",
    ),
    (
        "ValidateVolumeCapabilities-missing-capabilities-invalid-argument",
        MUST,
        "ValidateVolumeCapabilities",
        "ValidateVolumeCapabilities without capabilities is refused with INVALID_ARGUMENT.",
    ),
    (
        "ValidateVolumeCapabilities-confirms",
        MUST,
        "ValidateVolumeCapabilities",
        "The capabilities a volume was created with are confirmed.",
    ),
    (
        "ValidateVolumeCapabilities-unknown-volume-not-found",
        MUST,
        "ValidateVolumeCapabilities Errors",
        "Validating a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "ListVolumes-lists-created",
        MUST,
        "ListVolumes",
        "ListVolumes shows existing volumes and drops deleted ones.",
    ),
    (
        "ListVolumes-invalid-token-aborted",
        MUST,
        "ListVolumes Errors",
        "An unusable starting_token is refused with ABORTED.",
    ),
    (
        "ListVolumes-pagination",
        MUST,
        "ListVolumes",
        "Pages hold at most max_entries entries and together list every volume once.",
    ),
    (
        "ListVolumes-token-survives-deletion",
        SHOULD,
        "ListVolumes",
        "A next_token remains usable when the last volume of its page is deleted.",
    ),
    (
        "ListVolumes-published-nodes",
        MUST,
        "ListVolumes",
        "With LIST_VOLUMES_PUBLISHED_NODES, a volume's status names the nodes it is published to.",
    ),
    (
        "GetCapacity-returns-capacity",
        MUST,
        "GetCapacity",
        "GetCapacity reports a non-negative available capacity.",
    ),
    (
        "GetCapacity-with-topology",
        MUST,
        "GetCapacity",
        "GetCapacity accepts a topology segment the plugin reported itself.",
    ),
    (
        "ControllerGetVolume-returns-volume",
        MUST,
        "ControllerGetVolume",
        "ControllerGetVolume returns the volume, with its condition when VOLUME_CONDITION is set.",
    ),
    (
        "ControllerGetVolume-missing-id-invalid-argument",
        MUST,
        "ControllerGetVolume",
        "ControllerGetVolume without a volume id is refused with INVALID_ARGUMENT.",
    ),
    (
        "ControllerGetVolume-unknown-not-found",
        MUST,
        "ControllerGetVolume Errors",
        "ControllerGetVolume of a volume that does not exist is refused with NOT_FOUND.",
    ),
    # -- controller: publication ------------------------------------------------------------
    (
        "ControllerPublishVolume-missing-fields-invalid-argument",
        MUST,
        "ControllerPublishVolume",
        "ControllerPublishVolume without volume id, node id or capability is INVALID_ARGUMENT.",
    ),
    (
        "ControllerPublishVolume-unknown-volume-not-found",
        MUST,
        "ControllerPublishVolume Errors",
        "Publishing a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "ControllerPublishVolume-unknown-node-not-found",
        MUST,
        "ControllerPublishVolume Errors",
        "Publishing to a node that does not exist is refused with NOT_FOUND.",
    ),
    (
        "ControllerPublishVolume-idempotent",
        MUST,
        "ControllerPublishVolume",
        "Publishing a volume to a node it is already published to, alike, succeeds.",
    ),
    (
        "ControllerPublishVolume-incompatible-already-exists",
        MUST,
        "ControllerPublishVolume Errors",
        "Publishing again with an incompatible readonly flag is refused with ALREADY_EXISTS.",
    ),
    (
        "ControllerPublishVolume-attach-limit-resource-exhausted",
        MUST,
        "ControllerPublishVolume Errors",
        "Publishing beyond the node's volume limit is refused with RESOURCE_EXHAUSTED.",
    ),
    (
        "ControllerUnpublishVolume-missing-id-invalid-argument",
        MUST,
        "ControllerUnpublishVolume",
        "ControllerUnpublishVolume without a volume id is refused with INVALID_ARGUMENT.",
    ),
    (
        "ControllerUnpublishVolume-idempotent",
        MUST,
        "ControllerUnpublishVolume",
        "Unpublishing a volume that is not (or no longer) published succeeds.",
    ),
    (
        "ControllerUnpublishVolume-unknown-volume",
        MUST,
        "ControllerUnpublishVolume Errors",
        "Unpublishing a volume that does not exist succeeds or says NOT_FOUND.",
    ),
    # -- controller: modification -----------------------------------------------------------
    (
        "ControllerModifyVolume-missing-fields-invalid-argument",
        MUST,
        "ControllerModifyVolume",
        "ControllerModifyVolume without volume id or mutable parameters is INVALID_ARGUMENT.",
    ),
    (
        "ControllerModifyVolume-unknown-volume-not-found",
        MUST,
        "ControllerModifyVolume Errors",
        "Modifying a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "ControllerModifyVolume-unsupported-invalid-argument",
        MUST,
        "ControllerModifyVolume Errors",
        "Unsupported mutable parameters are refused with INVALID_ARGUMENT.",
    ),
    (
        "ControllerModifyVolume-idempotent",
        MUST,
        "ControllerModifyVolume",
        "Supported mutable parameters apply, and applying them again succeeds.",
    ),
    # -- snapshots --------------------------------------------------------------------------
    (
        "CreateSnapshot-missing-fields-invalid-argument",
        MUST,
        "CreateSnapshot",
        "CreateSnapshot without a name or source volume is refused with INVALID_ARGUMENT.",
    ),
    (
        "CreateSnapshot-returns-snapshot",
        MUST,
        "Snapshot",
        "A snapshot reports its id, its source volume and its creation time.",
    ),
    (
        "CreateSnapshot-idempotent",
        MUST,
        "CreateSnapshot",
        "CreateSnapshot repeated with one name and source returns the same snapshot.",
    ),
    (
        "CreateSnapshot-name-conflict-already-exists",
        MUST,
        "CreateSnapshot Errors",
        "Reusing a snapshot name for another source volume is refused with ALREADY_EXISTS.",
    ),
    (
        "CreateSnapshot-max-length-name",
        MUST,
        "Size Limits",
        "Snapshot names of 128 bytes are accepted.",
    ),
    (
        "CreateSnapshot-unknown-source-not-found",
        MUST,
        "CreateSnapshot Errors",
        "Snapshotting a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "DeleteSnapshot-missing-id-invalid-argument",
        MUST,
        "DeleteSnapshot",
        "DeleteSnapshot without a snapshot id is refused with INVALID_ARGUMENT.",
    ),
    (
        "DeleteSnapshot-unknown-id-ok",
        MUST,
        "DeleteSnapshot",
        "Deleting a snapshot that does not exist succeeds.",
    ),
    (
        "DeleteSnapshot-idempotent",
        MUST,
        "DeleteSnapshot",
        "A deleted snapshot can be deleted again and is no longer listed.",
    ),
    (
        "ListSnapshots-lists-created",
        MUST,
        "ListSnapshots",
        "ListSnapshots shows a new snapshot with its source volume.",
    ),
    (
        "ListSnapshots-filter-by-id",
        MUST,
        "ListSnapshots",
        "Filtering by snapshot id returns only that snapshot.",
    ),
    (
        "ListSnapshots-filter-by-source",
        MUST,
        "ListSnapshots",
        "Filtering by source volume returns only that volume's snapshots.",
    ),
    (
        "ListSnapshots-unknown-filter-empty",
        MUST,
        "ListSnapshots",
        "Filtering by an id that does not exist returns an empty list, not an error.",
    ),
    (
        "ListSnapshots-pagination",
        MUST,
        "ListSnapshots",
        "Pages hold at most max_entries entries, with a next_token while more remain.",
    ),
    (
        "ListSnapshots-invalid-token-aborted",
        MUST,
        "ListSnapshots Errors",
        "An unusable starting_token is refused with ABORTED.",
    ),
    (
        "GetSnapshot-missing-id-invalid-argument",
        MUST,
        "GetSnapshot",
        "GetSnapshot without a snapshot id is refused with INVALID_ARGUMENT.",
    ),
    (
        "GetSnapshot-returns-snapshot",
        MUST,
        "GetSnapshot",
        "GetSnapshot returns the snapshot with its source volume.",
    ),
    (
        "GetSnapshot-unknown-not-found",
        MUST,
        "GetSnapshot Errors",
        "GetSnapshot of a snapshot that does not exist is refused with NOT_FOUND.",
    ),
    # -- expansion --------------------------------------------------------------------------
    (
        "ControllerExpandVolume-missing-fields-invalid-argument",
        MUST,
        "ControllerExpandVolume",
        "ControllerExpandVolume without volume id or capacity range is INVALID_ARGUMENT.",
    ),
    (
        "ControllerExpandVolume-unknown-volume-not-found",
        MUST,
        "ControllerExpandVolume Errors",
        "Expanding a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "ControllerExpandVolume-grows",
        MUST,
        "ControllerExpandVolume",
        "Expansion yields at least the requested capacity, and repeating it succeeds.",
    ),
    (
        "NodeExpandVolume-missing-fields-invalid-argument",
        MUST,
        "NodeExpandVolume",
        "NodeExpandVolume without volume id or volume path is INVALID_ARGUMENT.",
    ),
    (
        "NodeExpandVolume-unknown-volume-not-found",
        MUST,
        "NodeExpandVolume Errors",
        "Expanding an unknown volume on the node is refused with NOT_FOUND.",
    ),
    (
        "NodeExpandVolume-after-publish",
        MUST,
        "NodeExpandVolume",
        "Node expansion of a published volume reaches the requested size.",
    ),
    # -- node -------------------------------------------------------------------------------
    (
        "NodeGetCapabilities-known-types",
        MUST,
        "NodeGetCapabilities",
        "Node capabilities are RPC types the spec defines.",
    ),
    (
        "NodeGetInfo-returns-node",
        MUST,
        "NodeGetInfo",
        "NodeGetInfo reports a node id, a non-negative volume limit and, if offered, topology.",
    ),
    (
        "NodeStageVolume-missing-fields-invalid-argument",
        MUST,
        "NodeStageVolume",
        "NodeStageVolume without volume id, staging path or capability is INVALID_ARGUMENT.",
    ),
    (
        "NodeStageVolume-unknown-volume-not-found",
        MUST,
        "NodeStageVolume Errors",
        "Staging a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "NodeStageVolume-idempotent",
        MUST,
        "NodeStageVolume",
        "Staging a volume again at the same path with the same capability succeeds.",
    ),
    (
        "NodeStageVolume-incompatible-already-exists",
        MUST,
        "NodeStageVolume Errors",
        "Staging again at the same path with an incompatible capability is ALREADY_EXISTS.",
    ),
    (
        "NodeUnstageVolume-missing-fields-invalid-argument",
        MUST,
        "NodeUnstageVolume",
        "NodeUnstageVolume without volume id or staging path is INVALID_ARGUMENT.",
    ),
    (
        "NodeUnstageVolume-idempotent",
        MUST,
        "NodeUnstageVolume",
        "Unstaging a volume that is not (or no longer) staged succeeds.",
    ),
    (
        "NodeUnstageVolume-unknown-volume",
        MUST,
        "NodeUnstageVolume Errors",
        "Unstaging a volume that does not exist says NOT_FOUND or succeeds.",
    ),
    (
        "NodePublishVolume-missing-fields-invalid-argument",
        MUST,
        "NodePublishVolume",
        "NodePublishVolume without volume id, target path or capability is INVALID_ARGUMENT.",
    ),
    (
        "NodePublishVolume-missing-staging-failed-precondition",
        MUST,
        "NodePublishVolume Errors",
        "A staging node refuses NodePublishVolume without staging path: FAILED_PRECONDITION.",
    ),
    (
        "NodePublishVolume-unknown-volume-not-found",
        MUST,
        "NodePublishVolume Errors",
        "Publishing a volume that does not exist is refused with NOT_FOUND.",
    ),
    (
        "NodePublishVolume-round-trip",
        MUST,
        "NodePublishVolume",
        "A published volume is usable at the target, and unpublishing removes the target.",
    ),
    (
        "NodePublishVolume-readonly",
        MUST,
        "NodePublishVolume",
        "A volume published readonly refuses writes through the target path.",
    ),
    (
        "NodePublishVolume-idempotent",
        MUST,
        "NodePublishVolume",
        "Publishing again at the same target with the same arguments succeeds.",
    ),
    (
        "NodePublishVolume-incompatible-already-exists",
        MUST,
        "NodePublishVolume Errors",
        "Publishing at a used target with other arguments is refused with ALREADY_EXISTS.",
    ),
    (
        "NodePublishVolume-single-writer-failed-precondition",
        MUST,
        "NodePublishVolume Errors",
        "A SINGLE_NODE_SINGLE_WRITER volume cannot be published at a second target.",
    ),
    (
        "NodePublishVolume-multi-writer-second-target",
        MUST,
        "NodePublishVolume",
        "A SINGLE_NODE_MULTI_WRITER volume can be published at several targets sharing data.",
    ),
    (
        "NodeUnpublishVolume-missing-fields-invalid-argument",
        MUST,
        "NodeUnpublishVolume",
        "NodeUnpublishVolume without volume id or target path is INVALID_ARGUMENT.",
    ),
    (
        "NodeUnpublishVolume-idempotent",
        MUST,
        "NodeUnpublishVolume",
        "Unpublishing a volume that is not (or no longer) published succeeds.",
    ),
    (
        "NodeUnpublishVolume-unknown-volume",
        MUST,
        "NodeUnpublishVolume Errors",
        "Unpublishing a volume that does not exist says NOT_FOUND or succeeds.",
    ),
    (
        "NodeGetVolumeStats-missing-fields-invalid-argument",
        MUST,
        "NodeGetVolumeStats",
        "NodeGetVolumeStats without volume id or volume path is INVALID_ARGUMENT.",
    ),
    (
        "NodeGetVolumeStats-unknown-volume-not-found",
        MUST,
        "NodeGetVolumeStats Errors",
        "Stats of a volume that does not exist are refused with NOT_FOUND.",
    ),
    (
        "NodeGetVolumeStats-wrong-path-not-found",
        MUST,
        "NodeGetVolumeStats Errors",
        "Stats at a path where the volume is not published are refused with NOT_FOUND.",
    ),
    (
        "NodeGetVolumeStats-reports-usage",
        MUST,
        "NodeGetVolumeStats",
        "Stats list usage with a known unit, and a condition when VOLUME_CONDITION is set.",
    ),
    # -- group controller -------------------------------------------------------------------
    (
        "GroupControllerGetCapabilities-known-types",
        MUST,
        "GroupControllerGetCapabilities",
        "Group controller capabilities are RPC types the spec defines.",
    ),
    (
        "CreateVolumeGroupSnapshot-missing-fields-invalid-argument",
        MUST,
        "CreateVolumeGroupSnapshot",
        "CreateVolumeGroupSnapshot without a name or source volumes is INVALID_ARGUMENT.",
    ),
    (
        "CreateVolumeGroupSnapshot-creates",
        MUST,
        "VolumeGroupSnapshot",
        "A group snapshot has an id, a creation time and one snapshot per source volume.",
    ),
    (
        "CreateVolumeGroupSnapshot-idempotent",
        MUST,
        "CreateVolumeGroupSnapshot",
        "Repeating CreateVolumeGroupSnapshot with one name and volumes returns the same group.",
    ),
    (
        "GetVolumeGroupSnapshot-missing-id-invalid-argument",
        MUST,
        "GetVolumeGroupSnapshot",
        "GetVolumeGroupSnapshot without a group id is refused with INVALID_ARGUMENT.",
    ),
    (
        "GetVolumeGroupSnapshot-unknown-not-found",
        MUST,
        "GetVolumeGroupSnapshot Errors",
        "GetVolumeGroupSnapshot of a group that does not exist is refused with NOT_FOUND.",
    ),
    (
        "GetVolumeGroupSnapshot-returns-group",
        MUST,
        "GetVolumeGroupSnapshot",
        "GetVolumeGroupSnapshot returns the group with its member snapshots.",
    ),
    (
        "DeleteVolumeGroupSnapshot-missing-fields-invalid-argument",
        MUST,
        "DeleteVolumeGroupSnapshot",
        "DeleteVolumeGroupSnapshot without group id or snapshot ids is INVALID_ARGUMENT.",
    ),
    (
        "DeleteVolumeGroupSnapshot-mismatch-invalid-argument",
        MUST,
        "DeleteVolumeGroupSnapshot Errors",
        "Deleting a group with snapshot ids that are not its members is INVALID_ARGUMENT.",
    ),
    (
        "DeleteVolumeGroupSnapshot-idempotent",
        MUST,
        "DeleteVolumeGroupSnapshot",
        "Deleting a group twice succeeds, and the group is gone afterwards.",
    ),
)

_NOTES = {
    "ControllerUnpublishVolume-unknown-volume": (
        "The spec's error table lists NOT_FOUND, while idempotency lets a plugin that can "
        "assume the volume is unpublished answer OK; both are accepted."
    ),
    "NodeUnpublishVolume-unknown-volume": (
        "The spec's error table lists NOT_FOUND; an already-unpublished target may answer OK "
        "(idempotency); both are accepted, any other code fails."
    ),
    "NodeUnstageVolume-unknown-volume": "As NodeUnpublishVolume-unknown-volume.",
    "ControllerExpandVolume-grows": (
        "The spec asks for a capacity of at least the request; csi-sanity demands equality "
        "(kubernetes-csi/csi-test#218). We follow the spec."
    ),
    "GetPluginInfo-name-and-version": (
        "csi-sanity demands letters at both ends of the name; the spec allows digits."
    ),
    "ListVolumes-token-survives-deletion": (
        "Tokens are opaque; the spec does not require this, CO retry logic relies on it "
        "(csi-sanity's disabled pagination case)."
    ),
    "NodePublishVolume-readonly": (
        "For block volumes the write is attempted on the published device node."
    ),
}


def _anchor(section: str) -> str:
    return "spec.md#" + section.lower().replace(" ", "-")


CATALOGUE = Catalogue(
    suite="csi",
    spec_name="Container Storage Interface (CSI)",
    spec_version="1.12.0",
    base_url="https://github.com/container-storage-interface/spec/blob/v1.12.0",
    requirements=tuple(
        Requirement(rid, level, section, summary, _anchor(section), _NOTES.get(rid, ""))
        for rid, level, section, summary in _ROWS
    ),
)
