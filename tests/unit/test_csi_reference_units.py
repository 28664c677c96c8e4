"""Unit tests of the reference CSI driver's internals: validation, paging, state, locks."""

from __future__ import annotations

import json
import threading
import time

import grpc
import pytest

from conformance.csi.client import REDACTED, to_dict
from reference_impl.csi import validate
from reference_impl.csi.driver import Config, Driver
from reference_impl.csi.errors import CsiError
from reference_impl.csi.state import KeyedLocks, Store, new_id
from wire.proto.csi import csi_pb2


def mount_cap(mode: int = 1) -> csi_pb2.VolumeCapability:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode),
    )


class TestCheckRequest:
    """Required fields, capability shape, size limits and path hygiene."""

    def test_missing_fields_are_all_named(self):
        """The message names every missing required field."""
        with pytest.raises(CsiError) as info:
            validate.check_request(csi_pb2.CreateVolumeRequest())

        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "name" in info.value.message
        assert "volume_capabilities" in info.value.message

    def test_message_field_counts_as_present_only_when_set(self):
        """An unset capability message is missing even though Python returns a default."""
        request = csi_pb2.NodeStageVolumeRequest(volume_id="v", staging_target_path="/s")

        with pytest.raises(CsiError, match="volume_capability"):
            validate.check_request(request)

    def test_capability_without_mode_is_refused(self):
        """A capability with an access type but no mode is invalid."""
        request = csi_pb2.CreateVolumeRequest(name="n", volume_capabilities=[mount_cap(0)])

        with pytest.raises(CsiError, match="access_mode"):
            validate.check_request(request)

    def test_name_over_128_bytes_is_refused(self):
        """String fields are limited to 128 bytes."""
        request = csi_pb2.CreateVolumeRequest(name="n" * 129, volume_capabilities=[mount_cap()])

        with pytest.raises(CsiError, match="128"):
            validate.check_request(request)

    @pytest.mark.parametrize("path", ["relative/t", "/a/../b", "/a/./b", "/a//b"])
    def test_unnormalised_paths_are_refused(self, path):
        """Target paths must be absolute and normalised."""
        request = csi_pb2.NodeUnpublishVolumeRequest(volume_id="v", target_path=path)

        with pytest.raises(CsiError, match="target_path"):
            validate.check_request(request)

    @pytest.mark.parametrize(
        ("value", "kind", "expected"),
        [
            ("vol-" + "0123456789abcdef" * 2, "vol", True),
            ("snap-" + "0123456789abcdef" * 2, "vol", False),
            ("vol-../../etc", "vol", False),
            ("vol-" + "A" * 32, "vol", False),
        ],
    )
    def test_ids_match_the_strict_pattern(self, value, kind, expected):
        """Only ids of the driver's own shape can name an object (no path tricks)."""
        assert validate.valid_id(value, kind) is expected

    def test_new_ids_are_valid(self):
        """Ids the driver issues pass its own pattern."""
        assert validate.valid_id(new_id("vol"), "vol")
        assert validate.valid_id(new_id("group"), "group")


class TestPaging:
    """Tokens are opaque, resume after the last id served and reject garbage."""

    @pytest.fixture
    def driver(self, tmp_path):
        return Driver(Config(endpoint="unix:///x", state_dir=tmp_path, node_id="n"))

    def test_pages_cover_all_ids_once(self, driver):
        """Walking the tokens visits every id once, in pages of the asked size."""
        ids = [new_id("vol") for _ in range(5)]
        seen, token = [], ""
        while True:
            page, token = driver.page(ids, 2, token)
            assert len(page) <= 2
            seen.extend(page)
            if not token:
                break

        assert seen == sorted(ids)

    def test_token_of_deleted_id_still_works(self, driver):
        """A page resumes after the token's id even when that id is gone."""
        ids = sorted(new_id("vol") for _ in range(3))
        _, token = driver.page(ids, 1, "")

        rest, _ = driver.page(ids[1:], 5, token)

        assert rest == ids[1:]

    def test_garbage_token_is_aborted(self, driver):
        """A token the driver never issued answers ABORTED."""
        with pytest.raises(CsiError) as info:
            driver.page([], 1, "%%%")

        assert info.value.code == grpc.StatusCode.ABORTED


class TestStore:
    """State is written atomically and read back on restart."""

    def test_save_and_reload_keep_records(self, tmp_path):
        """A second Store over the same directory sees what the first saved."""
        store = Store(tmp_path)
        store.volumes["vol-1"] = {"id": "vol-1", "name": "a"}
        store.save()

        again = Store(tmp_path)

        assert again.volumes == {"vol-1": {"id": "vol-1", "name": "a"}}
        assert json.loads((tmp_path / "state.json").read_text())["volumes"]
        assert not list(tmp_path.glob(".state-*")), "temporary files left behind"


class TestKeyedLocks:
    """Per-key locks serialise one key and let others run."""

    def test_same_key_is_serialised(self):
        """Two holders of one key never overlap."""
        locks, active, overlaps = KeyedLocks(), [], []

        def work():
            with locks.hold("k"):
                active.append(1)
                overlaps.append(len(active))
                time.sleep(0.01)
                active.pop()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert max(overlaps) == 1
        assert not locks._locks, "locks of idle keys are dropped"


def test_evidence_redacts_csi_secret_fields():
    """Recorded requests never contain secret values, at any depth."""
    request = csi_pb2.CreateVolumeRequest(name="v", secrets={"password": "hunter2", "k": "v"})

    data = to_dict(request)

    assert data["secrets"] == {"password": REDACTED, "k": REDACTED}
    assert data["name"] == "v"
    assert request.secrets["k"] == "v", "the original request is untouched"
