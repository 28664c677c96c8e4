"""Image manifests (manifest.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("manifest-fields")
def test_manifests_have_required_fields_with_types(validated: ValidatedLayout) -> None:
    """Manifests have schemaVersion, config and layers of the right JSON types."""
    validated.expect_clean("manifest-fields", "image manifests")


@pytest.mark.requirement("manifest-schema-version")
def test_manifest_schema_version_is_2(validated: ValidatedLayout) -> None:
    """A manifest's schemaVersion is 2."""
    validated.expect_clean("manifest-schema-version", "image manifests")


@pytest.mark.requirement("manifest-mediatype")
def test_manifest_media_type_value(validated: ValidatedLayout) -> None:
    """A manifest's mediaType field, when set, is the OCI manifest type."""
    validated.expect_clean("manifest-mediatype", "manifests with a mediaType field")


@pytest.mark.requirement("manifest-mediatype-present")
def test_manifest_media_type_is_set(validated: ValidatedLayout) -> None:
    """A manifest sets its mediaType field."""
    validated.expect_clean("manifest-mediatype-present", "image manifests")


@pytest.mark.requirement("manifest-artifacttype")
def test_artifact_manifests_with_empty_config_set_artifact_type(validated: ValidatedLayout) -> None:
    """A manifest whose config is the empty descriptor sets artifactType."""
    validated.expect_clean("manifest-artifacttype", "artifact manifests")


@pytest.mark.requirement("manifest-layers-nonempty")
def test_manifests_list_at_least_one_layer(validated: ValidatedLayout) -> None:
    """A manifest lists at least one layer."""
    validated.expect_clean("manifest-layers-nonempty", "image manifests")


@pytest.mark.requirement("manifest-image-layer-types")
def test_image_manifests_use_layer_media_types(validated: ValidatedLayout) -> None:
    """An image's layers use layer media types."""
    validated.expect_clean(
        "manifest-image-layer-types", "image manifests with the image config type"
    )


@pytest.mark.requirement("manifest-subject")
def test_subjects_are_valid_descriptors(validated: ValidatedLayout) -> None:
    """A subject is a valid descriptor."""
    validated.expect_clean("manifest-subject", "manifests or indexes with a subject")
