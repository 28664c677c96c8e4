"""``python -m reference_impl.image``: build, combine, pack, unpack and convert OCI images.

Commands::

    build  --rootfs DIR --layout DIR --ref NAME [--base REF] [--compression gzip|zstd|none]
           [--whiteout PATH]... [--opaque DIR]... [--inline-config]
           [--algorithm sha256|sha512] [--entrypoint JSON] [--cmd JSON] [--env K=V]...
           [--user U] [--workdir D] [--label K=V]... [--expose P]... [--volume D]...
           [--stop-signal S] [--annotation K=V]... [--platform OS/ARCH[/VARIANT]]
    artifact --layout DIR --ref NAME --artifact-type T [--subject REF] [--file PATH:TYPE]...
    index  --layout DIR --ref NAME REF...        multi-platform index of existing refs
    pack   LAYOUT TAR                            layout directory -> reproducible tar
    unpack LAYOUT REF DEST                       safe unpack (layout dir or tar)
    config-to-bundle LAYOUT REF BUNDLE           unpack into BUNDLE/rootfs, write config.json

Exit status 0 on success, 1 when the input is refused (the message names the entry or
blob), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from reference_impl.image import bundle, unpack
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutReader, LayoutWriter, pack_tar

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command's input is refused; printed without a traceback."""


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def _json_list(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CommandError(f"{what} must be a JSON list of strings")
    return value


def _read_json(reader: LayoutReader, digest: str) -> dict[str, Any]:
    data = reader.blob(digest)
    if data is None:
        raise CommandError(f"blob {digest} is not in the layout")
    return json.loads(data)


def _base_image(layout: Path, ref: str | None) -> tuple[list[bytes], dict[str, Any] | None]:
    """The uncompressed layers and the config of ``--base``; nothing without one."""
    if ref is None:
        return [], None
    with LayoutReader(layout) as reader:
        desc = reader.find_ref(ref)
        if desc is None:
            raise CommandError(f"base {ref!r} is not in {layout}")
        manifest = _read_json(reader, desc["digest"])
        config = _read_json(reader, manifest["config"]["digest"])
        tars = []
        for layer in manifest["layers"]:
            data = reader.blob(layer["digest"]) or b""
            tars.append(img.decompress(data, img.compression_of(layer["mediaType"]) or "none"))
    return tars, config


def cmd_build(args: argparse.Namespace) -> None:
    """Build an image from a directory tree (on top of ``--base`` when given)."""
    layout = Path(args.layout)
    base_tars, base_config = _base_image(layout, args.base) if layout.exists() else ([], None)
    whiteouts = img.LayerBuilder()
    for directory in args.opaque or []:
        whiteouts.opaque(directory.strip("/"))
    for path in args.whiteout or []:
        whiteouts.whiteout(path.strip("/"))
    layer = img.tar_from_tree(Path(args.rootfs), first=whiteouts.entries)
    os_name, arch, variant = _platform(args.platform)
    execution = (base_config or {}).get("config") or {}
    env = list(execution.get("Env") or []) + list(args.env or [])
    history = list((base_config or {}).get("history") or [])
    history.append(img.history_entry(f"reference_impl.image build {args.rootfs}"))
    labels = {**(execution.get("Labels") or {}), **_pairs(args.label, "--label")}
    writer = LayoutWriter(layout, algorithm=args.algorithm)
    desc = writer.put_image(
        [*base_tars, layer],
        compression=args.compression,
        architecture=arch,
        os_name=os_name,
        variant=variant,
        user=args.user or execution.get("User"),
        env=env or None,
        entrypoint=_json_list(args.entrypoint, "--entrypoint") or execution.get("Entrypoint"),
        cmd=_json_list(args.cmd, "--cmd") or execution.get("Cmd"),
        working_dir=args.workdir or execution.get("WorkingDir"),
        labels=labels or None,
        exposed_ports=args.expose or list(execution.get("ExposedPorts") or {}),
        volumes=args.volume or list(execution.get("Volumes") or {}),
        stop_signal=args.stop_signal or execution.get("StopSignal"),
        history=history,
        annotations=_pairs(args.annotation, "--annotation") or None,
        inline_config=args.inline_config,
        platform={
            "architecture": arch,
            "os": os_name,
            **({"variant": variant} if variant else {}),
        },
    )
    writer.tag(desc, args.ref)
    writer.save()
    print(desc["digest"])


def _platform(text: str) -> tuple[str, str, str | None]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise CommandError(f"--platform {text!r} is not OS/ARCH[/VARIANT]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def cmd_artifact(args: argparse.Namespace) -> None:
    """Store an artifact manifest (empty config) with files as layers and an optional subject."""
    layout = Path(args.layout)
    writer = LayoutWriter(layout, algorithm=args.algorithm)
    layers = []
    for item in args.file or []:
        path, _, media_type = item.rpartition(":")
        if not path:
            raise CommandError(f"--file {item!r} is not PATH:MEDIATYPE")
        title = {"org.opencontainers.image.title": Path(path).name}
        layers.append(writer.put_blob(Path(path).read_bytes(), media_type, annotations=title))
    writer.write_blob(b"{}", "sha256")
    if not layers:
        layers = [img.empty_descriptor()]
    subject = None
    if args.subject:
        with LayoutReader(layout) as reader:
            found = reader.find_ref(args.subject)
        if found is None:
            raise CommandError(f"subject {args.subject!r} is not in {layout}")
        subject = {k: found[k] for k in ("mediaType", "digest", "size")}
    manifest = img.image_manifest(
        img.empty_descriptor(), layers, subject=subject, artifact_type=args.artifact_type
    )
    desc = writer.put_json(manifest, mt.IMAGE_MANIFEST, artifact_type=args.artifact_type)
    writer.tag(desc, args.ref)
    writer.save()
    print(desc["digest"])


def cmd_index(args: argparse.Namespace) -> None:
    """Combine existing refs into one image index (each entry keeps its platform)."""
    layout = Path(args.layout)
    children = []
    with LayoutReader(layout) as reader:
        for ref in args.refs:
            found = reader.find_ref(ref)
            if found is None:
                raise CommandError(f"{ref!r} is not in {layout}")
            children.append({k: v for k, v in found.items() if k != "annotations"})
    writer = LayoutWriter(layout, algorithm=args.algorithm)
    desc = writer.put_json(img.image_index(children), mt.IMAGE_INDEX)
    writer.tag(desc, args.ref)
    writer.save()
    print(desc["digest"])


def cmd_pack(args: argparse.Namespace) -> None:
    """Pack a layout directory into a tar."""
    pack_tar(Path(args.layout), Path(args.tar))


def cmd_unpack(args: argparse.Namespace) -> None:
    """Unpack an image's layers into a rootfs directory."""
    unpack.unpack(Path(args.layout), args.ref, Path(args.dest))


def cmd_config_to_bundle(args: argparse.Namespace) -> None:
    """Unpack into BUNDLE/rootfs and write BUNDLE/config.json."""
    bundle_dir = Path(args.bundle)
    rootfs = bundle_dir / "rootfs"
    config = unpack.unpack(Path(args.layout), args.ref, rootfs)
    runtime = bundle.runtime_config(config, rootfs)
    (bundle_dir / "config.json").write_text(json.dumps(runtime, indent=2) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reference_impl.image", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build an image from a directory tree")
    build.add_argument("--rootfs", required=True)
    build.add_argument("--layout", required=True)
    build.add_argument("--ref", required=True)
    build.add_argument("--base")
    build.add_argument("--compression", choices=img.COMPRESSIONS, default="gzip")
    build.add_argument("--algorithm", choices=("sha256", "sha512"), default="sha256")
    build.add_argument("--entrypoint")
    build.add_argument("--cmd")
    build.add_argument("--env", action="append")
    build.add_argument("--user")
    build.add_argument("--workdir")
    build.add_argument("--label", action="append")
    build.add_argument("--expose", action="append")
    build.add_argument("--volume", action="append")
    build.add_argument("--stop-signal")
    build.add_argument("--annotation", action="append")
    build.add_argument("--platform", default=f"linux/{unpack._HOST_ARCH}")
    build.add_argument("--whiteout", action="append", help="hide PATH of the base layers")
    build.add_argument("--opaque", action="append", help="hide every base child of DIR")
    build.add_argument("--inline-config", action="store_true", help="embed the config as data")
    build.set_defaults(func=cmd_build)

    artifact = sub.add_parser("artifact", help="store an artifact manifest")
    artifact.add_argument("--layout", required=True)
    artifact.add_argument("--ref", required=True)
    artifact.add_argument("--artifact-type", required=True)
    artifact.add_argument("--subject")
    artifact.add_argument("--file", action="append")
    artifact.add_argument("--algorithm", choices=("sha256", "sha512"), default="sha256")
    artifact.set_defaults(func=cmd_artifact)

    index = sub.add_parser("index", help="combine refs into a multi-platform index")
    index.add_argument("--layout", required=True)
    index.add_argument("--ref", required=True)
    index.add_argument("--algorithm", choices=("sha256", "sha512"), default="sha256")
    index.add_argument("refs", nargs="+")
    index.set_defaults(func=cmd_index)

    pack = sub.add_parser("pack", help="pack a layout directory into a tar")
    pack.add_argument("layout")
    pack.add_argument("tar")
    pack.set_defaults(func=cmd_pack)

    unpack_p = sub.add_parser("unpack", help="unpack an image into a rootfs")
    unpack_p.add_argument("layout")
    unpack_p.add_argument("ref")
    unpack_p.add_argument("dest")
    unpack_p.set_defaults(func=cmd_unpack)

    conv = sub.add_parser("config-to-bundle", help="make a runtime bundle from an image")
    conv.add_argument("layout")
    conv.add_argument("ref")
    conv.add_argument("bundle")
    conv.set_defaults(func=cmd_config_to_bundle)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args)
    except (
        CommandError,
        unpack.UnpackError,
        bundle.ConversionError,
        json.JSONDecodeError,
        OSError,
        KeyError,
    ) as err:
        print(f"{args.command}: {err}", file=sys.stderr)
        return 1
    return 0
