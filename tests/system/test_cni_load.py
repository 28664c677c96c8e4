"""Load: 50 concurrent ADDs, then 50 concurrent DELs, on the reference bridge + host-local.

Everything happens inside namespaces this test creates; the run is bounded in count and time.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.cni.netns import Netns
from conformance.cni.runner import PluginRunner
from conformance.cni.target import write_reference_path

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

ATTACHMENTS = 50


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[PluginRunner, Netns, list[Netns], Path]]:
    """A host namespace, 50 container namespaces and the reference plugins."""
    path = write_reference_path()
    host = Netns.create("h")
    containers: list[Netns] = []
    try:
        containers.extend(Netns.create("c") for _ in range(ATTACHMENTS))
        # Generous per-exec timeout: 50 plugin processes start at once on a small, shared host;
        # this test is about duplicates and leaks, latency is the bench's business.
        runner = PluginRunner([path], host_netns=host.name, timeout=300)
        yield runner, host, containers, tmp_path
    finally:
        for ns in [*containers, host]:
            ns.remove()
        shutil.rmtree(path, ignore_errors=True)


def test_concurrent_add_and_del_never_duplicate_or_leak(world) -> None:
    """50 parallel ADDs get distinct addresses; 50 parallel DELs leave no link or reservation."""
    runner, host, containers, tmp = world
    data_dir = tmp / "ipam"
    config = {
        "cniVersion": "1.1.0",
        "name": "loadnet",
        "type": "bridge",
        "bridge": "cnload0",
        "isGateway": True,
        "ipam": {"type": "host-local", "subnet": "10.98.0.0/24", "dataDir": str(data_dir)},
    }

    def call(command: str, i: int):
        return runner.call(
            "bridge",
            command,
            config,
            container_id=f"load-{i}",
            netns=containers[i].path,
            ifname="eth0",
        )

    def many(command: str) -> list:
        with ThreadPoolExecutor(ATTACHMENTS) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, call, command, i)
                for i in range(ATTACHMENTS)
            ]
            return [f.result() for f in futures]

    adds = many("ADD")
    failed = [c.describe() for c in adds if not c.ok]
    assert not failed, failed
    addresses = [ipaddress.ip_interface(c.json()["ips"][0]["address"]).ip for c in adds]
    assert len(set(addresses)) == ATTACHMENTS, sorted(addresses)
    for ns, address in zip(containers, addresses, strict=True):
        assert f"{address}/24" in ns.addresses("eth0")

    dels = many("DEL")
    failed = [c.describe() for c in dels if not c.ok]
    assert not failed, failed
    left_links = sorted(n for n, link in host.links().items() if link.kind == "veth")
    assert not left_links, left_links
    assert all("eth0" not in ns.links() for ns in containers)
    reservations = [p.name for p in (data_dir / "loadnet").iterdir() if p.name != "lock"]
    assert not reservations, reservations
