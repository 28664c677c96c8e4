"""Unit tests of the CRI suite's own parts: the strict log parser, the containerd config,
and the redaction of credentials in recorded RPCs."""

from __future__ import annotations

import json

import grpc
import pytest

from conformance.core import Violation
from conformance.cri.client import _redacted
from conformance.cri.imagevolume import Probe, classify_create, mount_options
from conformance.cri.logs import parse_log
from conformance.cri.target import PrivateContainerd
from wire.proto.cri import api_pb2 as pb


class TestParseLog:
    """The CRI log line parser accepts the format exactly and names the first bad line."""

    def test_full_and_partial_lines_of_both_streams(self):
        """Nanosecond timestamps, both streams, both tags and an empty message parse."""
        text = (
            "2026-12-03T18:00:00.123456789Z stdout F hello world\n"
            "2026-12-03T18:00:00.1+01:00 stderr P part\n"
            "2026-12-03T18:00:01Z stdout F \n"
        )

        entries = parse_log(text, "log")

        assert entries == [
            ("stdout", "F", "hello world"),
            ("stderr", "P", "part"),
            ("stdout", "F", ""),
        ]

    @pytest.mark.parametrize(
        "line",
        [
            "2026-12-03T18:00:00Z stdout hello",  # no tag
            "2026-12-03T18:00:00Z console F hello",  # unknown stream
            "2026-12-03 18:00:00Z stdout F hello",  # not RFC 3339
            "2026-13-03T18:00:00Z stdout F hello",  # month 13
            "hello",
        ],
    )
    def test_malformed_line_is_a_violation_naming_it(self, line):
        """Each malformed line fails with its line number."""
        with pytest.raises(Violation) as info:
            parse_log("2026-12-03T18:00:00Z stdout F ok\n" + line + "\n", "ctr.log")

        assert info.value.where == "ctr.log:2"

    def test_unterminated_last_line_is_a_violation(self):
        """A log that does not end in a newline is malformed."""
        with pytest.raises(Violation):
            parse_log("2026-12-03T18:00:00Z stdout F ok", "ctr.log")


def test_containerd_config_is_private_and_restricts_oom_score_adj(tmp_path, monkeypatch):
    """The config keeps root, state and socket in the instance's dir and pulls over HTTP."""
    ctd = PrivateContainerd("127.0.0.1:5999")
    try:
        ctd.subnet = "10.231.7.0/24"
        text = ctd.config()
        conflist = ctd.cni_conflist()
    finally:
        ctd.dir.rmdir()

    assert f'root = "{ctd.dir}/root"' in text
    assert f'address = "{ctd.socket}"' in text
    assert "restrict_oom_score_adj = true" in text
    assert 'endpoint = ["http://127.0.0.1:5999"]' in text
    assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.231.7.0/24"}]]
    assert conflist["plugins"][0]["bridge"] == "crit7"  # named after the subnet: unique
    json.dumps(conflist)


def test_recorded_pull_request_hides_credentials():
    """AuthConfig secrets never reach the evidence."""
    request = pb.PullImageRequest(
        image=pb.ImageSpec(image="r/x"),
        auth=pb.AuthConfig(username="u", password="hunter2", registry_token="s3cr3t-registry"),
    )

    data = _redacted(request)

    assert "hunter2" not in json.dumps(data)
    assert "s3cr3t-registry" not in json.dumps(data)
    assert data["image"] == {"image": "r/x"}


class TestImageVolumeProbe:
    """The image-volume probe tells "unsupported" (a skip) from "accepted but not applied"."""

    MOUNTINFO_WITH_VOLUME = (
        "600 500 0:50 / / rw,relatime - overlay overlay rw\n"
        "610 600 0:60 / /mnt/image ro,nosuid,nodev,relatime - overlay overlay ro\n"
    )

    def test_unimplemented_is_unsupported(self):
        """UNIMPLEMENTED means the runtime lacks the feature."""
        verdict = classify_create(grpc.StatusCode.UNIMPLEMENTED, "")

        assert verdict is Probe.UNSUPPORTED

    def test_error_saying_unsupported_is_unsupported(self):
        """The reference's INVALID_ARGUMENT "image volumes are not supported" is a skip."""
        message = "mount '/mnt/image': image volumes are not supported"

        verdict = classify_create(grpc.StatusCode.INVALID_ARGUMENT, message)

        assert verdict is Probe.UNSUPPORTED

    def test_same_error_without_the_image_field_is_unsupported(self):
        """containerd 1.6 drops the unknown field and fails on the empty host_path both times."""
        message = 'failed to generate spec: failed to mkdir "": mkdir : no such file or directory'

        verdict = classify_create(grpc.StatusCode.UNKNOWN, message, grpc.StatusCode.UNKNOWN)

        assert verdict is Probe.UNSUPPORTED

    def test_error_only_with_the_image_field_is_a_violation(self):
        """A runtime that read the image field and failed on it breaks the requirement."""
        with pytest.raises(Violation):
            classify_create(grpc.StatusCode.INTERNAL, "pull failed", grpc.StatusCode.OK)

    def test_other_error_needs_the_control_request(self):
        """Without the control request an unexplained error cannot be classified."""
        with pytest.raises(ValueError):
            classify_create(grpc.StatusCode.UNKNOWN, "mkdir failed")

    def test_accepted_mount_that_is_not_mounted_is_a_violation(self):
        """A runtime that accepts Mount.image and mounts nothing fails; it is not skipped."""
        verdict = classify_create(grpc.StatusCode.OK, "")
        mountinfo = "600 500 0:50 / / rw,relatime - overlay overlay rw\n"

        assert verdict is Probe.ACCEPTED
        with pytest.raises(Violation) as info:
            mount_options(mountinfo, "/mnt/image")
        assert "ignored" in str(info.value.got)

    def test_applied_mount_reports_its_options(self):
        """The options of an applied image volume are read from mountinfo."""
        options = mount_options(self.MOUNTINFO_WITH_VOLUME, "/mnt/image")

        assert "ro" in options
        assert "noexec" not in options
