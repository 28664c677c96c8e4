"""Image layout files and blobs (image-layout.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("layout-oci-layout")
def test_oci_layout_file_declares_version_1_0_0(validated: ValidatedLayout) -> None:
    """The oci-layout file is a JSON object declaring imageLayoutVersion 1.0.0."""
    validated.expect_clean("layout-oci-layout", "oci-layout file")


@pytest.mark.requirement("layout-blobs-dir")
def test_blobs_directory_exists(validated: ValidatedLayout) -> None:
    """The layout has a blobs directory."""
    validated.expect_clean("layout-blobs-dir", "blobs directory")


@pytest.mark.requirement("layout-index-json")
def test_index_json_is_present_and_parses(validated: ValidatedLayout) -> None:
    """index.json exists and holds a JSON document."""
    validated.expect_clean("layout-index-json", "index.json")


@pytest.mark.requirement("layout-blob-content")
def test_every_blob_file_matches_its_path_digest(validated: ValidatedLayout) -> None:
    """Each blobs/<alg>/<encoded> file hashes to the digest its path names."""
    validated.expect_clean("layout-blob-content", "blob files with a registered algorithm")


@pytest.mark.requirement("layout-blob-present")
def test_referenced_blobs_are_in_the_layout(validated: ValidatedLayout) -> None:
    """Blobs the layout references are stored in it (absence only warns)."""
    validated.expect_clean("layout-blob-present", "referenced blobs")


@pytest.mark.requirement("layout-ref-name")
def test_ref_names_follow_the_grammar(validated: ValidatedLayout) -> None:
    """Reference names in index.json follow the ref-name grammar."""
    validated.expect_clean("layout-ref-name", "ref.name annotations")
