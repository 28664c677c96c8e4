"""Unpackers: crafted changesets applied through the unpacker command under test (layer.md)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from conformance import kit
from conformance.core import Violation, check, check_equal, skip_host
from conformance.image import sandbox as sb
from conformance.image.sandbox import directory, hardlink, layer, reg, symlink
from conformance.image.target import Unpacker
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutWriter


def _unpack(unpacker: Unpacker, tmp_path: Path, *layers: bytes) -> Path:
    """Unpack a crafted image that must succeed; returns the rootfs."""
    box = sb.Sandbox(tmp_path).prepare(list(layers))
    proc = unpacker.run(box.layout, sb.REF, box.dest)
    if proc.returncode != 0:
        raise Violation(
            f"{unpacker.name} exit status",
            "0 for a valid image",
            proc.returncode,
            detail=proc.stderr.strip()[-1000:],
        )
    return box.dest


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _names(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")]


@pytest.mark.requirement("unpack-whiteout")
def test_whiteout_removes_lower_file_and_directory(unpacker: Unpacker, tmp_path: Path) -> None:
    """A whiteout removes the lower file or directory it names and leaves no trace itself."""
    lower = layer(
        directory("d"), reg("d/keep"), reg("d/gone"), directory("d/gonedir"), reg("d/gonedir/f")
    )
    upper = layer(reg("d/.wh.gone", b""), reg("d/.wh.gonedir", b""))

    root = _unpack(unpacker, tmp_path, lower, upper)

    check(_exists(root / "d/keep"), "rootfs/d/keep", "kept", "missing")
    check(not _exists(root / "d/gone"), "rootfs/d/gone", "removed by d/.wh.gone", "present")
    check(
        not _exists(root / "d/gonedir"), "rootfs/d/gonedir", "removed by d/.wh.gonedir", "present"
    )
    leftovers = [n for n in _names(root) if ".wh." in n]
    check_equal(leftovers, [], "rootfs whiteout entries")


@pytest.mark.requirement("unpack-whiteout-lower-only")
def test_whiteout_does_not_hide_entries_of_its_own_layer(
    unpacker: Unpacker, tmp_path: Path
) -> None:
    """A path added in the same layer as its whiteout stays; only the lower one is hidden."""
    lower = layer(directory("a"), reg("a/old"))
    upper = layer(reg("a/new", b"new\n"), reg("a/.wh.new", b""), reg("a/.wh.old", b""))

    root = _unpack(unpacker, tmp_path, lower, upper)

    check(_exists(root / "a/new"), "rootfs/a/new", "kept (same layer as its whiteout)", "missing")
    check(not _exists(root / "a/old"), "rootfs/a/old", "removed by a/.wh.old", "present")


@pytest.mark.requirement("unpack-opaque-whiteout")
def test_opaque_whiteout_hides_lower_children_wherever_it_sits(
    unpacker: Unpacker, tmp_path: Path
) -> None:
    """An opaque whiteout listed after a new child still hides only the lower children."""
    lower = layer(directory("o"), reg("o/old"), directory("o/sub"), reg("o/sub/deep"))
    upper = layer(directory("o"), reg("o/fresh"), reg("o/.wh..wh..opq", b""))

    root = _unpack(unpacker, tmp_path, lower, upper)

    check(_exists(root / "o/fresh"), "rootfs/o/fresh", "kept (same layer)", "missing")
    for gone in ("o/old", "o/sub"):
        check(not _exists(root / gone), f"rootfs/{gone}", "hidden by o/.wh..wh..opq", "present")
    check(not _exists(root / "o/.wh..wh..opq"), "rootfs/o/.wh..wh..opq", "not created", "present")


@pytest.mark.requirement("unpack-hardlinks")
def test_hard_links_share_one_inode_across_layers(unpacker: Unpacker, tmp_path: Path) -> None:
    """Hard links, in the same layer and to a lower layer's file, point at one inode."""
    lower = layer(directory("h"), reg("h/orig", b"data\n"), hardlink("h/same", "h/orig"))
    upper = layer(directory("h"), hardlink("h/cross", "h/orig"))

    root = _unpack(unpacker, tmp_path, lower, upper)

    inodes = {
        n: (root / "h" / n).lstat().st_ino
        for n in ("orig", "same", "cross")
        if _exists(root / "h" / n)
    }
    check_equal(len(inodes), 3, "rootfs/h entries")
    check(len(set(inodes.values())) == 1, "rootfs/h/{orig,same,cross}", "one inode", inodes)


def _single_image_layout(root: Path, name: str) -> Path:
    """A layout holding only the kit image ``name`` (blobs copied byte for byte)."""
    image = kit.image(name)
    writer = LayoutWriter(root)
    for digest, data in image.blobs.items():
        writer.write_blob(data, digest.split(":")[0])
    writer.write_blob(image.manifest_bytes, image.digest.split(":")[0])
    writer.tag(image.descriptor, name)
    writer.save()
    return root


@pytest.mark.requirement("unpack-hardlinks")
def test_kit_base_applets_are_hard_links(unpacker: Unpacker, tmp_path: Path) -> None:
    """Unpacking the kit's base image keeps every applet a hard link of busybox."""
    layout = _single_image_layout(tmp_path / "layout", "base")
    dest = tmp_path / "rootfs"

    proc = unpacker.run(layout, "base", dest)

    check_equal(proc.returncode, 0, f"{unpacker.name} exit status")
    busybox = (dest / "bin/busybox").stat()
    check_equal((dest / "bin/sh").stat().st_ino, busybox.st_ino, "rootfs/bin/sh inode")
    check(busybox.st_nlink > 100, "rootfs/bin/busybox link count", "> 100", busybox.st_nlink)


@pytest.mark.requirement("unpack-index-json-tolerance")
def test_ref_is_found_beside_nested_index_and_unknown_types(
    unpacker: Unpacker, tmp_path: Path
) -> None:
    """A ref resolves in an index.json that also lists a nested index and an unknown type."""
    layout = _single_image_layout(tmp_path / "layout", "base")
    writer = LayoutWriter(layout)
    base = kit.image("base")
    nested = writer.put_json(img.image_index([base.descriptor]), mt.IMAGE_INDEX)
    writer.tag(nested, "nested")
    writer.tag(writer.put_blob(b"opaque\n", "application/vnd.example.unknown.v1"), "unknown")
    writer.save()
    dest = tmp_path / "rootfs"

    proc = unpacker.run(layout, "base", dest)

    check_equal(proc.returncode, 0, f"{unpacker.name} exit status")
    check((dest / "bin/busybox").is_file(), "rootfs/bin/busybox", "unpacked", "missing")


@pytest.mark.requirement("unpack-symlinks")
def test_symlink_chains_keep_exact_targets(unpacker: Unpacker, tmp_path: Path) -> None:
    """Relative, absolute, chained and dangling symlinks keep their exact target text."""
    links = {"s/l1": "l2", "s/l2": "target", "s/abs": "/s/target", "s/dangling": "../nowhere/x"}
    lower = layer(directory("s"), reg("s/target"), *(symlink(n, t) for n, t in links.items()))

    root = _unpack(unpacker, tmp_path, lower)

    for name, target in links.items():
        path = root / name
        check(path.is_symlink(), f"rootfs/{name}", "a symlink", "not a symlink")
        check_equal(os.readlink(path), target, f"rootfs/{name} target")


@pytest.mark.requirement("unpack-attributes")
def test_modes_and_ownership_are_applied(unpacker: Unpacker, tmp_path: Path) -> None:
    """setuid, sticky, private and read-only modes and numeric owners land on disk."""
    modes = {"m/setuid": 0o4755, "m/private": 0o600, "m/sticky": 0o1777, "m/ro": 0o555}
    lower = layer(
        directory("m"),
        reg("m/setuid", mode=modes["m/setuid"]),
        reg("m/private", mode=modes["m/private"]),
        directory("m/sticky", modes["m/sticky"]),
        directory("m/ro", modes["m/ro"]),
        reg("m/ro/inside"),
        reg("m/owned", mode=0o640, uid=1000, gid=1001),
    )

    root = _unpack(unpacker, tmp_path, lower)

    for name, mode in modes.items():
        got = stat.S_IMODE((root / name).lstat().st_mode)
        check_equal(oct(got), oct(mode), f"rootfs/{name} mode")
    check(_exists(root / "m/ro/inside"), "rootfs/m/ro/inside", "created", "missing")
    if os.geteuid() != 0:
        skip_host("ownership is only checked when the suite runs as root")
    st = (root / "m/owned").lstat()
    check_equal((st.st_uid, st.st_gid), (1000, 1001), "rootfs/m/owned uid:gid")


@pytest.mark.requirement("unpack-replace")
def test_entries_replace_paths_of_another_type(unpacker: Unpacker, tmp_path: Path) -> None:
    """A file over a directory, a directory over a file and a file over a symlink replace them."""
    lower = layer(
        directory("r"),
        directory("r/was-dir"),
        reg("r/was-dir/child"),
        reg("r/was-file"),
        reg("r/target"),
        symlink("r/was-link", "target"),
    )
    upper = layer(
        directory("r"),
        reg("r/was-dir", b"now a file\n"),
        directory("r/was-file"),
        reg("r/was-link", b"now a file\n"),
    )

    root = _unpack(unpacker, tmp_path, lower, upper)

    check((root / "r/was-dir").is_file(), "rootfs/r/was-dir", "a regular file", "not a file")
    check((root / "r/was-file").is_dir(), "rootfs/r/was-file", "a directory", "not a directory")
    link = root / "r/was-link"
    check(link.is_file() and not link.is_symlink(), "rootfs/r/was-link", "a regular file", "a link")
    check_equal(
        (root / "r/target").read_bytes(), b"x\n", "rootfs/r/target content (not written through)"
    )


@pytest.mark.requirement("unpack-replace")
def test_directory_over_directory_keeps_content_and_takes_mode(
    unpacker: Unpacker, tmp_path: Path
) -> None:
    """A directory entry over a directory keeps its children and applies the new mode."""
    lower = layer(directory("dd", 0o755), reg("dd/child"))
    upper = layer(directory("dd", 0o700))

    root = _unpack(unpacker, tmp_path, lower, upper)

    check(_exists(root / "dd/child"), "rootfs/dd/child", "kept", "missing")
    check_equal(oct(stat.S_IMODE((root / "dd").stat().st_mode)), oct(0o700), "rootfs/dd mode")


# -- malicious layers: refuse or neutralise, never touch anything outside ------------------


def _escape_attempt(unpacker: Unpacker, tmp_path: Path, layers: list[bytes]) -> None:
    box = sb.Sandbox(tmp_path).prepare(layers)

    proc = unpacker.run(box.layout, sb.REF, box.dest)

    changes = box.outside_changes()
    outcome = "refused" if proc.returncode != 0 else "accepted"
    check(
        not changes,
        f"{box.work} (outside the rootfs)",
        "no change outside the destination",
        f"{outcome}, and changed: {', '.join(changes)}",
    )
    check_equal(box.secret.read_bytes(), sb.SECRET, f"{box.secret} content")
    check(
        box.secret.stat().st_nlink == 1,
        str(box.secret),
        "no new hard link",
        box.secret.stat().st_nlink,
    )


@pytest.mark.requirement("unpack-confinement")
def test_dotdot_entries_stay_inside(unpacker: Unpacker, tmp_path: Path) -> None:
    """Entries named ../x or a/../../x do not land outside the destination."""
    _escape_attempt(
        unpacker,
        tmp_path,
        [layer(reg("../outside/dotdot"), directory("a"), reg("a/../../outside/dotdot2"))],
    )


@pytest.mark.requirement("unpack-confinement")
def test_absolute_entries_stay_inside(unpacker: Unpacker, tmp_path: Path) -> None:
    """An entry with an absolute name is not written at that absolute host path."""
    target = tmp_path / "work" / "outside" / "absolute"
    _escape_attempt(unpacker, tmp_path, [layer(reg(str(target)))])


@pytest.mark.requirement("unpack-confinement")
def test_writes_through_relative_symlink_stay_inside(unpacker: Unpacker, tmp_path: Path) -> None:
    """A file written below a symlink pointing at ../outside does not reach outside."""
    _escape_attempt(
        unpacker,
        tmp_path,
        [layer(symlink("esc", "../outside")), layer(reg("esc/pwned"))],
    )


@pytest.mark.requirement("unpack-confinement")
def test_writes_through_symlink_in_same_layer_stay_inside(
    unpacker: Unpacker, tmp_path: Path
) -> None:
    """A symlink and a write through it in one layer do not reach outside."""
    _escape_attempt(unpacker, tmp_path, [layer(symlink("esc", "../outside"), reg("esc/pwned"))])


@pytest.mark.requirement("unpack-confinement")
def test_writes_through_absolute_symlink_stay_inside(unpacker: Unpacker, tmp_path: Path) -> None:
    """A write below a symlink to an absolute host path does not reach that path."""
    outside = tmp_path / "work" / "outside"
    _escape_attempt(
        unpacker, tmp_path, [layer(symlink("abs", str(outside))), layer(reg("abs/pwned"))]
    )


@pytest.mark.requirement("unpack-confinement")
def test_writes_through_symlink_chain_stay_inside(unpacker: Unpacker, tmp_path: Path) -> None:
    """A write through a chain of symlinks ending outside does not reach outside."""
    chain = layer(symlink("c1", "c2"), symlink("c2", "../outside"))
    _escape_attempt(unpacker, tmp_path, [chain, layer(reg("c1/pwned"))])


@pytest.mark.requirement("unpack-confinement")
def test_hard_links_to_outside_are_not_made(unpacker: Unpacker, tmp_path: Path) -> None:
    """A hard link naming ../secret does not link to (or change) the file outside."""
    _escape_attempt(
        unpacker, tmp_path, [layer(hardlink("hl", "../secret")), layer(reg("hl", b"pwned\n"))]
    )


@pytest.mark.requirement("unpack-confinement")
def test_whiteouts_do_not_delete_outside(unpacker: Unpacker, tmp_path: Path) -> None:
    """Whiteouts named ../.wh.victim or through a symlink do not delete files outside."""
    layers = [
        layer(reg("file"), symlink("up", "..")),
        layer(reg("../.wh.victim", b""), reg("up/.wh.victim", b"")),
    ]
    _escape_attempt(unpacker, tmp_path, layers)


@pytest.mark.requirement("unpack-confinement")
def test_unpacker_does_not_hang_on_truncated_layer(unpacker: Unpacker, tmp_path: Path) -> None:
    """A truncated layer ends the unpacker (refusal) without touching anything outside."""
    noise = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(2048))
    whole = layer(reg("big", noise))
    box = sb.Sandbox(tmp_path).prepare([whole])
    blob = next(p for p in (box.layout / "blobs/sha256").iterdir() if p.stat().st_size > 1000)
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])

    proc = unpacker.run(box.layout, sb.REF, box.dest)

    check(proc.returncode != 0, f"{unpacker.name} exit status", "non-zero for a truncated layer", 0)
    check_equal(box.outside_changes(), [], "paths outside the rootfs")
