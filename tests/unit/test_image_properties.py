"""Property tests: the suite's validator agrees with the spec on generated documents.

Valid manifests, indexes and configs (random layers in every compression, annotations,
platforms, artifacts with subjects) must give no finding at all; each single mutation that
breaks one rule must give a finding for exactly the requirement that rule belongs to.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.image.validate import validate
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutReader, LayoutWriter

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_files = st.dictionaries(_name, st.binary(max_size=64), max_size=3)
_key = st.builds(lambda a, b, c: f"{a}.{b}.{c}", _name, _name, _name)
_annotations = st.dictionaries(_key, st.text(max_size=12), max_size=3)
_env = st.lists(st.builds(lambda k, v: f"{k.upper()}={v}", _name, st.text(max_size=8)), max_size=3)
_ports = st.lists(
    st.builds(
        lambda p, proto: f"{p}{proto}", st.integers(1, 65535), st.sampled_from(["", "/tcp", "/udp"])
    ),
    max_size=2,
)


@st.composite
def images(draw: st.DrawFn) -> dict[str, Any]:
    """Parameters of one valid image."""
    return {
        "layers": draw(st.lists(_files, min_size=1, max_size=3)),
        "compression": draw(st.sampled_from(img.COMPRESSIONS)),
        "algorithm": draw(st.sampled_from(["sha256", "sha512"])),
        "arch": draw(st.sampled_from(["amd64", "arm64", "ppc64le", "s390x"])),
        "env": draw(_env),
        "ports": draw(_ports),
        "labels": draw(_annotations),
        "annotations": draw(_annotations),
        "inline_config": draw(st.booleans()),
    }


def _layer_tar(files: dict[str, bytes]) -> bytes:
    builder = img.LayerBuilder()
    for name, data in sorted(files.items()):
        builder.file(f"f-{name}", data)
    return builder.tar()


def _documents(params: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    tars = [_layer_tar(files) for files in params["layers"]]
    config = img.image_config(
        [img.diff_id(t, params["algorithm"]) for t in tars],
        architecture=params["arch"],
        env=params["env"] or None,
        exposed_ports=params["ports"],
        labels=params["labels"] or None,
    )
    return config, tars


Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _write(
    root: Path,
    params: dict[str, Any],
    mutate: Mutation | None = None,
    *,
    artifact: bool = False,
) -> Path:
    """Write one image (and an index and an artifact over it); ``mutate(manifest, config)``
    changes the documents before they are stored."""
    alg = params["algorithm"]
    writer = LayoutWriter(root, algorithm=alg)
    config, tars = _documents(params)
    layers = [
        writer.put_blob(
            img.compress(t, params["compression"]), img.LAYER_MEDIA_TYPES[params["compression"]]
        )
        for t in tars
    ]
    placeholder = {"mediaType": mt.IMAGE_CONFIG, "digest": "pending", "size": 0}
    manifest = img.image_manifest(placeholder, layers, annotations=params["annotations"] or None)
    if mutate is not None:
        mutate(manifest, config)
    raw_config = img.canonical_json(config)
    writer.write_blob(raw_config, alg)
    if manifest["config"].get("digest") == "pending":
        inline = params["inline_config"]
        manifest["config"] = img.descriptor(
            mt.IMAGE_CONFIG, raw_config, algorithm=alg, inline=inline
        )
    platform = {"architecture": params["arch"], "os": "linux"}
    desc = writer.put_json(manifest, mt.IMAGE_MANIFEST, platform=platform)
    writer.tag(desc, "image")
    index = writer.put_json(img.image_index([desc]), mt.IMAGE_INDEX)
    writer.tag(index, "index")
    if artifact:
        writer.write_blob(b"{}", "sha256")
        subject = {k: desc[k] for k in ("mediaType", "digest", "size")}
        art = img.image_manifest(
            img.empty_descriptor(),
            [img.empty_descriptor()],
            subject=subject,
            artifact_type="application/vnd.example.test",
        )
        writer.tag(
            writer.put_json(art, mt.IMAGE_MANIFEST, artifact_type="application/vnd.example.test"),
            "art",
        )
    writer.save()
    return root


def _findings(root: Path) -> dict[str, list[str]]:
    with LayoutReader(root) as reader:
        report = validate(reader)
    return {
        req: [f"{f.where}: {f.got}" for f in found]
        for req, found in report.findings.items()
        if found
    }


@SETTINGS
@given(images(), st.booleans())
def test_valid_images_give_no_finding(params: dict[str, Any], artifact: bool) -> None:
    """Any generated valid image, with its index and an artifact over it, gives no finding."""
    with tempfile.TemporaryDirectory() as tmp:
        root = _write(Path(tmp) / "layout", params, artifact=artifact)

        assert _findings(root) == {}


def _set(path: list[str | int], value: Any, target: str = "manifest") -> Mutation:
    def mutate(manifest: dict[str, Any], config: dict[str, Any]) -> None:
        doc = manifest if target == "manifest" else config
        for key in path[:-1]:
            doc = doc[key]  # type: ignore[index]
        doc[path[-1]] = value  # type: ignore[index]

    return mutate


def _upper_digest(manifest: dict[str, Any], config: dict[str, Any]) -> None:
    layer = manifest["layers"][0]
    algorithm, encoded = layer["digest"].split(":")
    layer["digest"] = f"{algorithm}:{encoded.upper()}"


def _grow_size(manifest: dict[str, Any], config: dict[str, Any]) -> None:
    manifest["layers"][0]["size"] += 1


def _empty_config_without_type(manifest: dict[str, Any], config: dict[str, Any]) -> None:
    manifest["config"] = img.empty_descriptor()


def _wrong_diff_id(manifest: dict[str, Any], config: dict[str, Any]) -> None:
    algorithm = config["rootfs"]["diff_ids"][0].split(":")[0]
    config["rootfs"]["diff_ids"][0] = img.diff_id(b"not the layer", algorithm)


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "schema-version-3": (_set(["schemaVersion"], 3), "manifest-schema-version"),
    "index-media-type-in-manifest": (_set(["mediaType"], mt.IMAGE_INDEX), "manifest-mediatype"),
    "uppercase-hex": (_upper_digest, "descriptor-digest"),
    "size-off-by-one": (_grow_size, "descriptor-size"),
    "non-string-annotation": (_set(["annotations"], {"org.example.n": 1}), "annotations-rules"),
    "reserved-annotation-key": (
        _set(["annotations"], {"org.opencontainers.image.made-up": "x"}),
        "annotations-reserved",
    ),
    "media-type-with-space": (_set(["layers", 0, "mediaType"], "a layer"), "descriptor-mediatype"),
    "env-without-equals": (_set(["config", "Env"], ["NOVALUE"], "config"), "config-env"),
    "rootfs-type": (_set(["rootfs", "type"], "snapshots", "config"), "config-rootfs-type"),
    "created-not-rfc3339": (_set(["created"], "2020-13-45", "config"), "config-created"),
    "bad-port": (_set(["config", "ExposedPorts"], {"http": {}}, "config"), "config-exposed-ports"),
    "missing-os": (_set(["os"], None, "config"), "config-fields"),
    "empty-config-no-artifact-type": (_empty_config_without_type, "manifest-artifacttype"),
    "wrong-diff-id": (_wrong_diff_id, "config-diff-ids"),
}


@SETTINGS
@given(images(), st.sampled_from(sorted(MUTATIONS)))
def test_each_mutation_is_found_under_its_requirement(params: dict[str, Any], name: str) -> None:
    """A single broken rule yields a finding for the requirement that rule belongs to."""
    mutate, requirement = MUTATIONS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root = _write(Path(tmp) / "layout", params, mutate)

        found = _findings(root)

    assert requirement in found, found


@SETTINGS
@given(
    st.lists(st.sampled_from(["amd64", "arm64", "riscv64"]), min_size=1, max_size=4), _annotations
)
def test_indexes_with_any_platform_mix_are_valid(
    archs: list[str], annotations: dict[str, str]
) -> None:
    """Indexes over several platform images (nested once) give no finding."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = LayoutWriter(Path(tmp) / "layout")
        tar = _layer_tar({"a": b"1"})
        descs = [writer.put_image([tar], architecture=a) for a in archs]
        inner = writer.put_json(
            img.image_index(descs, annotations=annotations or None), mt.IMAGE_INDEX
        )
        outer = writer.put_json(img.image_index([inner]), mt.IMAGE_INDEX)
        writer.tag(outer, "nested")
        writer.save()

        assert _findings(writer.root) == {}


def test_mutations_cover_distinct_requirements() -> None:
    """The mutation table exercises many requirements, not one."""
    assert len({req for _, req in MUTATIONS.values()}) == len(MUTATIONS)


def _index_layout(root: Path, archs: list[str], mutate: Callable[[dict[str, Any]], None]) -> Path:
    writer = LayoutWriter(root)
    tar = _layer_tar({"a": b"1"})
    descs = [writer.put_image([tar], architecture=a) for a in archs]
    index = img.image_index(descs)
    mutate(index)
    writer.tag(writer.put_json(index, mt.IMAGE_INDEX), "index")
    writer.save()
    return root


def _drop_arch(index: dict[str, Any]) -> None:
    del index["manifests"][0]["platform"]["architecture"]


def _platform_mismatch(index: dict[str, Any]) -> None:
    index["manifests"][0]["platform"]["architecture"] = "mips64"


INDEX_MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "schema-version-1": (lambda i: i.update(schemaVersion=1), "index-schema-version"),
    "manifest-type-on-index": (lambda i: i.update(mediaType=mt.IMAGE_MANIFEST), "index-mediatype"),
    "manifests-not-list": (lambda i: i.update(manifests={}), "index-fields"),
    "platform-without-architecture": (_drop_arch, "index-platform"),
    "platform-unknown-os": (
        lambda i: i["manifests"][0]["platform"].update(os="beos"),
        "platform-values",
    ),
    "platform-not-the-config": (_platform_mismatch, "platform-matches-config"),
    "bad-artifact-type": (lambda i: i.update(artifactType="no type"), "descriptor-artifacttype"),
}


@SETTINGS
@given(
    st.lists(st.sampled_from(["amd64", "arm64", "riscv64"]), min_size=1, max_size=3),
    st.sampled_from(sorted(INDEX_MUTATIONS)),
)
def test_each_index_mutation_is_found_under_its_requirement(archs: list[str], name: str) -> None:
    """A single broken index rule yields a finding for the requirement it belongs to."""
    mutate, requirement = INDEX_MUTATIONS[name]
    with tempfile.TemporaryDirectory() as tmp:
        found = _findings(_index_layout(Path(tmp) / "layout", archs, mutate))

    assert requirement in found, found
