"""The CSI suite's --csi-params file: csi-sanity compatible keys, clear errors."""

from __future__ import annotations

import pytest

from conformance.core import ConfigurationError
from conformance.csi.target import Params


def test_params_file_fills_parameters_and_secrets(tmp_path):
    """Every documented key lands where the requests take it from."""
    path = tmp_path / "params.yaml"
    path.write_text(
        "volumeParameters: {type: fast}\n"
        "mutableParameters: {iops: 3000}\n"
        "snapshotParameters: {keep: 'yes'}\n"
        "secrets:\n"
        "  CreateVolumeSecret: {password: s3cret}\n"
    )

    params = Params.load(str(path))

    assert params.volume == {"type": "fast"}
    assert params.mutable == {"iops": "3000"}, "values are passed as strings"
    assert params.snapshot == {"keep": "yes"}
    assert params.secrets_for("CreateVolumeRequest") == {"password": "s3cret"}
    assert params.secrets_for("DeleteVolumeRequest") == {}
    assert params.invalid_mutable, "a default unsupported key remains for negative tests"


def test_no_params_file_gives_empty_defaults():
    """Without a file nothing is sent but the negative-test key."""
    params = Params.load(None)

    assert params.volume == {}
    assert params.secrets == {}


@pytest.mark.parametrize("text", ["- a list\n", "volumeParameters: [1, 2]\n", "{unclosed\n"])
def test_malformed_params_file_is_a_configuration_error(tmp_path, text):
    """A malformed file stops the run as the user's configuration error, naming the file."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    with pytest.raises(ConfigurationError, match="--csi-params"):
        Params.load(str(path))
