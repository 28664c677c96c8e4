"""The committed CRI stubs match what grpcio-tools makes of our api.proto."""

from pathlib import Path

from wire.proto.cri import api_pb2, generate


def test_committed_stubs_are_regenerated_identically(tmp_path: Path) -> None:
    """Stubs are reproducible: regenerating from the .proto yields the committed files."""
    for produced in generate.generate(tmp_path):
        committed = generate.ROOT / generate.PROTO.parent / produced.name
        assert produced.read_bytes() == committed.read_bytes(), f"{committed.name} is stale"


def test_services_carry_the_wire_names() -> None:
    """Package and service names form the gRPC paths real runtimes serve."""
    runtime = api_pb2.DESCRIPTOR.services_by_name["RuntimeService"]
    image = api_pb2.DESCRIPTOR.services_by_name["ImageService"]
    assert api_pb2.DESCRIPTOR.package == "runtime.v1"
    assert runtime.full_name == "runtime.v1.RuntimeService"
    assert len(runtime.methods) == 35
    assert {m.name for m in image.methods} == {
        "ListImages",
        "StreamImages",
        "ImageStatus",
        "PullImage",
        "RemoveImage",
        "ImageFsInfo",
    }


def test_field_numbers_of_image_identity_fields() -> None:
    """Fields added late to the API keep their published numbers (wire compatibility)."""
    spec = api_pb2.ImageSpec.DESCRIPTOR.fields_by_name
    assert spec["user_specified_image"].number == 18
    assert spec["runtime_handler"].number == 19
    assert spec["image_ref"].number == 20
    assert api_pb2.ContainerStatus.DESCRIPTOR.fields_by_name["image_id"].number == 17
