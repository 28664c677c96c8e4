"""Image indexes and platforms (image-index.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("index-fields")
def test_indexes_have_required_fields_with_types(validated: ValidatedLayout) -> None:
    """Indexes have schemaVersion and a manifests list of objects."""
    validated.expect_clean("index-fields", "image indexes")


@pytest.mark.requirement("index-schema-version")
def test_index_schema_version_is_2(validated: ValidatedLayout) -> None:
    """An index's schemaVersion is 2."""
    validated.expect_clean("index-schema-version", "image indexes")


@pytest.mark.requirement("index-mediatype")
def test_index_media_type_value(validated: ValidatedLayout) -> None:
    """An index's mediaType field, when set, is the OCI index type."""
    validated.expect_clean("index-mediatype", "indexes with a mediaType field")


@pytest.mark.requirement("index-mediatype-present")
def test_index_media_type_is_set(validated: ValidatedLayout) -> None:
    """An index sets its mediaType field."""
    validated.expect_clean("index-mediatype-present", "image indexes")


@pytest.mark.requirement("index-platform")
def test_platforms_have_os_and_architecture(validated: ValidatedLayout) -> None:
    """Platform objects have string os and architecture and typed optional fields."""
    validated.expect_clean("index-platform", "platform objects")


@pytest.mark.requirement("platform-values")
def test_platform_values_are_known_goos_goarch(validated: ValidatedLayout) -> None:
    """Platform os and architecture use known GOOS and GOARCH values."""
    validated.expect_clean("platform-values", "platform objects")


@pytest.mark.requirement("platform-matches-config")
def test_platform_matches_the_image_config(validated: ValidatedLayout) -> None:
    """An entry's platform agrees with the config of the image it points at."""
    validated.expect_clean("platform-matches-config", "index entries with a platform")
