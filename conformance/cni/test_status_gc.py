"""STATUS and GC (CNI spec 1.1.0 section 2; configurations of version 1.1.0 and later)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import expect_error, expect_ok, expect_silent_ok, since
from conformance.cni.lab import SINGLE_ADDRESS, Lab
from conformance.cni.runner import SPEC
from conformance.core import check, not_applicable

pytestmark = pytest.mark.usefixtures("main_plugin")


def _gc_config(lab: Lab, config: dict, attachments: list[dict[str, str]]) -> dict:
    # Both spellings: the 1.1.0 tag says cni.dev/attachments, later text and libcni
    # cni.dev/valid-attachments.
    return {**config, "cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments}


@since("1.1.0")
@pytest.mark.requirement("status-ready")
def test_status_of_a_ready_plugin_succeeds(lab: Lab, cni_version: str) -> None:
    """STATUS with only CNI_COMMAND and CNI_PATH set succeeds and prints nothing."""
    call = lab.runner.call(lab.target.roles["main"], "STATUS", lab.config(cni_version))
    expect_silent_ok(call, "STATUS")


@since("1.1.0")
@pytest.mark.requirement("status-unavailable", "error-object")
def test_status_with_unusable_ipam_state_fails_with_50_or_51(lab: Lab, cni_version: str) -> None:
    """STATUS fails with code 50 or 51 when the IPAM state directory cannot be used."""
    config = lab.config(cni_version)
    if "dataDir" not in config["ipam"]:
        not_applicable("the IPAM configuration has no dataDir to make unusable")
    blocker = lab.tmp / "not-a-directory"
    blocker.write_text("")
    config["ipam"]["dataDir"] = str(blocker / "state")
    error = expect_error(lab.runner.call(lab.target.roles["main"], "STATUS", config), "STATUS")
    check(
        error["code"] in (50, 51),
        "STATUS error.code",
        "50 or 51",
        error["code"],
        SPEC + "#status-check-plugin-status",
    )


@since("1.1.0")
@pytest.mark.requirement("gc-ok")
def test_gc_keeps_listed_attachments(lab: Lab, cni_version: str) -> None:
    """GC listing every attachment succeeds silently and the attachment still passes CHECK."""
    config = lab.config(cni_version)
    add, ns, cid = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    gc = lab.runner.call(
        lab.target.roles["main"],
        "GC",
        _gc_config(lab, config, [{"containerID": cid, "ifname": "eth0"}]),
    )
    expect_silent_ok(gc, "GC")
    expect_ok(lab.call("CHECK", {**config, "prevResult": add.json()}, ns, cid), "CHECK after GC")


@since("1.1.0")
@pytest.mark.requirement("gc-stale")
def test_gc_releases_unlisted_attachments(lab: Lab, cni_version: str) -> None:
    """GC without an attachment in its list frees its address and its host-side links."""
    config = lab.config(cni_version, single=True)
    before = set(lab.host.links())
    add, _, _ = lab.add(cni_version, config=config)
    expect_ok(add, "ADD")
    expect_ok(lab.runner.call(lab.target.roles["main"], "GC", _gc_config(lab, config, [])), "GC")
    left = sorted(
        n for n, link in lab.host.links().items() if n not in before and link.kind != "bridge"
    )
    check(not left, f"{lab.host.name} links after GC", "no links left but bridges", left)
    retry, _, _ = lab.add(cni_version, config=config)
    expect_ok(retry, f"ADD into the one-address range {SINGLE_ADDRESS} after GC")
