"""Unit tests of the reference image tooling and the shared layout blocks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reference_impl.image import bundle, cli, unpack
from wire import image as img
from wire import mediatypes as mt
from wire.layout import LayoutReader, LayoutWriter, pack_tar


def _layout(root: Path, *layers: bytes, ref: str = "t", **config: object) -> Path:
    writer = LayoutWriter(root)
    writer.tag(writer.put_image(list(layers), **config), ref)  # type: ignore[arg-type]
    writer.save()
    return root


class TestUnpackRefusals:
    """Entries that would land outside the rootfs are refused, naming the entry."""

    @pytest.mark.parametrize(
        ("layers", "entry"),
        [
            ([img.LayerBuilder().file("../x").tar()], "../x"),
            ([img.LayerBuilder().file("/abs/x").tar()], "/abs/x"),
            ([img.LayerBuilder().dir("a").file("a/../../x").tar()], "a/../../x"),
            ([img.LayerBuilder().symlink("s", "/").file("s/x").tar()], "s/x"),
            (
                [img.LayerBuilder().symlink("s", "..").tar(), img.LayerBuilder().file("s/x").tar()],
                "s/x",
            ),
            ([img.LayerBuilder().hardlink("h", "../outside").tar()], "h"),
            ([img.LayerBuilder().symlink("s", "..").file("s/.wh.x").tar()], "s/.wh.x"),
        ],
    )
    def test_escaping_entry_is_refused(
        self, tmp_path: Path, layers: list[bytes], entry: str
    ) -> None:
        """The unpacker raises UnpackError naming the entry, and writes nothing outside."""
        layout = _layout(tmp_path / "layout", *layers)
        dest = tmp_path / "work" / "rootfs"

        with pytest.raises(unpack.UnpackError, match="'" + entry.replace(".", r"\.") + "'"):
            unpack.unpack(layout, "t", dest)

        assert sorted(os.listdir(tmp_path / "work")) == ["rootfs"]

    def test_corrupted_layer_is_refused(self, tmp_path: Path) -> None:
        """A layer whose bytes do not hash to its digest is not applied."""
        layout = _layout(tmp_path / "layout", img.LayerBuilder().file("f", b"x" * 100).tar())
        manifest = json.loads(
            LayoutReader(layout).blob(LayoutReader(layout).find_ref("t")["digest"])
        )
        blob = layout / LayoutReader.blob_rel(manifest["layers"][0]["digest"])
        data = bytearray(blob.read_bytes())
        data[-1] ^= 1
        blob.write_bytes(bytes(data))

        with pytest.raises(unpack.UnpackError, match="does not match its digest"):
            unpack.unpack(layout, "t", tmp_path / "rootfs")

    def test_diff_id_mismatch_is_refused(self, tmp_path: Path) -> None:
        """A layer whose uncompressed digest differs from its diff_id is an error."""
        tar = img.LayerBuilder().file("f").tar()
        config = img.image_config([img.diff_id(b"other")])
        writer = LayoutWriter(tmp_path / "layout")
        layer = writer.put_blob(img.compress(tar, "gzip"), mt.LAYER_TAR_GZIP)
        manifest = img.image_manifest(writer.put_json(config, mt.IMAGE_CONFIG), [layer])
        writer.tag(writer.put_json(manifest, mt.IMAGE_MANIFEST), "t")
        writer.save()

        with pytest.raises(unpack.UnpackError, match="differs from diff_id"):
            unpack.unpack(writer.root, "t", tmp_path / "rootfs")

    def test_deeply_nested_indexes_are_refused(self, tmp_path: Path) -> None:
        """A chain of indexes deeper than the limit ends with an error, not a hang."""
        writer = LayoutWriter(tmp_path / "layout")
        desc = writer.put_image([img.LayerBuilder().file("f").tar()])
        for _ in range(unpack.MAX_INDEX_DEPTH + 1):
            desc = writer.put_json(img.image_index([desc]), mt.IMAGE_INDEX)
        writer.tag(desc, "t")
        writer.save()

        with pytest.raises(unpack.UnpackError, match="nested deeper"):
            unpack.unpack(writer.root, "t", tmp_path / "rootfs")

    def test_truncated_tar_is_refused(self, tmp_path: Path) -> None:
        """A layer cut short is reported as unreadable."""
        tar = img.LayerBuilder().file("f", os.urandom(4096)).tar()[:3000]
        layout = _layout(tmp_path / "layout", tar, compression="none")
        with pytest.raises(unpack.UnpackError, match=r"not a readable tar|differs from diff_id"):
            unpack.unpack(layout, "t", tmp_path / "rootfs")


class TestUnpackChangesets:
    """Whiteouts and replacement rules of layer.md."""

    def test_whiteouts_and_opaque_apply_only_to_lower_layers(self, tmp_path: Path) -> None:
        """.wh. removes lower paths; .wh..wh..opq keeps its own layer's children."""
        lower = img.LayerBuilder().dir("d").file("d/a").file("d/b").dir("o").file("o/old").tar()
        upper = (
            img.LayerBuilder()
            .whiteout("d/a")
            .file("d/new")
            .whiteout("d/new")
            .dir("o")
            .file("o/fresh")
            .opaque("o")
            .tar()
        )
        root = tmp_path / "rootfs"

        unpack.unpack(_layout(tmp_path / "layout", lower, upper), "t", root)

        assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == [
            "d",
            "d/b",
            "d/new",
            "o",
            "o/fresh",
        ]

    def test_file_replaces_directory(self, tmp_path: Path) -> None:
        """A regular file over a directory replaces the directory."""
        lower = img.LayerBuilder().dir("x").file("x/in").tar()
        upper = img.LayerBuilder().file("x", b"file").tar()
        root = tmp_path / "rootfs"

        unpack.unpack(_layout(tmp_path / "layout", lower, upper), "t", root)

        assert (root / "x").read_bytes() == b"file"

    def test_layout_tar_unpacks_like_directory(self, tmp_path: Path) -> None:
        """A layout packed into a tar unpacks the same as the directory."""
        layout = _layout(tmp_path / "layout", img.LayerBuilder().file("f", b"1").tar())
        tar = pack_tar(layout, tmp_path / "layout.tar")

        unpack.unpack(tar, "t", tmp_path / "rootfs")

        assert (tmp_path / "rootfs/f").read_bytes() == b"1"


class TestBundleConversion:
    """Image config -> runtime config.json (conversion.md)."""

    @pytest.fixture
    def rootfs(self, tmp_path: Path) -> Path:
        root = tmp_path / "rootfs"
        (root / "etc").mkdir(parents=True)
        (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nkit:x:1000:1000::/h:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\nkit:x:1000:\naudio:x:29:kit\nvideo:x:44:kit\n")
        return root

    @pytest.mark.parametrize(
        ("user", "expected"),
        [
            ("", {"uid": 0, "gid": 0}),
            ("kit", {"uid": 1000, "gid": 1000, "additionalGids": [29, 44]}),
            ("1000", {"uid": 1000, "gid": 1000, "additionalGids": [29, 44]}),
            ("kit:audio", {"uid": 1000, "gid": 29}),
            ("4242:4343", {"uid": 4242, "gid": 4343}),
            ("4242", {"uid": 4242, "gid": 0}),
        ],
    )
    def test_user_is_resolved_in_the_rootfs(self, rootfs: Path, user: str, expected: dict) -> None:
        """User names and groups come from the image's /etc/passwd and /etc/group."""
        assert bundle.resolve_user(user, rootfs) == expected

    def test_unknown_user_name_is_an_error(self, rootfs: Path) -> None:
        """A name absent from the rootfs cannot be converted."""
        with pytest.raises(bundle.ConversionError, match="nobody2"):
            bundle.resolve_user("nobody2", rootfs)

    def test_passwd_symlink_does_not_escape_rootfs(self, tmp_path: Path) -> None:
        """An /etc/passwd symlink to an absolute path is resolved inside the rootfs."""
        root = tmp_path / "rootfs"
        (root / "etc").mkdir(parents=True)
        (root / "real").write_text("kit:x:7:7::/:/bin/sh\n")
        (root / "etc/passwd").symlink_to("/../../real")

        assert bundle.resolve_user("kit", root)["uid"] == 7

    def test_config_fields_map_to_process_and_annotations(self, rootfs: Path) -> None:
        """Entrypoint+Cmd, Env, WorkingDir, ports, stop signal and labels are converted."""
        config = img.image_config(
            [],
            entrypoint=["/bin/sh", "-c"],
            cmd=["echo hi"],
            env=["A=1"],
            working_dir="/srv",
            exposed_ports=["80/tcp", "53/udp"],
            stop_signal="SIGINT",
            labels={"org.example.l": "v", "org.opencontainers.image.os": "spoof"},
            volumes=["/data"],
        )

        runtime = bundle.runtime_config(config, rootfs)

        assert runtime["process"]["args"] == ["/bin/sh", "-c", "echo hi"]
        assert runtime["process"]["env"][-1] == "A=1"
        assert runtime["process"]["cwd"] == "/srv"
        annotations = runtime["annotations"]
        assert annotations["org.opencontainers.image.exposedPorts"] == "53/udp,80/tcp"
        assert annotations["org.opencontainers.image.stopSignal"] == "SIGINT"
        assert annotations["org.opencontainers.image.os"] == "linux"
        assert annotations["org.example.l"] == "v"
        assert {"destination": "/data"}.items() <= runtime["mounts"][-1].items()


class TestCommandLine:
    """python -m reference_impl.image."""

    def test_build_is_reproducible(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Building the same tree twice prints the same manifest digest."""
        tree = tmp_path / "tree"
        (tree / "d").mkdir(parents=True)
        (tree / "d/f").write_text("x")
        digests = []
        for name in ("a", "b"):
            argv = ["build", "--rootfs", str(tree), "--layout", str(tmp_path / name), "--ref", "r"]
            assert cli.main([*argv, "--compression", "zstd", "--algorithm", "sha512"]) == 0
            digests.append(capsys.readouterr().out.strip())

        assert digests[0] == digests[1]
        assert digests[0].startswith("sha512:")

    def test_refused_unpack_exits_1_naming_the_entry(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A malicious layer gives exit status 1 and a message with the entry name."""
        layout = _layout(tmp_path / "layout", img.LayerBuilder().file("../evil").tar())

        status = cli.main(["unpack", str(layout), "t", str(tmp_path / "work/rootfs")])

        assert status == 1
        assert "'../evil'" in capsys.readouterr().err


def test_whiteout_under_missing_directory_creates_nothing(tmp_path: Path) -> None:
    """A whiteout below a directory that does not exist is a no-op, not a new directory."""
    layer = img.LayerBuilder().file("keep").whiteout("absent/dir/x").tar()
    root = tmp_path / "rootfs"

    unpack.unpack(_layout(tmp_path / "layout", layer), "t", root)

    assert sorted(p.name for p in root.iterdir()) == ["keep"]
