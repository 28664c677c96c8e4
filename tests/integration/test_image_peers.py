"""The image suite against the real peers on this host: skopeo and umoci as producers, umoci
and oci-image-tool as unpackers. Each peer's failures are its declared deviations
(conformance/image/deviations/<peer>.yaml); anything else failing is a regression here or there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.core.selfrun import SuiteRun, run_suite

pytestmark = pytest.mark.peer

UMOCI_NEW = "sh -c 'umoci init --layout {dest} && umoci new --image {dest}:fresh'"
UMOCI_REPACK = (
    "sh -c 'mkdir -p {dest} && cp -a {kit}/. {dest}"
    " && umoci unpack --image {dest}:pause {dest}.bundle"
    " && echo changed > {dest}.bundle/rootfs/etc/hostname"
    " && rm {dest}.bundle/rootfs/pause"
    " && umoci repack --image {dest}:pause2 {dest}.bundle'"
)


def _image_suite(tmp_path: Path, *options: str) -> SuiteRun:
    return run_suite("image", tmp_path / "report", "--level=should", *options)


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def _deviated_requirements(results: SuiteRun) -> set[str]:
    return {
        t["deviation"]["requirement"] for t in results.tests if t["outcome"] == "known-deviation"
    }


class TestProducers:
    """Layouts written by the peers, validated by the suite."""

    def test_skopeo_copy_of_kit_base(self, tmp_path: Path) -> None:
        """skopeo's copy validates apart from the index.json mediaType it leaves out."""
        _needs("skopeo")

        results = _image_suite(
            tmp_path, "--image-producer", "skopeo copy oci:{kit}:base oci:{dest}:base"
        )

        assert results.document["target"]["name"] == "skopeo"
        assert results.with_outcome("failed", "error") == set()
        assert _deviated_requirements(results) == {"index-mediatype-present"}
        assert "test_diff_ids_are_uncompressed_layer_digests[producer]" in results.with_outcome(
            "passed"
        )

    def test_skopeo_copy_of_multiarch_index(self, tmp_path: Path) -> None:
        """skopeo copies the whole multi-platform index; platforms still match the configs."""
        _needs("skopeo")

        results = _image_suite(
            tmp_path,
            "--image-producer",
            "skopeo copy --multi-arch all oci:{kit}:multiarch oci:{dest}:multi",
        )

        assert results.with_outcome("failed", "error") == set()
        assert "test_platform_matches_the_image_config[producer]" in results.with_outcome("passed")

    def test_umoci_new_image(self, tmp_path: Path) -> None:
        """umoci init+new writes an empty image: only SHOULD-level deviations remain."""
        _needs("umoci")

        results = _image_suite(tmp_path, "--image-producer", UMOCI_NEW, "--implementation", "umoci")

        assert results.with_outcome("failed", "error") == set()
        assert _deviated_requirements(results) == {
            "index-mediatype-present",
            "manifest-mediatype-present",
            "manifest-layers-nonempty",
        }

    def test_umoci_repack_with_whiteout(self, tmp_path: Path) -> None:
        """umoci repack of a changed kit image (a deleted file becomes a whiteout) validates."""
        _needs("umoci")

        results = _image_suite(
            tmp_path, "--image-producer", UMOCI_REPACK, "--implementation", "umoci"
        )

        assert results.with_outcome("failed", "error", "known-deviation") == set()
        assert "test_whiteouts_are_empty_regular_files[producer]" in results.with_outcome("passed")


class TestUnpackers:
    """Crafted images fed to the peers' unpackers."""

    def test_umoci_raw_unpack_passes_every_unpack_test(self, tmp_path: Path) -> None:
        """umoci refuses or neutralises every escape and applies whiteouts correctly."""
        _needs("umoci")

        results = _image_suite(
            tmp_path, "--image-unpacker", "umoci raw unpack --image {layout}:{ref} {dest}"
        )

        assert results.document["target"]["name"] == "umoci"
        assert results.with_outcome("failed", "error", "known-deviation") == set()
        assert len(results.with_outcome("passed")) >= 19

    def test_oci_image_tool_unpack_deviations(self, tmp_path: Path) -> None:
        """oci-image-tool fails exactly its declared deviations, including the absolute
        symlink escape."""
        _needs("oci-image-tool")

        results = _image_suite(
            tmp_path,
            "--image-unpacker",
            "oci-image-tool unpack --ref name={ref} {layout} {dest}",
        )

        assert results.with_outcome("failed", "error") == set()
        assert _deviated_requirements(results) == {
            "unpack-whiteout-lower-only",
            "unpack-opaque-whiteout",
            "unpack-index-json-tolerance",
            "unpack-attributes",
            "unpack-replace",
            "unpack-confinement",
        }
        assert "test_writes_through_absolute_symlink_stay_inside" in results.with_outcome(
            "known-deviation"
        )
        assert "test_dotdot_entries_stay_inside" in results.with_outcome("passed")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A docker-registry (CNCF distribution) on a free loopback port, removed afterwards."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("docker-registry did not start")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class TestRegistryFetch:
    """--image-ref: an image pushed by skopeo to a loopback registry, fetched and validated."""

    def test_multiarch_index_from_registry_validates(self, registry: str, tmp_path: Path) -> None:
        """The kit's multi-platform index, round-tripped through a registry, validates."""
        _needs("skopeo")
        from conformance import kit

        subprocess.run(
            [
                "skopeo", "copy", "--dest-tls-verify=false", "--multi-arch", "all",
                f"oci:{kit.layout()}:multiarch", f"docker://{registry}/kit/multi:v1",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

        results = _image_suite(tmp_path, "--image-ref", f"{registry}/kit/multi:v1")

        assert results.with_outcome("failed", "error") == set()
        assert "test_diff_ids_are_uncompressed_layer_digests[registry]" in results.with_outcome(
            "passed"
        )
