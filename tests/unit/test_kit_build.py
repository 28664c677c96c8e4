"""The offline test-image kit: contents, reproducibility, cache and rootfs unpacking."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conformance import kit
from conformance.kit import build
from wire import image as img
from wire import mediatypes as mt

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def kit_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private kit cache so the test sees a fresh build."""
    cache = tmp_path / "kit-cache"
    monkeypatch.setenv(kit.CACHE_ENV, str(cache))
    return cache


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _layer_members(image: kit.KitImage, index: int) -> list[tarfile.TarInfo]:
    layer = image.layers()[index]
    data = img.decompress(image.blobs[layer["digest"]], img.compression_of(layer["mediaType"]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


class TestKitBuild:
    """The layout the kit writes."""

    def test_two_builds_give_identical_bytes(self, tmp_path: Path) -> None:
        """Building the kit twice writes the same files with the same bytes (same digests)."""
        first = build.build_layout(tmp_path / "one")
        second = build.build_layout(tmp_path / "two")

        assert _files(first) == _files(second)

    def test_layout_names_every_kit_image(self, kit_cache: Path) -> None:
        """index.json carries one entry per kit reference name."""
        index = json.loads((kit.layout() / "index.json").read_bytes())

        names = [d["annotations"]["org.opencontainers.image.ref.name"] for d in index["manifests"]]
        assert sorted(names) == sorted(kit.NAMES)

    def test_base_applets_are_hard_links_to_busybox(self, kit_cache: Path) -> None:
        """Every applet of the base layer is a hard link to bin/busybox."""
        members = {m.name: m for m in _layer_members(kit.image("base"), 0)}

        assert members["bin/busybox"].isfile()
        assert members["bin/sh"].islnk()
        assert members["bin/sh"].linkname == "bin/busybox"
        assert sum(m.islnk() for m in members.values()) == len(
            build.applet_paths(Path("/bin/busybox"))
        )

    def test_base_has_users_and_supplementary_groups(self, kit_cache: Path) -> None:
        """/etc/passwd has root, kit (1000) and nobody; kit is in two supplementary groups."""
        dest = kit.rootfs("base", kit_cache / "rootfs")

        passwd = (dest / "etc/passwd").read_text()
        group = (dest / "etc/group").read_text()
        assert "kit:x:1000:1000:" in passwd
        assert passwd.startswith("root:x:0:0:")
        assert "nobody:x:65534:" in passwd
        assert group.count(":kit") == 2

    def test_nonroot_runs_as_kit_user(self, kit_cache: Path) -> None:
        """The nonroot image's config names the kit user."""
        assert kit.image("nonroot").config["config"]["User"] == "kit"

    def test_httpd_and_pause_share_the_base_layer(self, kit_cache: Path) -> None:
        """Variants reuse the base layer blob and add one layer on top."""
        base = kit.image("base").layers()[0]["digest"]

        for name in ("pause", "httpd"):
            layers = kit.image(name).layers()
            assert [layers[0]["digest"], len(layers)] == [base, 2]

    def test_multiarch_lists_host_and_second_platform(self, kit_cache: Path) -> None:
        """The multiarch index has the host's platform and one other architecture."""
        index = kit.image("multiarch")

        archs = [m["platform"]["architecture"] for m in index.manifest["manifests"]]
        assert index.media_type == mt.IMAGE_INDEX
        assert archs[0] == build.host_arch()
        assert len(set(archs)) == 2
        assert len(index.children) == 2

    def test_artifact_has_subject_empty_config_and_type(self, kit_cache: Path) -> None:
        """The artifact points at base as subject, uses the empty config and sets artifactType."""
        artifact = kit.image("artifact")

        assert artifact.manifest["subject"]["digest"] == kit.image("base").digest
        assert artifact.manifest["config"] == img.empty_descriptor()
        assert artifact.manifest["artifactType"] == kit.ARTIFACT_TYPE
        assert artifact.blobs[mt.EMPTY_JSON_DIGEST] == b"{}"

    def test_blobs_match_their_digests(self, kit_cache: Path) -> None:
        """Every blob handed out for pushing hashes to its digest."""
        for name in kit.NAMES:
            for digest, data in kit.image(name).blobs.items():
                algorithm = digest.split(":")[0]
                assert img.descriptor("x/y", data, algorithm=algorithm)["digest"] == digest


class TestKitCache:
    """Building once per content, also from parallel processes."""

    def test_layout_is_cached(self, kit_cache: Path) -> None:
        """A second call returns the same directory without rebuilding."""
        first = kit.layout()
        stamp = (first / "index.json").stat().st_mtime_ns

        assert kit.layout() == first
        assert (first / "index.json").stat().st_mtime_ns == stamp

    def test_parallel_processes_build_once(self, kit_cache: Path) -> None:
        """Processes racing on an empty cache all get the same layout; one build remains."""
        code = "from conformance import kit; print(kit.layout())"
        env = {**os.environ, "PYTHONPATH": str(REPO), kit.CACHE_ENV: str(kit_cache)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True
            )
            for _ in range(3)
        ]
        outputs = {p.communicate(timeout=120)[0].strip() for p in procs}

        assert len(outputs) == 1
        assert [p.name for p in kit_cache.iterdir() if p.is_dir()] == [Path(outputs.pop()).name]

    def test_layout_tar_holds_the_layout(self, kit_cache: Path) -> None:
        """layout_tar() packs the cached layout; a second call returns the same file."""
        archive = kit.layout_tar()

        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
        assert {"index.json", "oci-layout"} <= names
        assert kit.layout_tar() == archive


class TestKitRootfs:
    """kit.rootfs() for runtime bundles."""

    def test_rootfs_keeps_hard_links_and_modes(self, kit_cache: Path) -> None:
        """Applets share busybox's inode and are executable."""
        dest = kit.rootfs("base", kit_cache / "r")

        assert (dest / "bin/sh").stat().st_ino == (dest / "bin/busybox").stat().st_ino
        assert (dest / "bin/busybox").stat().st_mode & 0o777 == 0o755
        assert (dest / "tmp").stat().st_mode & 0o7777 == 0o1777

    def test_rootfs_of_artifact_is_refused(self, kit_cache: Path) -> None:
        """The artifact has no filesystem to unpack."""
        with pytest.raises(ValueError, match="artifact"):
            kit.rootfs("artifact", kit_cache / "r")
