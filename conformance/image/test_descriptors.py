"""Content descriptors (descriptor.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("descriptor-fields")
def test_descriptors_are_objects(validated: ValidatedLayout) -> None:
    """Every descriptor is a JSON object."""
    validated.expect_clean("descriptor-fields", "descriptors")


@pytest.mark.requirement("descriptor-mediatype")
def test_descriptor_media_types_are_rfc6838(validated: ValidatedLayout) -> None:
    """Every descriptor's mediaType is an RFC 6838 type/subtype."""
    validated.expect_clean("descriptor-mediatype", "descriptors")


@pytest.mark.requirement("descriptor-digest")
def test_descriptor_digests_follow_grammar_and_encoding(validated: ValidatedLayout) -> None:
    """Digests follow the grammar and their algorithm's lowercase-hex length."""
    validated.expect_clean("descriptor-digest", "digests")


@pytest.mark.requirement("descriptor-registered-algorithm")
def test_descriptor_digests_use_registered_algorithms(validated: ValidatedLayout) -> None:
    """Digests use sha256 or sha512 so the content can be verified."""
    validated.expect_clean("descriptor-registered-algorithm", "digests")


@pytest.mark.requirement("descriptor-size")
def test_descriptor_sizes_match_content_length(validated: ValidatedLayout) -> None:
    """size is a non-negative int64 equal to the content's length."""
    validated.expect_clean("descriptor-size", "descriptors")


@pytest.mark.requirement("descriptor-urls")
def test_descriptor_urls_are_uris(validated: ValidatedLayout) -> None:
    """urls hold RFC 3986 URIs."""
    validated.expect_clean("descriptor-urls", "descriptors with urls")


@pytest.mark.requirement("descriptor-artifacttype")
def test_artifact_types_are_rfc6838(validated: ValidatedLayout) -> None:
    """artifactType values are RFC 6838 media types."""
    validated.expect_clean("descriptor-artifacttype", "artifactType fields")


@pytest.mark.requirement("descriptor-data")
def test_embedded_data_matches_digest_and_size(validated: ValidatedLayout) -> None:
    """Embedded data decodes to bytes matching the digest and size."""
    validated.expect_clean("descriptor-data", "descriptors with embedded data")


@pytest.mark.requirement("descriptor-mediatype-matches")
def test_documents_carry_the_media_type_of_their_descriptor(validated: ValidatedLayout) -> None:
    """A manifest or index has the media type its descriptor announced."""
    validated.expect_clean(
        "descriptor-mediatype-matches", "manifests or indexes reached through descriptors"
    )


@pytest.mark.requirement("empty-descriptor")
def test_empty_descriptors_refer_to_empty_json(validated: ValidatedLayout) -> None:
    """Empty descriptors refer to the two bytes {}."""
    validated.expect_clean("empty-descriptor", "empty descriptors")
