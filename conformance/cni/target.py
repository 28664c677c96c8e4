"""Which plugins the suite drives, and how to provide the bundled reference ones.

A target is a CNI_PATH plus the plugin types to test in three roles: the interface-creating
``main`` plugin, its ``ipam`` delegate (also tested on its own) and a ``loopback`` plugin.
With no ``--cni-path`` the suite writes a temporary directory of small launchers named
``bridge``, ``host-local`` and ``loopback`` that start the reference plugins, so the
configurations the suite generates are the same for the reference and for a real peer.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance.cni.runner import PluginRunner
from conformance.core import ConfigurationError

log = logging.getLogger(__name__)

KNOWN_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
"""Versions whose result shapes the suite checks (0.1.0/0.2.0 legacy results are out of scope)."""

REFERENCE_PLUGINS = {"bridge": "bridge", "host-local": "host-local", "loopback": "loopback"}
REFERENCE_NAME = "container-conformance reference CNI plugins"

DEFAULT_TEMPLATES: dict[str, dict[str, Any]] = {
    "bridge": {"bridge": "{bridge}", "isGateway": True},
    "macvlan": {"master": "{master}"},
    "ipvlan": {"master": "{master}"},
    "ptp": {},
}
"""Plugin fields the suite needs per well-known type; ``--cni-config`` merges over them."""


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@dataclass
class Target:
    """The plugins under test.

    Attributes:
        cni_path: directories searched for plugins.
        roles: plugin type per role (``main``, ``ipam``, ``loopback``, ``chained``).
        template: fields merged into every generated configuration of the main plugin.
        versions: per role, the versions the suite runs (claimed and known, maybe filtered).
        claimed: per role, the VERSION reply's supportedVersions as the plugin gave it.
        name, version: the implementation as it identifies itself, for the report.
    """

    cni_path: list[str]
    roles: dict[str, str]
    template: dict[str, Any]
    reference: bool
    versions: dict[str, list[str]] = field(default_factory=dict)
    claimed: dict[str, list[str]] = field(default_factory=dict)
    name: str = ""
    version: str = ""
    cleanup_dir: str | None = None
    version_errors: dict[str, str] = field(default_factory=dict)

    def runner(self, host_netns: str | None = None) -> PluginRunner:
        """A runner on this target's path, executing inside ``host_netns``."""
        return PluginRunner(self.cni_path, host_netns=host_netns)

    def main_template(self) -> dict[str, Any]:
        """The plugin-specific fields of the main plugin's configurations."""
        base = json.loads(json.dumps(DEFAULT_TEMPLATES.get(self.roles["main"], {})))
        return merge(base, self.template)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` deep-merged into ``base`` (objects merge, anything else replaces)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def load_template(path: str | None) -> dict[str, Any]:
    """The ``--cni-config`` file as a mapping (JSON is YAML, so one parser reads both)."""
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigurationError(f"--cni-config {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigurationError(f"--cni-config {path}: expected a mapping of plugin fields")
    return data


def write_reference_path() -> str:
    """A temporary CNI_PATH of launchers for the reference plugins."""
    directory = tempfile.mkdtemp(prefix="cni-ref-path-")
    # Callers remove it when done; this covers a run stopped by a signal.
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    root = Path(__file__).resolve().parents[2]
    for name, plugin in REFERENCE_PLUGINS.items():
        exe = Path(directory) / name
        # A launcher keeps the suite independent of how the package was installed and puts
        # the source tree first, so the reference under test is the one beside the suite.
        exe.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}} "
            f'exec {sys.executable} -m reference_impl.cni {plugin} "$@"\n'
        )
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


class VersionQueryError(Exception):
    """The plugin is on the path but its VERSION reply is unusable."""


def query_versions(runner: PluginRunner, plugin_type: str) -> list[str]:
    """The plugin's supportedVersions; empty when it is not on the path.

    Raises:
        VersionQueryError: VERSION failed or its reply is not the spec's object.
    """
    if not runner.has(plugin_type):
        return []
    env = runner.environment("VERSION")
    try:
        proc = subprocess.run(
            [runner.find(plugin_type)],
            input='{"cniVersion":"1.0.0"}',
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise VersionQueryError("VERSION did not exit within 30 s") from err
    try:
        versions = json.loads(proc.stdout)["supportedVersions"]
    except (ValueError, KeyError, TypeError) as err:
        raise VersionQueryError(
            f"exit {proc.returncode}, stdout {proc.stdout[:300]!r}: {err}"
        ) from err
    if not isinstance(versions, list):
        raise VersionQueryError(f"supportedVersions is not a list: {versions!r}")
    return [str(v) for v in versions]


def identify(path: str) -> tuple[str, str]:
    """(package, version) of a plugin installed by dpkg, else the directory's name."""
    if shutil.which("dpkg-query"):
        owner = subprocess.run(
            ["dpkg-query", "-S", os.path.realpath(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if owner.returncode == 0:
            package = owner.stdout.split(":", 1)[0].strip()
            version = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", package],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            return package, version.strip()
    return Path(path).parent.name, ""


def resolve(option: Any) -> Target:
    """Build the target from the suite's options (``option(flag)`` returns a value)."""
    given = option("--cni-path")
    reference = not given
    cni_path = [write_reference_path()] if reference else [p for p in given.split(":") if p]
    roles = {
        "main": option("--cni-plugin"),
        "ipam": option("--cni-ipam"),
        "loopback": option("--cni-loopback"),
        "chained": option("--cni-chained"),
    }
    target = Target(
        cni_path,
        roles,
        load_template(option("--cni-config")),
        reference,
        cleanup_dir=cni_path[0] if reference else None,
    )
    runner = target.runner()
    wanted = option("--cni-versions") or []
    for role, plugin_type in roles.items():
        try:
            claimed = query_versions(runner, plugin_type)
        except VersionQueryError as err:
            log.warning("VERSION of %s failed: %s", plugin_type, err)
            target.version_errors[role] = str(err)
            claimed = []
        target.claimed[role] = claimed
        usable = sorted((v for v in claimed if v in KNOWN_VERSIONS), key=_version_key)
        target.versions[role] = [v for v in usable if not wanted or v in wanted]
    if reference:
        from reference_impl.cni.skel import LATEST

        target.name, target.version = REFERENCE_NAME, LATEST
    elif runner.has(roles["main"]):
        target.name, target.version = identify(runner.find(roles["main"]))
    return target
