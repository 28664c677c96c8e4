"""Layer content (layer.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("layer-format")
def test_layers_are_tars_compressed_as_declared(validated: ValidatedLayout) -> None:
    """Each layer decompresses per its media type into a readable tar."""
    validated.expect_clean("layer-format", "layers")


@pytest.mark.requirement("layer-no-duplicates")
def test_layers_have_one_entry_per_path(validated: ValidatedLayout) -> None:
    """A layer has no two entries for one path."""
    validated.expect_clean("layer-no-duplicates", "layer entries")


@pytest.mark.requirement("layer-whiteout-entries")
def test_whiteouts_are_empty_regular_files(validated: ValidatedLayout) -> None:
    """Whiteout entries are empty regular files."""
    validated.expect_clean("layer-whiteout-entries", "whiteout entries")


@pytest.mark.requirement("layer-no-sparse")
def test_layers_do_not_use_sparse_files(validated: ValidatedLayout) -> None:
    """Layers do not contain sparse file entries."""
    validated.expect_clean("layer-no-sparse", "layer entries")


@pytest.mark.requirement("layer-nondistributable")
def test_no_nondistributable_layers_are_produced(validated: ValidatedLayout) -> None:
    """Producers do not use the deprecated non-distributable layer types."""
    validated.expect_clean("layer-nondistributable", "non-distributable layers")
