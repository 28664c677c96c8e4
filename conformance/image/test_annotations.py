"""Annotations and JSON rules, checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("annotations-rules")
def test_annotations_map_strings_to_strings(validated: ValidatedLayout) -> None:
    """Annotations and Labels map strings to strings."""
    validated.expect_clean("annotations-rules", "annotations")


@pytest.mark.requirement("annotations-reverse-domain")
def test_annotation_keys_use_reverse_domain_notation(validated: ValidatedLayout) -> None:
    """Annotation keys use reverse domain notation."""
    validated.expect_clean("annotations-reverse-domain", "annotation keys")


@pytest.mark.requirement("annotations-reserved")
def test_reserved_prefix_only_holds_defined_keys(validated: ValidatedLayout) -> None:
    """Keys under org.opencontainers are only those the OCI specs define."""
    validated.expect_clean("annotations-reserved", "org.opencontainers keys")


@pytest.mark.requirement("annotations-predefined")
def test_predefined_keys_keep_their_format(validated: ValidatedLayout) -> None:
    """Pre-defined keys with a format (created, base.digest) keep it."""
    validated.expect_clean("annotations-predefined", "formatted pre-defined keys")


@pytest.mark.requirement("json-i-json")
def test_json_documents_are_i_json(validated: ValidatedLayout) -> None:
    """JSON documents are I-JSON: UTF-8, unique names, no NaN."""
    validated.expect_clean("json-i-json", "JSON documents")
