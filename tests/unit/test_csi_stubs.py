"""The committed CSI stubs equal a fresh generation from csi.proto, and the proto's wire facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from wire.proto.csi import csi_pb2, generate

STUB_DIR = Path(generate.__file__).parent


@pytest.mark.parametrize("name", generate.OUTPUTS)
def test_committed_stub_matches_fresh_generation(tmp_path, name):
    """Regenerating from csi.proto reproduces the committed stub byte for byte."""
    generate.generate(tmp_path)

    fresh = (tmp_path / "wire/proto/csi" / name).read_bytes()
    assert fresh == (STUB_DIR / name).read_bytes(), (
        f"{name} is stale: run python -m {generate.__name__}"
    )


def test_proto_declares_every_service_with_its_rpc_count():
    """csi.v1 has the five services of CSI 1.12 with 3, 15, 4, 2 and 8 RPCs."""
    services = {s.name: len(s.methods) for s in csi_pb2.DESCRIPTOR.services_by_name.values()}

    assert csi_pb2.DESCRIPTOR.package == "csi.v1"
    assert services == {
        "Identity": 3,
        "Controller": 15,
        "GroupController": 4,
        "SnapshotMetadata": 2,
        "Node": 8,
    }


def test_secret_fields_carry_the_csi_secret_option():
    """Every map named secrets is marked csi_secret (extension 1059), nothing else is."""
    marked, secrets = set(), set()
    for message in _all_messages(csi_pb2.DESCRIPTOR.message_types_by_name.values()):
        for field in message.fields:
            if field.GetOptions().Extensions[csi_pb2.csi_secret]:
                marked.add(f"{message.name}.{field.name}")
            if field.name == "secrets":
                secrets.add(f"{message.name}.{field.name}")

    assert marked == secrets
    assert len(secrets) == 19
    assert csi_pb2.csi_secret.number == 1059
    assert csi_pb2.alpha_field.number == 1060


@pytest.mark.parametrize(
    ("message", "field", "number"),
    [
        ("CreateVolumeRequest", "mutable_parameters", 8),
        ("NodePublishVolumeRequest", "volume_context", 8),
        ("NodeExpandVolumeRequest", "secrets", 6),
        ("Snapshot", "group_snapshot_id", 6),
        ("GetCapacityResponse", "minimum_volume_size", 3),
        ("ListSnapshotsRequest", "snapshot_id", 4),
        ("GetMetadataDeltaRequest", "max_results", 4),
    ],
)
def test_field_numbers_match_the_spec(message, field, number):
    """Spot checks of field numbers that differ from declaration order guesses."""
    descriptor = csi_pb2.DESCRIPTOR.message_types_by_name[message]

    assert descriptor.fields_by_name[field].number == number


def _all_messages(messages):
    for message in messages:
        yield message
        yield from _all_messages(message.nested_types)
