"""A per-test lab: a namespace playing the host, container namespaces, and config builders.

Every plugin runs inside the lab's host namespace, so the bridges, veths and rules a plugin
makes on the host side are confined to it; deleting the namespaces at the end of the test
removes all of it. Names (namespaces, bridge, master link, network) are unique per test.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from conformance.cni import netns as netns_mod
from conformance.cni.netns import Netns
from conformance.cni.runner import Call, NetworkList, PluginRunner
from conformance.cni.target import Target, merge
from conformance.core import EnvironmentProblem, skip_host

SUBNET = ipaddress.ip_network("10.99.0.0/24")
SINGLE_ADDRESS = "10.99.0.10"
DNS = {"nameservers": ["10.99.0.53"], "search": ["cni.test"], "domain": "cni.test"}


def _session_dir() -> Path:
    """This process's parent of all lab directories, removed at exit even after a signal."""
    parent = Path(tempfile.gettempdir()) / f"cni-lab-{netns_mod.TOKEN}"
    if not parent.exists():
        parent.mkdir(mode=0o700)
        atexit.register(shutil.rmtree, parent, ignore_errors=True)
    return parent


class Lab:
    """Namespaces and configurations for one test; :meth:`close` removes everything."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.host = Netns.create("h")
        self.containers: list[Netns] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="lab-", dir=_session_dir()))
        self.bridge = netns_mod.unique("cnb")
        self.master = netns_mod.unique("cnm")
        self.network = netns_mod.unique("cnitnet", width=32)
        self.runner: PluginRunner = target.runner(self.host.name)
        self._ids = 0
        self._master_made = False

    # -- namespaces and ids --------------------------------------------------------------

    def container(self) -> Netns:
        """A fresh container namespace."""
        ns = Netns.create("c")
        self.containers.append(ns)
        return ns

    def container_id(self) -> str:
        """A fresh container id."""
        self._ids += 1
        return f"cnitest-{self.network}-{self._ids}"

    def close(self) -> None:
        """Remove every namespace and temporary file of the lab."""
        for ns in [*self.containers, self.host]:
            ns.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- configurations ------------------------------------------------------------------

    def _substitute(self, data: Any) -> Any:
        text = json.dumps(data)
        if "{master}" in text:
            self._ensure_master()
        for key, value in (
            ("{bridge}", self.bridge),
            ("{master}", self.master),
            ("{dataDir}", str(self.tmp / "ipam")),
            ("{subnet}", str(SUBNET)),
        ):
            text = text.replace(key, value)
        return json.loads(text)

    def _ensure_master(self) -> None:
        # macvlan/ipvlan need a parent link; a veth pair inside the lab's host namespace
        # stands in for the host NIC (the host's real interfaces are never used).
        if not self._master_made:
            self.host.ip(
                "link", "add", self.master, "type", "veth", "peer", "name", self.master + "p"
            )
            self.host.ip("link", "set", self.master, "up")
            self._master_made = True
            self._probe_kind(self.target.roles["main"])

    def _probe_kind(self, kind: str) -> None:
        # A kernel without the plugin's link type (ipvlan is often a missing module) is a
        # host limitation, not a plugin failure.
        if kind not in ("macvlan", "ipvlan"):
            return
        probe = self.master + "q"
        try:
            self.host.ip("link", "add", "link", self.master, "name", probe, "type", kind)
        except EnvironmentProblem as err:
            if "Unknown device type" in str(err):
                skip_host(f"the kernel has no {kind} link type")
            raise
        self.host.ip("link", "del", probe)

    def ipam(self, *, single: bool = False) -> dict[str, Any]:
        """The IPAM section: one /24, a default route; ``single`` leaves one usable address."""
        rng: dict[str, Any] = {"subnet": str(SUBNET)}
        if single:
            rng.update(rangeStart=SINGLE_ADDRESS, rangeEnd=SINGLE_ADDRESS)
        base = {
            "type": self.target.roles["ipam"],
            "ranges": [[rng]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "{dataDir}",
        }
        user = self.target.template.get("ipam", {})
        return self._substitute(merge(base, user))

    def plugin(self, *, single: bool = False) -> dict[str, Any]:
        """The main plugin's object (no cniVersion/name), as it sits in a list."""
        fields = self.target.main_template()
        fields.pop("ipam", None)
        obj = {"type": self.target.roles["main"], **fields, "dns": DNS}
        obj = self._substitute(obj)
        obj["ipam"] = self.ipam(single=single)
        return obj

    def config(self, version: str, *, single: bool = False, **extra: Any) -> dict[str, Any]:
        """A single-plugin network configuration for the main plugin."""
        return {"cniVersion": version, "name": self.network, **self.plugin(single=single), **extra}

    def ipam_config(self, version: str, *, single: bool = False) -> dict[str, Any]:
        """A configuration for calling the IPAM plugin directly."""
        return {
            "cniVersion": version,
            "name": self.network,
            "type": "cnitest-caller",
            "ipam": self.ipam(single=single),
        }

    def network_list(self, version: str, plugins: list[dict[str, Any]]) -> NetworkList:
        """A configuration list of ``plugins`` run like a runtime."""
        return NetworkList(
            self.runner, {"cniVersion": version, "name": self.network, "plugins": plugins}
        )

    # -- calls ---------------------------------------------------------------------------

    def call(
        self,
        command: str,
        config: Any,
        ns: Netns | None,
        cid: str,
        ifname: str = "eth0",
        plugin: str | None = None,
        **cni: Any,
    ) -> Call:
        """Run the main plugin (or ``plugin``) with the usual environment."""
        return self.runner.call(
            plugin or self.target.roles["main"],
            command,
            config,
            container_id=cid,
            netns=ns.path if ns else None,
            ifname=ifname,
            **cni,
        )

    def add(
        self,
        version: str,
        ns: Netns | None = None,
        cid: str | None = None,
        *,
        ifname: str = "eth0",
        config: dict[str, Any] | None = None,
    ) -> tuple[Call, Netns, str]:
        """ADD into ``ns`` (a new container when omitted); returns the call, ns and id."""
        ns = ns or self.container()
        cid = cid or self.container_id()
        call = self.call("ADD", config or self.config(version), ns, cid, ifname)
        return call, ns, cid
