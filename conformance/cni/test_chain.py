"""Network configuration lists and chaining (CNI spec 1.1.0 section 3)."""

from __future__ import annotations

import pytest

from conformance.cni.checks import expect_ok, expect_silent_ok, ips_of, since
from conformance.cni.lab import Lab
from conformance.core import check, check_equal, not_applicable

pytestmark = pytest.mark.usefixtures("main_plugin")


def _chain(lab: Lab, version: str):
    chained = lab.target.roles["chained"]
    if not lab.runner.has(chained):
        not_applicable(f"chained plugin {chained!r} is not on the CNI path")
    plugins = [lab.plugin(), {"type": chained}]
    if chained == "portmap":
        plugins[1].update(capabilities={"portMappings": True}, snat=True)
    nl = lab.network_list(version, plugins)
    nl.capability_args = {
        "portMappings": [{"hostPort": 18080, "containerPort": 8080, "protocol": "tcp"}]
    }
    return nl


@pytest.mark.requirement("add-prevresult")
def test_chained_plugin_passes_the_previous_result_on(lab: Lab, cni_version: str) -> None:
    """The second plugin's output keeps every interface and address of the first one."""
    nl = _chain(lab, cni_version)
    ns = lab.container()
    out = nl.add(container_id=lab.container_id(), netns=ns.path, ifname="eth0")
    failed = out.failed
    check(
        failed is None, "list ADD", "every plugin to succeed", failed.describe() if failed else ""
    )
    first, final = out.calls[0].json(), out.result
    names = [i["name"] for i in first.get("interfaces", [])]
    check_equal(
        [i["name"] for i in final.get("interfaces", [])][: len(names)],
        names,
        "final result/interfaces names",
    )
    check(
        ips_of(first) <= ips_of(final),
        "final result/ips",
        sorted(ips_of(first)),
        sorted(ips_of(final)),
    )


@since("0.4.0")
@pytest.mark.requirement("chain-check")
def test_every_plugin_passes_check_with_the_final_result(lab: Lab, cni_version: str) -> None:
    """CHECK of each plugin with the list's final result succeeds; DEL in reverse succeeds."""
    nl = _chain(lab, cni_version)
    ns = lab.container()
    env = {"container_id": lab.container_id(), "netns": ns.path, "ifname": "eth0"}
    out = nl.add(**env)
    check(out.failed is None, "list ADD", "success", out.failed.describe() if out.failed else "")
    checked = nl.check(out.result, **env)
    for call in checked.calls:
        expect_ok(call, f"CHECK of {call.argv[-1]}")
    for call in nl.delete(out.result, **env).calls:
        expect_ok(call, f"DEL of {call.argv[-1]}")


@since("1.1.0")
@pytest.mark.requirement("gc-ok")
def test_list_gc_with_the_attachment_listed_keeps_it(lab: Lab, cni_version: str) -> None:
    """GC of every plugin in the list, naming the live attachment, succeeds and keeps it."""
    nl = _chain(lab, cni_version)
    ns = lab.container()
    cid = lab.container_id()
    env = {"container_id": cid, "netns": ns.path, "ifname": "eth0"}
    out = nl.add(**env)
    check(out.failed is None, "list ADD", "success", out.failed.describe() if out.failed else "")
    for call in nl.gc([{"containerID": cid, "ifname": "eth0"}]).calls:
        expect_silent_ok(call, f"GC of {call.argv[-1]}")
    for call in nl.check(out.result, **env).calls:
        expect_ok(call, f"CHECK of {call.argv[-1]} after GC")
