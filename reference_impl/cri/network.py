"""Pod networking: a named network namespace per pod, set up by CNI plugins from a conf dir.

Plugins run as the CNI spec says: the plugin binary from ``CNI_PATH`` with ``CNI_COMMAND``,
``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME`` and ``CNI_PATH`` in the environment and
the network config (with ``prevResult`` chained) on stdin. Without a conf dir the pod gets a
namespace with loopback only.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from reference_impl.cri.errors import Internal

log = logging.getLogger(__name__)

NETNS_DIR = Path("/var/run/netns")


def create_netns(name: str) -> str:
    """Create the named namespace (bind-mounted under /var/run/netns); returns its path."""
    # iproute2 rather than pyroute2: pyroute2 forks a helper, and forking a process that runs
    # gRPC threads crashes the child; ip(8) is exec'd instead
    log.info("creating netns %s", name)
    _ip("netns", "add", name)
    return str(NETNS_DIR / name)


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Internal(f"failed to run ip {' '.join(args)}: {proc.stderr.strip()}")


def remove_netns(name: str) -> None:
    """Unmount and remove the named namespace (no error when absent)."""
    if (NETNS_DIR / name).exists():
        log.info("removing netns %s", name)
        _ip("netns", "delete", name)


class Cni:
    """The first network config list of a conf dir, run with plugins from bin dirs."""

    def __init__(self, conf_dir: Path | None, bin_dirs: list[str]) -> None:
        self.conf_dir = conf_dir
        self.bin_dirs = bin_dirs

    def config(self) -> dict[str, Any] | None:
        """The network config list (a single ``.conf`` is wrapped), or None."""
        if self.conf_dir is None or not self.conf_dir.is_dir():
            return None
        for path in sorted(self.conf_dir.iterdir()):
            if path.suffix not in (".conflist", ".conf", ".json"):
                continue
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                log.warning("ignoring CNI config %s: %s", path, err)
                continue
            if "plugins" not in doc:
                doc = {"cniVersion": doc.get("cniVersion"), "name": doc.get("name"),
                       "plugins": [doc]}  # fmt: skip
            return doc
        return None

    def _exec(
        self, command: str, plugin: dict[str, Any], env: dict[str, str], stdin: dict[str, Any]
    ) -> dict[str, Any]:
        binary = next(
            (
                Path(d) / plugin["type"]
                for d in self.bin_dirs
                if (Path(d) / plugin["type"]).exists()
            ),
            None,
        )
        if binary is None:
            raise Internal(f"CNI plugin {plugin['type']!r} not found in {self.bin_dirs}")
        full_env = {
            **os.environ,
            **env,
            "CNI_COMMAND": command,
            "CNI_PATH": ":".join(self.bin_dirs),
        }
        proc = subprocess.run(
            [str(binary)], input=json.dumps(stdin).encode(), env=full_env,
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise Internal(
                f"CNI {command} with {plugin['type']}: {proc.stdout.decode(errors='replace')} "
                f"{proc.stderr.decode(errors='replace')}".strip()
            )
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    def _plugin_conf(self, conf: dict[str, Any], plugin: dict[str, Any], runtime: dict) -> dict:
        stdin = {**plugin, "cniVersion": conf.get("cniVersion"), "name": conf.get("name")}
        caps = plugin.get("capabilities") or {}
        wanted = {k: v for k, v in runtime.items() if caps.get(k)}
        if wanted:
            stdin["runtimeConfig"] = wanted
        return stdin

    def add(self, cid: str, netns: str, args: str, runtime: dict[str, Any]) -> dict[str, Any]:
        """ADD through the chain; returns the last result."""
        conf = self.config()
        if conf is None:
            raise Internal("no CNI network config")
        env = {"CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_ARGS": args}
        result: dict[str, Any] = {}
        lo = {"type": "loopback", "cniVersion": conf.get("cniVersion"), "name": "cni-loopback"}
        self._exec("ADD", lo, {**env, "CNI_IFNAME": "lo"}, lo)
        for plugin in conf["plugins"]:
            stdin = self._plugin_conf(conf, plugin, runtime)
            if result:
                stdin["prevResult"] = result
            result = self._exec("ADD", plugin, env, stdin) or result
        return result

    def delete(self, cid: str, netns: str, args: str, runtime: dict[str, Any]) -> None:
        """DEL through the chain in reverse (errors logged, the next plugin still runs)."""
        conf = self.config()
        if conf is None:
            return
        env = {"CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0", "CNI_ARGS": args}
        for plugin in reversed(conf["plugins"]):
            try:
                self._exec("DEL", plugin, env, self._plugin_conf(conf, plugin, runtime))
            except Internal as err:
                log.warning("CNI DEL of %s: %s", cid, err)


def loopback_up(netns: str) -> None:
    """Bring ``lo`` up inside the namespace (pods without a CNI config)."""
    _ip("-n", Path(netns).name, "link", "set", "lo", "up")


def first_ip(result: dict[str, Any]) -> tuple[str, list[str]]:
    """The primary IPv4 address of a CNI result and any further addresses."""
    ips = [str(ip.get("address", "")).split("/")[0] for ip in result.get("ips") or []]
    ips = [ip for ip in ips if ip]
    v4 = [ip for ip in ips if ":" not in ip]
    ordered = v4 + [ip for ip in ips if ip not in v4]
    return (ordered[0], ordered[1:]) if ordered else ("", [])
