"""The suite's validator on its own: tar layouts, unreadable input, bounded work."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import kit
from conformance.image.validate import MAX_JSON, validate_path
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutWriter, pack_tar


def _findings(path: Path) -> dict[str, list[str]]:
    report = validate_path(path)
    return {req: [f.where for f in found] for req, found in report.findings.items() if found}


def test_kit_layout_dir_and_tar_give_the_same_clean_report(tmp_path: Path) -> None:
    """The kit layout validates clean both as a directory and packed into a tar."""
    tar = pack_tar(kit.layout(), tmp_path / "kit.tar")

    assert _findings(kit.layout()) == {}
    assert _findings(tar) == {}
    assert validate_path(tar).checked == validate_path(kit.layout()).checked


def test_truncated_layout_tar_is_a_finding(tmp_path: Path) -> None:
    """A layout tar cut short yields layout findings instead of an exception."""
    tar = pack_tar(kit.layout(), tmp_path / "kit.tar")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar.read_bytes()[:5000])

    found = _findings(cut)

    assert set(found) >= {"layout-index-json"}


def test_oversized_manifest_is_not_read(tmp_path: Path) -> None:
    """A manifest larger than the bound is reported by size, never parsed."""
    writer = LayoutWriter(tmp_path / "layout")
    body = b'{"schemaVersion":2,"pad":"' + b"x" * (MAX_JSON + 10) + b'"}'
    writer.tag(writer.put_blob(body, mt.IMAGE_MANIFEST), "big")
    writer.save()

    found = _findings(writer.root)

    assert list(found) == ["descriptor-size"]


def test_unknown_media_type_in_index_json_is_not_an_error(tmp_path: Path) -> None:
    """An index.json entry of an unknown type is only checked as a descriptor."""
    writer = LayoutWriter(tmp_path / "layout")
    writer.tag(writer.put_blob(b"opaque", "application/vnd.example.thing.v1"), "thing")
    writer.save()

    assert _findings(writer.root) == {}


def test_unknown_digest_algorithm_is_only_unverifiable(tmp_path: Path) -> None:
    """A digest with an unregistered algorithm is a SHOULD finding, not a grammar one."""
    writer = LayoutWriter(tmp_path / "layout")
    writer.tag(
        {"mediaType": "application/vnd.example.x", "digest": "blake3:" + "a" * 64, "size": 1}
    )
    writer.save()

    found = _findings(writer.root)

    assert set(found) == {"descriptor-registered-algorithm"}


def test_deeply_nested_json_is_a_finding(tmp_path: Path) -> None:
    """JSON nested beyond the parser's recursion limit is reported, not raised."""
    writer = LayoutWriter(tmp_path / "layout")
    body = b'{"a":' * 100000 + b"1" + b"}" * 100000
    writer.tag(writer.put_blob(body, mt.IMAGE_INDEX), "deep")
    writer.save()

    assert "json-i-json" in _findings(writer.root)


def test_findings_name_the_json_path(tmp_path: Path) -> None:
    """A wrong size is reported at the path of the descriptor that declares it."""
    writer = LayoutWriter(tmp_path / "layout")
    desc = writer.put_image([img.LayerBuilder().file("f").tar()])
    manifest = json.loads((writer.blob_path(desc["digest"])).read_bytes())
    manifest["layers"][0]["size"] += 5
    writer.tag(writer.put_json(manifest, mt.IMAGE_MANIFEST), "x")
    writer.save()

    found = _findings(writer.root)

    assert found["descriptor-size"][0].endswith(".layers[0].size")
