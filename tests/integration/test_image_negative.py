"""The image suite's negative checks fail against deliberately broken producers and unpackers.

This module is also the broken tool: ``python test_image_negative.py produce MODE DEST`` writes
a layout with one defect (the kit's base image, then mutated), ``... unpack MODE LAYOUT REF
DEST`` is an unpacker with one flaw. The tests run the suite against them through its own
``--image-producer`` / ``--image-unpacker`` options and read results.json.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shlex
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

THIS = Path(__file__).resolve()
REPO = THIS.parents[2]
if str(REPO) not in sys.path:  # when run as the broken tool
    sys.path.insert(0, str(REPO))

from conformance.core.selfrun import SuiteRun, run_suite  # noqa: E402

# -- the broken producer --------------------------------------------------------------------


def _image_suite(tmp_path: Path, *options: str) -> SuiteRun:
    return run_suite("image", tmp_path / "report", "--level=should", *options)


class _Layout:
    """A copy of the kit's base image in ``dest`` with helpers to rewrite its documents."""

    def __init__(self, dest: Path, ref: str) -> None:
        from conformance import kit

        self.dest = dest
        self.ref = ref
        image = kit.image("base")
        (dest / "blobs/sha256").mkdir(parents=True, exist_ok=True)
        for digest, data in {**image.blobs, image.digest: image.manifest_bytes}.items():
            self.put(data, digest)
        self.manifest = dict(image.manifest)
        self.config = dict(image.config or {})
        if not (dest / "oci-layout").exists():
            (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(self, data: bytes, digest: str | None = None) -> str:
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        algorithm, encoded = digest.split(":", 1)
        path = self.dest / "blobs" / algorithm / encoded
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return digest

    def layer(self) -> bytes:
        return (
            self.dest / "blobs" / "sha256" / self.manifest["layers"][0]["digest"][7:]
        ).read_bytes()

    def finish(self, manifest_bytes: bytes | None = None, descriptor: dict | None = None) -> None:
        if "config" in self.manifest and self.config:
            config_bytes = json.dumps(self.config).encode()
            self.manifest["config"] = {
                **self.manifest["config"],
                "digest": self.put(config_bytes),
                "size": len(config_bytes),
            }
        body = manifest_bytes if manifest_bytes is not None else json.dumps(self.manifest).encode()
        desc = descriptor or {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": self.put(body),
            "size": len(body),
        }
        desc["annotations"] = {"org.opencontainers.image.ref.name": self.ref}
        path = self.dest / "index.json"
        index: dict = {"schemaVersion": 2, "manifests": []}
        index["mediaType"] = "application/vnd.oci.image.index.v1+json"
        if path.exists():
            index = json.loads(path.read_text())
        index["manifests"].append(desc)
        path.write_text(json.dumps(index))


def _wrong_digest(lay: _Layout) -> None:
    layer = lay.manifest["layers"][0]["digest"]
    data = bytearray(lay.layer())
    data[-1] ^= 0xFF
    lay.put(bytes(data), layer)
    lay.finish()


def _wrong_size(lay: _Layout) -> None:
    lay.manifest["layers"][0]["size"] += 1
    lay.finish()


def _bad_media_type(lay: _Layout) -> None:
    lay.manifest["layers"][0]["mediaType"] = "not a media type"
    lay.finish()


def _uppercase_digest(lay: _Layout) -> None:
    body = json.dumps(lay.manifest).encode()
    digest = lay.put(body)
    lay.finish(
        body,
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.upper().replace("SHA256", "sha256"),
            "size": len(body),
        },
    )


def _bad_diff_id(lay: _Layout) -> None:
    lay.config["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}
    lay.finish()


def _rewrite_layer(lay: _Layout, tar_bytes: bytes) -> None:
    blob = gzip.compress(tar_bytes, mtime=0)
    lay.manifest["layers"] = [
        {**lay.manifest["layers"][0], "digest": lay.put(blob), "size": len(blob)}
    ]
    lay.config["rootfs"] = {
        "type": "layers",
        "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()],
    }
    lay.finish()


def _duplicate_entry(lay: _Layout) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for content in (b"one\n", b"two\n"):
            info = tarfile.TarInfo("etc/twice")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    _rewrite_layer(lay, buf.getvalue())


def _truncated_layer(lay: _Layout) -> None:
    blob = lay.layer()[:4096]
    lay.manifest["layers"] = [
        {**lay.manifest["layers"][0], "digest": lay.put(blob), "size": len(blob)}
    ]
    lay.finish()


def _artifact_without_type(lay: _Layout) -> None:
    lay.put(b"{}")
    lay.manifest["config"] = {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
        "size": 2,
    }
    lay.config = {}
    lay.finish()


def _data_mismatch(lay: _Layout) -> None:
    lay.manifest["layers"][0]["data"] = base64.b64encode(b"not the layer").decode()
    lay.finish()


def _huge_size(lay: _Layout) -> None:
    lay.manifest["layers"][0]["size"] = 2**62
    lay.finish()


def _cyclic_index(lay: _Layout) -> None:
    # An index stored under a digest it does not hash to, listing itself as its child:
    # the nearest a content-addressed layout gets to a cycle.
    fake = "sha256:" + "ab" * 32
    index_type = "application/vnd.oci.image.index.v1+json"
    child = {"mediaType": index_type, "digest": fake, "size": 0}
    index = {"schemaVersion": 2, "mediaType": index_type, "manifests": [child]}
    body = json.dumps(index).encode()
    index["manifests"][0]["size"] = len(body)
    body = json.dumps(index).encode()
    lay.put(body, fake)
    lay.finish(
        body,
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": fake, "size": len(body)},
    )


def _layout_version(lay: _Layout) -> None:
    (lay.dest / "oci-layout").write_text('{"imageLayoutVersion":"2.0.0"}')
    lay.finish()


def _duplicate_json_key(lay: _Layout) -> None:
    body = json.dumps(lay.manifest).encode()
    body = body.replace(b'"schemaVersion": 2', b'"schemaVersion": 2, "schemaVersion": 2')
    lay.finish(body)


def _bad_created(lay: _Layout) -> None:
    lay.config["created"] = "yesterday"
    lay.finish()


PRODUCERS: dict[str, tuple[Callable[[_Layout], None], str]] = {
    "wrong-digest": (_wrong_digest, "test_every_blob_file_matches_its_path_digest"),
    "wrong-size": (_wrong_size, "test_descriptor_sizes_match_content_length"),
    "bad-media-type": (_bad_media_type, "test_descriptor_media_types_are_rfc6838"),
    "uppercase-digest": (_uppercase_digest, "test_descriptor_digests_follow_grammar_and_encoding"),
    "bad-diff-id": (_bad_diff_id, "test_diff_ids_are_uncompressed_layer_digests"),
    "duplicate-entry": (_duplicate_entry, "test_layers_have_one_entry_per_path"),
    "truncated-layer": (_truncated_layer, "test_layers_are_tars_compressed_as_declared"),
    "artifact-without-type": (
        _artifact_without_type,
        "test_artifact_manifests_with_empty_config_set_artifact_type",
    ),
    "data-mismatch": (_data_mismatch, "test_embedded_data_matches_digest_and_size"),
    "huge-size": (_huge_size, "test_descriptor_sizes_match_content_length"),
    "cyclic-index": (_cyclic_index, "test_every_blob_file_matches_its_path_digest"),
    "layout-version": (_layout_version, "test_oci_layout_file_declares_version_1_0_0"),
    "duplicate-json-key": (_duplicate_json_key, "test_json_documents_are_i_json"),
    "bad-created": (_bad_created, "test_created_times_are_rfc3339"),
}  # fmt: skip


# -- the broken unpacker --------------------------------------------------------------------


def _naive_unpack(layout: Path, ref: str, dest: Path) -> None:
    """Extracts every layer with tarfile as is: follows '..', symlinks and hard links, and
    writes whiteout files instead of applying them."""
    index = json.loads((layout / "index.json").read_text())
    desc = next(
        d
        for d in index["manifests"]
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref
    )
    manifest = json.loads((layout / "blobs/sha256" / desc["digest"][7:]).read_bytes())
    dest.mkdir(parents=True, exist_ok=True)
    for layer in manifest["layers"]:
        data = gzip.decompress((layout / "blobs/sha256" / layer["digest"][7:]).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                target = dest / member.name
                if target.is_file() and member.isfile():
                    # Write into the existing inode, as naive extractors do.
                    src = tar.extractfile(member)
                    target.write_bytes(src.read() if src else b"")
                    continue
                tar.extract(member, dest, filter="fully_trusted")


# -- the tests ------------------------------------------------------------------------------


def _tool(*args: str) -> str:
    return shlex.join([sys.executable, str(THIS), *args])


def test_broken_producer_fails_every_matching_check(tmp_path: Path) -> None:
    """Each defect a producer writes (one image per defect) makes the check for it fail,
    and no test ends in an error (bad input gives findings, never a crash or a hang)."""
    results = _image_suite(tmp_path, "--image-producer", _tool("produce", "all", "{dest}"))

    got = results.outcomes()
    missed = {
        mode: got.get(f"{test}[producer]")
        for mode, (_, test) in PRODUCERS.items()
        if got.get(f"{test}[producer]") != "failed"
    }
    assert missed == {}
    assert results.with_outcome("error") == set()


@pytest.mark.parametrize("mode", ["wrong-size", "bad-diff-id"])
def test_single_defect_fails_only_its_own_checks(mode: str, tmp_path: Path) -> None:
    """A layout with a single defect fails the check for that defect and nothing unrelated."""
    expected = PRODUCERS[mode][1]

    results = _image_suite(tmp_path, "--image-producer", _tool("produce", mode, "{dest}"))

    assert results.with_outcome("failed") == {f"{expected}[producer]"}


def test_naive_unpacker_fails_whiteout_and_confinement_checks(tmp_path: Path) -> None:
    """An unpacker that extracts layers as plain tars fails the whiteout and escape tests."""
    results = _image_suite(
        tmp_path, "--image-unpacker", _tool("unpack", "naive", "{layout}", "{ref}", "{dest}")
    )

    failed = results.with_outcome("failed")
    assert {
        "test_whiteout_removes_lower_file_and_directory",
        "test_opaque_whiteout_hides_lower_children_wherever_it_sits",
        "test_dotdot_entries_stay_inside",
        "test_writes_through_relative_symlink_stay_inside",
        "test_hard_links_to_outside_are_not_made",
    } <= failed
    assert results.with_outcome("error") == set()


def main(argv: list[str]) -> int:
    """Entry point of the broken tool."""
    if argv[0] == "produce":
        modes = sorted(PRODUCERS) if argv[1] == "all" else [argv[1]]
        dest = Path(argv[2])
        dest.mkdir(parents=True)
        for mode in modes:
            PRODUCERS[mode][0](_Layout(dest, mode))
        return 0
    if argv[0] == "unpack":
        _naive_unpack(Path(argv[2]), argv[3], Path(argv[4]))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
