"""Unit tests of the smi suite's own pieces: statistics, quantities, the cluster adapter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from conformance.core import Violation
from conformance.smi import stats
from conformance.smi.cluster import KubernetesMesh, compress
from conformance.smi.quantity import parse_quantity
from conformance.smi.target import HttpCall, TargetUnreachableError


class TestFit:
    """The chi-square check itself must be able to fail."""

    def test_counts_matching_weights_pass(self) -> None:
        """450/150 under 3:1 is not rejected."""
        assert not stats.fit({"a": 450, "b": 150}, {"a": 3, "b": 1}).rejected

    def test_uniform_counts_fail_unequal_weights(self) -> None:
        """300/300 under 3:1 is rejected at alpha 0.001."""
        assert stats.fit({"a": 300, "b": 300}, {"a": 3, "b": 1}).rejected

    def test_zero_weight_backends_are_left_out(self) -> None:
        """Only positive weights enter the test."""
        result = stats.fit({"a": 100, "c": 0}, {"a": 1, "c": 0})
        assert result.observed == {"a": 100}

    def test_power_of_the_documented_budget(self) -> None:
        """600 requests detect a 10-point shift of a 3:1 split with power above 0.99."""
        assert stats.power({"a": 3, "b": 1}, 600) > 0.99


class TestQuantity:
    """Kubernetes quantity parsing used on metric values."""

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("12", Decimal(12)),
            ("1500m", Decimal("1.5")),
            ("2k", Decimal(2000)),
            ("1e3", Decimal(1000)),
        ],
    )
    def test_valid(self, text: str, value: Decimal) -> None:
        """Plain, milli, kilo and exponent forms."""
        assert parse_quantity(text, "v") == value

    @pytest.mark.parametrize("text", ["", "12 ms", "abc", 12])
    def test_invalid_is_a_violation(self, text: object) -> None:
        """Anything else is the implementation's fault."""
        with pytest.raises(Violation):
            parse_quantity(text, "v")


def test_compress_run_length_encodes_identical_calls() -> None:
    """Identical consecutive calls travel as one entry with a repeat count."""
    rows = compress([HttpCall("/a")] * 3 + [HttpCall("/b")])
    assert [(r["path"], r["repeat"]) for r in rows] == [("/a", 3), ("/b", 1)]


def test_cluster_adapter_reports_unreachable_cluster(tmp_path: Path) -> None:
    """A kubeconfig pointing at a closed port gives TargetUnreachableError (host), not a hang."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    with pytest.raises(TargetUnreachableError) as info:
        KubernetesMesh.connect(
            str(kubeconfig), backend_image="x", client_image="y", namespace_labels=[]
        )
    assert not info.value.config
    assert "127.0.0.1:1" in str(info.value)


def test_cluster_adapter_reports_missing_kubeconfig(tmp_path: Path) -> None:
    """A kubeconfig that does not exist is a configuration problem."""
    with pytest.raises(TargetUnreachableError) as info:
        KubernetesMesh.connect(
            str(tmp_path / "none"), backend_image="x", client_image="y", namespace_labels=[]
        )
    assert info.value.config
