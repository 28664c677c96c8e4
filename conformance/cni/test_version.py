"""VERSION and version negotiation (CNI spec 1.1.0 section 2, VERSION)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import expect_error, expect_ok
from conformance.cni.lab import Lab
from conformance.cni.runner import SPEC
from conformance.core import check, check_equal

pytestmark = pytest.mark.usefixtures("main_plugin")


@pytest.mark.requirement("version-reply")
def test_version_reports_supported_versions(lab: Lab, cni_version: str) -> None:
    """VERSION exits 0 with cniVersion and a non-empty list of supported versions."""
    call = lab.runner.call(lab.target.roles["main"], "VERSION", {"cniVersion": cni_version})
    expect_ok(call, "VERSION")
    reply = call.json("VERSION stdout")
    check(
        isinstance(reply.get("cniVersion"), str),
        "VERSION/cniVersion",
        "a string",
        reply.get("cniVersion"),
        SPEC + "#version",
    )
    versions = reply.get("supportedVersions")
    check(
        isinstance(versions, list) and versions and all(isinstance(v, str) for v in versions),
        "VERSION/supportedVersions",
        "a non-empty list of strings",
        versions,
    )
    check(
        cni_version in versions, "VERSION/supportedVersions", f"to contain {cni_version}", versions
    )


@pytest.mark.requirement("version-no-config")
@pytest.mark.parametrize("stdin", ["", "not json"], ids=["empty", "garbage"])
def test_version_answers_without_a_configuration(lab: Lab, cni_version: str, stdin: str) -> None:
    """VERSION needs only CNI_COMMAND: no other variable and no valid stdin."""
    call = lab.runner.call(lab.target.roles["main"], "VERSION", stdin=stdin, path=None)
    expect_ok(call, "VERSION without configuration")
    reply = call.json("VERSION stdout")
    check("supportedVersions" in reply, "VERSION", "a supportedVersions field", reply)


@pytest.mark.requirement("version-echo")
def test_version_reply_echoes_the_requested_version(lab: Lab, cni_version: str) -> None:
    """The VERSION reply's cniVersion is the one the caller sent."""
    call = lab.runner.call(lab.target.roles["main"], "VERSION", {"cniVersion": cni_version})
    expect_ok(call, "VERSION")
    check_equal(call.json().get("cniVersion"), cni_version, "VERSION/cniVersion")


@pytest.mark.requirement("version-unsupported", "error-object")
@pytest.mark.parametrize("bad", ["9.9.9", "abc"])
def test_add_with_unsupported_version_fails_with_code_1(
    lab: Lab, cni_version: str, bad: str
) -> None:
    """A configuration version missing from supportedVersions is refused with code 1."""
    call, _, _ = lab.add(cni_version, config=lab.config(bad))
    error = expect_error(call, f"ADD with cniVersion {bad}")
    check_equal(error["code"], 1, "error.code")
