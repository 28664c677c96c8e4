"""Image configuration (config.md), checked over each layout under test."""

from __future__ import annotations

import pytest

from conformance.image.checks import ValidatedLayout


@pytest.mark.requirement("config-fields")
def test_configs_have_required_fields_with_types(validated: ValidatedLayout) -> None:
    """Configs have architecture, os and rootfs, and every field its JSON type."""
    validated.expect_clean("config-fields", "image configs")


@pytest.mark.requirement("config-rootfs-type")
def test_rootfs_type_is_layers(validated: ValidatedLayout) -> None:
    """rootfs.type is layers."""
    validated.expect_clean("config-rootfs-type", "image configs")


@pytest.mark.requirement("config-diff-ids")
def test_diff_ids_are_uncompressed_layer_digests(validated: ValidatedLayout) -> None:
    """diff_ids list one digest per layer, each the uncompressed layer's digest."""
    validated.expect_clean("config-diff-ids", "image configs")


@pytest.mark.requirement("config-created")
def test_created_times_are_rfc3339(validated: ValidatedLayout) -> None:
    """created and history created values are RFC 3339 date-times."""
    validated.expect_clean("config-created", "created timestamps")


@pytest.mark.requirement("config-env")
def test_env_entries_are_name_value(validated: ValidatedLayout) -> None:
    """Env entries are NAME=value with a non-empty NAME."""
    validated.expect_clean("config-env", "Env entries")


@pytest.mark.requirement("config-exposed-ports")
def test_exposed_ports_keys_are_port_protocol(validated: ValidatedLayout) -> None:
    """ExposedPorts keys are port, port/tcp or port/udp."""
    validated.expect_clean("config-exposed-ports", "ExposedPorts entries")


@pytest.mark.requirement("config-history-layers")
def test_history_matches_layer_count(validated: ValidatedLayout) -> None:
    """Non-empty history entries match the number of layers."""
    validated.expect_clean("config-history-layers", "configs with history")
