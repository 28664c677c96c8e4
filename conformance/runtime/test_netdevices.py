"""Network devices moved into the container (config-linux.md "Network Devices", v1.3.0).

Each test makes a ``dummy`` link (``ifb`` where the kernel lacks dummy) with a unique name
(``cf`` + 10 hex digits) in the harness's network namespace, gives it an IPv4 and an IPv6
address and an unusual MTU, and lists it in ``linux.netDevices``. No traffic is ever sent. The
container's network namespace is observed from the host with ``ip -j`` run under
``nsenter --net=/proc/<pid>/ns/net`` while the container is ``created`` (create applies
everything but the process); one test also reads the device's sysfs entry from inside. Every
link is deleted afterwards, wherever it ended up.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.core import check, check_equal, current_evidence, skip_capability, skip_host
from conformance.core.errors import EnvironmentProblem
from conformance.runtime.bundle import Bundle
from conformance.runtime.driver import Container, Runtime
from conformance.runtime.leftovers import host_view

MTU = 1420
LINK_KINDS = ("dummy", "ifb")
"""Single virtual devices the kernel destroys with their namespace, in order of preference
(ifb where the dummy driver is not built)."""
IPV4 = "198.18.%d.1/24"
"""An address from the benchmarking block (RFC 2544), never routed anywhere."""
IPV6 = "2001:db8:%x::1/64"
"""An address from the documentation prefix (RFC 3849)."""


@dataclass
class Dummy:
    """A dummy (or ifb) link the test made in the harness's network namespace."""

    name: str
    mac: str
    ipv4: str
    ipv6: str
    names: list[str]
    """Every name the link may carry by the end (deleted at teardown on the host)."""


def _ip(*args: str, pid: int | None = None) -> Any:
    """``ip -j <args>`` in the harness's namespace, or in the network namespace of ``pid``."""
    prefix = ["nsenter", f"--net=/proc/{pid}/ns/net"] if pid else []
    res = subprocess.run(
        [*prefix, "ip", "-j", *args], capture_output=True, text=True, timeout=10, check=False
    )
    if res.returncode != 0:
        raise EnvironmentProblem(f"ip -j {' '.join(args)} failed: {res.stderr.strip()}")
    return json.loads(res.stdout or "[]")


def _links(pid: int | None = None) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in _ip("addr", "show", pid=pid)}


def _addresses(link: dict[str, Any]) -> set[str]:
    """The link's global-scope addresses as ``address/prefix``."""
    return {
        f"{a['local']}/{a['prefixlen']}"
        for a in link.get("addr_info", [])
        if a.get("scope") == "global"
    }


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


@pytest.fixture
def dummy() -> Iterator[Dummy]:
    """A fresh virtual link with two addresses; removed at teardown wherever it is."""
    if _run("ip", "-V").returncode != 0:
        skip_host("ip(8) from iproute2 is not installed")
    name = "cf" + secrets.token_hex(5)
    errors = []
    for kind in LINK_KINDS:
        made = _run("ip", "link", "add", name, "mtu", str(MTU), "type", kind)
        if made.returncode == 0:
            break
        errors.append(f"{kind}: {made.stderr.strip()}")
    else:
        skip_host(f"cannot create a virtual network device ({'; '.join(errors)})")
    link = Dummy(name, "", IPV4 % secrets.randbelow(256), IPV6 % secrets.randbelow(0x10000), [])
    link.names.append(name)
    try:
        for cmd in (
            ("ip", "addr", "add", link.ipv4, "dev", name),
            ("ip", "-6", "addr", "add", link.ipv6, "dev", name, "nodad"),
        ):
            res = _run(*cmd)
            if res.returncode != 0:
                raise EnvironmentProblem(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
        link.mac = _links()[name]["address"]
        current_evidence().note(f"{kind} link", name=name, mac=link.mac, v4=link.ipv4, v6=link.ipv6)
        yield link
    finally:
        for each in link.names:
            _run("ip", "link", "del", each)


def _require_net_devices(runtime: Runtime) -> None:
    """Skip as an absent capability when features says netDevices are not offered.

    Without a features document, or without a netDevices entry in it, support is unknown
    (features.md): the test runs.
    """
    net = ((runtime.features or {}).get("linux") or {}).get("netDevices") or {}
    if net.get("enabled") is False:
        skip_capability("linux.netDevices", "features.linux.netDevices.enabled is false")


def _created_with(
    runtime: Runtime, container: Container, bundle: Bundle, dev: Dummy, entry: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Create the container with ``dev`` listed; the links of its network namespace."""
    _require_net_devices(runtime)
    bundle.linux["netDevices"] = {dev.name: entry}
    if "name" in entry and "%d" not in entry["name"]:
        dev.names.append(entry["name"])
    container.must_create()
    assert container.pid is not None
    links = _links(container.pid)
    current_evidence().note("links in the container", links=sorted(links))
    return links


def _check_gone_from_host(dev: Dummy) -> None:
    check(
        dev.name not in _links(),
        f"host network namespace, link {dev.name}",
        "gone (moved into the container)",
        "still there",
    )


@pytest.mark.requirement("linux-netdevices-move")
def test_net_device_is_moved_under_its_new_name(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """The device leaves the runtime's namespace and shows in the container under ``name``."""
    new = "ct" + secrets.token_hex(5)
    inside = f"/sys/class/net/{new}/address"
    bundle.probe("--read", inside, out="report.json")

    links = _created_with(runtime, container, bundle, dummy, {"name": new})

    check(new in links, f"container network namespace, link {new}", "present", sorted(links))
    check_equal(links[new]["address"], dummy.mac, f"hardware address of {new}")
    check_equal(links[new]["mtu"], MTU, f"MTU of {new}")
    _check_gone_from_host(dummy)
    # The container's own view: its sysfs (mounted in its network namespace) lists the device.
    container.must_start()
    container.wait()
    seen = container.probe_report("report.json")["read"][inside]
    check_equal((seen.get("data") or "").strip(), dummy.mac, f"{inside} read in the container")


@pytest.mark.requirement("linux-netdevices-move")
def test_net_device_without_name_keeps_its_host_name(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """An entry without ``name`` puts the device in the container under its host name."""
    links = _created_with(runtime, container, bundle, dummy, {})

    check(
        dummy.name in links,
        f"container network namespace, link {dummy.name}",
        "present",
        sorted(links),
    )
    check_equal(links[dummy.name]["address"], dummy.mac, f"hardware address of {dummy.name}")
    _check_gone_from_host(dummy)


@pytest.mark.requirement("linux-netdevices-addresses")
def test_net_device_keeps_its_global_addresses(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """The permanent global IPv4 and IPv6 addresses of the device are there after the move."""
    new = "ct" + secrets.token_hex(5)

    links = _created_with(runtime, container, bundle, dummy, {"name": new})

    check(new in links, f"container network namespace, link {new}", "present", sorted(links))
    seen = _addresses(links[new])
    for addr in (dummy.ipv4, dummy.ipv6):
        check(addr in seen, f"global addresses of {new}", addr, sorted(seen))


@pytest.mark.requirement("linux-netdevices-up")
def test_net_device_is_up_in_the_container(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """The moved device is administratively up in the container's namespace."""
    new = "ct" + secrets.token_hex(5)

    links = _created_with(runtime, container, bundle, dummy, {"name": new})

    check(new in links, f"container network namespace, link {new}", "present", sorted(links))
    flags = links[new].get("flags", [])
    check("UP" in flags, f"flags of {new}", "UP", flags)


@pytest.mark.requirement("linux-netdevices-template")
def test_net_device_name_template_gets_a_free_name(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A ``name`` with ``%d`` is accepted; the device gets the template's first free name."""
    prefix = "ct" + secrets.token_hex(3)

    links = _created_with(runtime, container, bundle, dummy, {"name": prefix + "%d"})

    mine = [n for n, link in links.items() if link.get("address") == dummy.mac]
    check(mine, f"container link with address {dummy.mac}", "one", sorted(links))
    check(
        re.fullmatch(re.escape(prefix) + r"\d+", mine[0]),
        f"name of the moved device (template {prefix}%d)",
        f"{prefix}<number>",
        mine[0],
    )


@pytest.mark.requirement("linux-netdevices-name-in-use")
def test_net_device_name_in_use_fails_create(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """Renaming the device to ``lo``, present in every network namespace, fails create."""
    _require_net_devices(runtime)
    bundle.linux["netDevices"] = {dummy.name: {"name": "lo"}}

    res = container.create()

    check(not res.ok, "create with netDevices name lo", "a non-zero exit", res.returncode)
    host = _links()
    check(dummy.name in host, f"host link {dummy.name} after the failed create", "present", "gone")
    seen = _addresses(host[dummy.name])
    for addr in (dummy.ipv4, dummy.ipv6):
        check(addr in seen, f"addresses of {dummy.name} after the failed create", addr, seen)


@pytest.mark.requirement("linux-netdevices-missing")
def test_missing_net_device_fails_create(
    runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """A netDevices entry naming no device of the runtime's namespace fails create cleanly."""
    _require_net_devices(runtime)
    missing = "cf" + secrets.token_hex(5)
    bundle.linux["netDevices"] = {missing: {"name": "ct" + secrets.token_hex(5)}}
    before = host_view(runtime.target.root, container.cid, container.bundle)

    res = container.create()

    check(not res.ok, f"create with netDevices.{missing}", "a non-zero exit", res.returncode)
    after = host_view(runtime.target.root, container.cid, container.bundle)
    check_equal(before.differences(after), {}, "host after the failed create")
    check(not runtime.state(container.cid).ok, f"state {container.cid}", "an error", "a state")


@pytest.mark.requirement("linux-netdevices-not-moved-back")
def test_net_device_is_not_moved_back_on_delete(
    dummy: Dummy, runtime: Runtime, container: Container, bundle: Bundle
) -> None:
    """After delete the dummy device is not back in the runtime's namespace under any name."""
    new = "ct" + secrets.token_hex(5)
    links = _created_with(runtime, container, bundle, dummy, {"name": new})
    check(new in links, f"container network namespace, link {new}", "present", sorted(links))

    res = runtime.delete(container.cid, force=True)

    check(res.ok, f"delete --force {container.cid}", "exit status 0", res.returncode)
    host = _links()
    back = [n for n, link in host.items() if link.get("address") == dummy.mac]
    check_equal(back, [], "host links with the dummy's hardware address after delete")
