"""Bad input and the error format (CNI spec 1.1.0 section 2 "Parameters", section 5 "Error").

Every case here is refused before anything is created, so these are cheap to run for every
version.
"""

from __future__ import annotations

import pytest

from conformance.cni.checks import expect_error
from conformance.cni.lab import Lab
from conformance.cni.runner import SPEC, UNSET
from conformance.core import check, check_equal

pytestmark = pytest.mark.usefixtures("main_plugin")


@pytest.mark.requirement("env-command-unknown", "error-object")
@pytest.mark.parametrize("command", ["BOGUS", "add"])
def test_unknown_command_is_refused(lab: Lab, cni_version: str, command: str) -> None:
    """A CNI_COMMAND outside the six verbs, or in the wrong case, is refused."""
    ns = lab.container()
    call = lab.call(command, lab.config(cni_version), ns, lab.container_id())
    expect_error(call, f"CNI_COMMAND={command}")
    check_equal(ns.links().keys() - {"lo"}, set(), f"{ns.name} links after refused command")


@pytest.mark.requirement("env-required", "error-object")
@pytest.mark.parametrize("missing", ["container_id", "netns", "ifname"])
def test_add_without_required_variable_is_refused(lab: Lab, cni_version: str, missing: str) -> None:
    """ADD without CNI_CONTAINERID, CNI_NETNS or CNI_IFNAME fails."""
    ns = lab.container()
    env = {"container_id": lab.container_id(), "netns": ns.path, "ifname": "eth0", missing: UNSET}
    call = lab.runner.call(lab.target.roles["main"], "ADD", lab.config(cni_version), **env)
    expect_error(call, f"ADD without {missing}")


@pytest.mark.requirement("env-ifname-invalid", "error-object")
@pytest.mark.parametrize("ifname", ["eth0-far-too-long-name", "a/b"], ids=["too-long", "slash"])
def test_add_with_unusable_ifname_is_refused(lab: Lab, cni_version: str, ifname: str) -> None:
    """An interface name the kernel rejects makes ADD fail without leaving a link behind."""
    call, ns, _ = lab.add(cni_version, ifname=ifname)
    expect_error(call, f"ADD with CNI_IFNAME={ifname!r}")
    check_equal(ns.links().keys() - {"lo"}, set(), f"{ns.name} links after refused ADD")


@pytest.mark.requirement("env-containerid-invalid")
@pytest.mark.parametrize("cid", ["bad id", "../escape"])
def test_add_with_invalid_container_id_is_refused(lab: Lab, cni_version: str, cid: str) -> None:
    """A container id outside [A-Za-z0-9][A-Za-z0-9_.-]* is refused."""
    call, _, _ = lab.add(cni_version, cid=cid)
    expect_error(call, f"ADD with CNI_CONTAINERID={cid!r}")


@pytest.mark.requirement("env-args-malformed")
@pytest.mark.parametrize("args", ["garbage", "=value"])
def test_add_with_malformed_cni_args_is_refused(lab: Lab, cni_version: str, args: str) -> None:
    """CNI_ARGS that are not KEY=VALUE pairs are refused."""
    ns = lab.container()
    call = lab.call("ADD", lab.config(cni_version), ns, lab.container_id(), args=args)
    expect_error(call, f"ADD with CNI_ARGS={args!r}")


@pytest.mark.requirement("config-decode", "error-object")
@pytest.mark.parametrize("stdin", ["", '{"cniVersion": '], ids=["empty", "truncated"])
def test_malformed_configuration_is_refused(lab: Lab, cni_version: str, stdin: str) -> None:
    """Stdin that is not a JSON object makes the plugin fail with an error object."""
    ns = lab.container()
    call = lab.runner.call(
        lab.target.roles["main"],
        "ADD",
        stdin=stdin,
        container_id=lab.container_id(),
        netns=ns.path,
        ifname="eth0",
    )
    expect_error(call, "ADD with malformed stdin")


@pytest.mark.requirement("config-name-required", "error-object")
def test_configuration_without_name_is_refused(lab: Lab, cni_version: str) -> None:
    """A configuration without a network name is refused."""
    config = lab.config(cni_version)
    del config["name"]
    call, _, _ = lab.add(cni_version, config=config)
    expect_error(call, "ADD without name")


@pytest.mark.requirement("config-name-valid", "error-object")
@pytest.mark.parametrize("name", ["bad/name", "white space"])
def test_configuration_with_invalid_name_is_refused(lab: Lab, cni_version: str, name: str) -> None:
    """A network name outside [A-Za-z0-9][A-Za-z0-9_.-]* is refused."""
    call, _, _ = lab.add(cni_version, config=lab.config(cni_version, name=name))
    expect_error(call, f"ADD with name {name!r}")


@pytest.mark.requirement("config-version-required")
def test_configuration_without_version_is_refused(lab: Lab, cni_version: str) -> None:
    """A configuration without cniVersion is refused rather than read as a legacy version."""
    config = lab.config(cni_version)
    del config["cniVersion"]
    call, _, _ = lab.add(cni_version, config=config)
    expect_error(call, "ADD without cniVersion")


@pytest.mark.requirement("error-on-stdout")
def test_error_object_is_printed_on_stdout(lab: Lab, cni_version: str) -> None:
    """The error object of a failed call comes on stdout."""
    call, _, _ = lab.add(cni_version, config=lab.config("9.9.9"))
    expect_error(call, "ADD with cniVersion 9.9.9")
    _, stream = call.error_object()
    check_equal(stream, "stdout", "error object stream")


@pytest.mark.requirement("error-cniversion")
def test_error_object_carries_cni_version(lab: Lab, cni_version: str) -> None:
    """The error object names the cniVersion of the request."""
    ns = lab.container()
    call = lab.call("ADD", lab.config(cni_version), ns, lab.container_id(), ifname="x" * 20)
    error = expect_error(call, "ADD with a 20-character CNI_IFNAME")
    check_equal(error.get("cniVersion"), cni_version, "error.cniVersion")


@pytest.mark.requirement("stdout-single-document")
def test_error_output_is_one_json_document(lab: Lab, cni_version: str) -> None:
    """A failure prints one JSON document on stdout and nothing else there."""
    call, _, _ = lab.add(cni_version, config=lab.config("9.9.9"))
    check(not call.ok, "ADD with cniVersion 9.9.9", "failure", call.describe())
    if call.stdout.strip():
        call.json("ADD error stdout")


ERROR_CODE_CASES = {
    "missing-env": (4, {"container_id": UNSET}, None),
    "malformed-json": (6, {}, "{"),
    "missing-name": (7, {}, "no-name"),
}


@pytest.mark.requirement("error-codes")
@pytest.mark.parametrize("case", sorted(ERROR_CODE_CASES))
def test_well_known_failures_use_reserved_codes(lab: Lab, cni_version: str, case: str) -> None:
    """Bad environment gives code 4, undecodable input code 6, an invalid config code 7."""
    code, env_change, stdin = ERROR_CODE_CASES[case]
    ns = lab.container()
    config = lab.config(cni_version)
    if stdin == "no-name":
        del config["name"]
        stdin = None
    env = {"container_id": lab.container_id(), "netns": ns.path, "ifname": "eth0", **env_change}
    call = lab.runner.call(lab.target.roles["main"], "ADD", config, stdin=stdin, **env)
    error = expect_error(call, f"ADD ({case})")
    check_equal(error["code"], code, "error.code", SPEC + "#error-codes")
