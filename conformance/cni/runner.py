"""The harness's side of the CNI execution protocol: it plays the container runtime.

:class:`PluginRunner` executes one plugin binary the way CNI spec 1.1.0 section 2 describes
(parameters in ``CNI_*`` environment variables, the network configuration on stdin) and records
every call as evidence. :class:`NetworkList` runs a network configuration list the way
section 3 asks a runtime to: ADD in order with ``prevResult`` chained, CHECK and DEL with the
final result, DEL in reverse order, GC to every plugin.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.core import ConfigurationError, Violation, current_evidence

log = logging.getLogger(__name__)

SPEC = "https://github.com/containernetworking/cni/blob/spec-v1.1.0/SPEC.md"
UNSET = object()
"""Pass as an environment value to leave that variable out of the plugin's environment."""


@dataclass
class Call:
    """One finished plugin execution."""

    argv: list[str]
    env: dict[str, str]
    stdin: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the plugin exited with status 0."""
        return self.returncode == 0

    def documents(self) -> list[Any]:
        """Every JSON document on stdout, in order (a well-behaved plugin prints at most one)."""
        decoder = json.JSONDecoder()
        text = self.stdout.strip()
        docs, pos = [], 0
        while pos < len(text):
            doc, end = decoder.raw_decode(text, pos)
            docs.append(doc)
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return docs

    def json(self, where: str = "stdout") -> Any:
        """The single JSON document on stdout; a :class:`Violation` otherwise."""
        try:
            docs = self.documents()
        except ValueError as err:
            raise Violation(
                where, "one JSON document", self.stdout[:500], SPEC + "#result", detail=str(err)
            ) from err
        if len(docs) != 1:
            raise Violation(where, "exactly one JSON document", self.stdout[:500], SPEC + "#result")
        return docs[0]

    def error_object(self) -> tuple[dict[str, Any] | None, str]:
        """The error object a failed call printed and the stream it came on (or None, "")."""
        for stream, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            try:
                doc = json.loads(text.strip())
            except ValueError:
                continue
            if isinstance(doc, dict) and "code" in doc:
                return doc, stream
        return None, ""

    def describe(self) -> str:
        """A short line for failure messages."""
        out = (self.stdout.strip() or self.stderr.strip())[:300]
        return f"exit {self.returncode}: {out}"


@dataclass
class PluginRunner:
    """Executes plugins found on a CNI_PATH, optionally inside a namespace that plays the host.

    Attributes:
        cni_path: directories searched for plugin executables, in order.
        host_netns: name of the network namespace the plugin runs in (``ip netns exec``);
            None runs it in the harness's own namespace.
        base_env: variables every call gets besides the ``CNI_*`` ones.
    """

    cni_path: Sequence[str]
    host_netns: str | None = None
    base_env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def find(self, plugin_type: str) -> str:
        """Path of the executable for ``plugin_type``; ConfigurationError when missing."""
        for directory in self.cni_path:
            candidate = Path(directory) / plugin_type
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        raise ConfigurationError(
            f"CNI plugin {plugin_type!r} not found in {':'.join(self.cni_path)}"
        )

    def has(self, plugin_type: str) -> bool:
        """True when ``plugin_type`` is on the path."""
        try:
            self.find(plugin_type)
        except ConfigurationError:
            return False
        return True

    def environment(self, command: str | None, **cni: Any) -> dict[str, str]:
        """The plugin's environment: PATH, the base env and the ``CNI_*`` variables."""
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), **self.base_env}
        values = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cni.pop("container_id", None),
            "CNI_NETNS": cni.pop("netns", None),
            "CNI_IFNAME": cni.pop("ifname", None),
            "CNI_ARGS": cni.pop("args", None),
            "CNI_PATH": cni.pop("path", ":".join(self.cni_path)),
        }
        if cni:
            raise TypeError(f"unknown CNI parameters: {sorted(cni)}")
        for key, value in values.items():
            if value is not None and value is not UNSET:
                env[key] = str(value)
        return env

    def call(
        self,
        plugin_type: str,
        command: str | None,
        config: Any = None,
        *,
        stdin: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        **cni: Any,
    ) -> Call:
        """Execute ``plugin_type`` once and record the exchange.

        Args:
            plugin_type: the executable's name on the CNI path.
            command: ``CNI_COMMAND``; None leaves it unset.
            config: the network configuration, serialised as JSON onto stdin.
            stdin: raw stdin instead of ``config`` (for malformed input).
            extra_env: more variables (after the ``CNI_*`` ones).
            **cni: ``container_id``, ``netns``, ``ifname``, ``args``, ``path``; ``UNSET`` or
                None leaves a variable out.
        """
        exe = self.find(plugin_type)
        env = self.environment(command, **cni)
        env.update(extra_env or {})
        text = stdin if stdin is not None else ("" if config is None else json.dumps(config))
        argv = [exe] if self.host_netns is None else ["ip", "netns", "exec", self.host_netns, exe]
        started = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                input=text,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            current_evidence().command(
                argv, returncode=None, stdin=text, env=env, stdout=err.stdout, stderr=err.stderr
            )
            raise Violation(
                f"{plugin_type} {command}", f"exit within {self.timeout} s", "no exit", SPEC
            ) from err
        call = Call(
            argv, env, text, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started
        )
        current_evidence().command(
            argv,
            returncode=proc.returncode,
            stdin=text,
            env=env,
            stdout=proc.stdout,
            stderr=proc.stderr,
        )
        log.debug("exec %s %s -> %d in %.3f s", plugin_type, command, call.returncode, call.seconds)
        return call


def request_config(
    network: Mapping[str, Any],
    plugin: Mapping[str, Any],
    *,
    version: str,
    prev_result: Any = None,
    capability_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The stdin of one plugin in a list (spec section 3, "Deriving request configuration").

    ``cniVersion`` and ``name`` come from the list, ``runtimeConfig`` holds the capability
    arguments the plugin declares, ``capabilities`` itself is not sent, and ``prevResult`` is
    set when there is one.
    """
    config = {k: v for k, v in plugin.items() if k != "capabilities"}
    config["cniVersion"] = version
    config["name"] = network["name"]
    declared = {k for k, v in (plugin.get("capabilities") or {}).items() if v}
    runtime = {k: v for k, v in (capability_args or {}).items() if k in declared}
    if runtime:
        config["runtimeConfig"] = runtime
    if prev_result is not None:
        config["prevResult"] = prev_result
    return config


@dataclass
class ListOutcome:
    """What running a list did: every call made and the final result (ADD only)."""

    calls: list[Call]
    result: Any = None
    failed: Call | None = None


@dataclass
class NetworkList:
    """A network configuration list, run the way a runtime does (spec section 3)."""

    runner: PluginRunner
    config: dict[str, Any]
    capability_args: dict[str, Any] = field(default_factory=dict)

    @property
    def plugins(self) -> list[dict[str, Any]]:
        """The plugin objects of the list."""
        return list(self.config["plugins"])

    @property
    def version(self) -> str:
        """The list's ``cniVersion``."""
        return str(self.config["cniVersion"])

    def _request(self, plugin: dict[str, Any], prev: Any) -> dict[str, Any]:
        return request_config(
            self.config,
            plugin,
            version=self.version,
            prev_result=prev,
            capability_args=self.capability_args,
        )

    def add(self, **cni: Any) -> ListOutcome:
        """ADD through every plugin in order, chaining results; stop at the first error."""
        out = ListOutcome(calls=[])
        prev = None
        for plugin in self.plugins:
            call = self.runner.call(plugin["type"], "ADD", self._request(plugin, prev), **cni)
            out.calls.append(call)
            if not call.ok:
                out.failed = call
                return out
            prev = call.json(f"{plugin['type']} ADD stdout")
        out.result = prev
        return out

    def check(self, result: Any, **cni: Any) -> ListOutcome:
        """CHECK every plugin in order with the list's final ADD result."""
        return self._each(self.plugins, "CHECK", result, **cni)

    def delete(self, result: Any, **cni: Any) -> ListOutcome:
        """DEL in reverse order with the final ADD result (None when there is none)."""
        return self._each(list(reversed(self.plugins)), "DEL", result, **cni)

    def gc(self, attachments: list[dict[str, str]], **cni: Any) -> ListOutcome:
        """GC to every plugin, going on after errors; both attachment key spellings are sent."""
        out = ListOutcome(calls=[])
        for plugin in self.plugins:
            config = {k: v for k, v in plugin.items() if k != "capabilities"}
            config.update(cniVersion=self.version, name=self.config["name"])
            config["cni.dev/valid-attachments"] = attachments
            config["cni.dev/attachments"] = attachments
            call = self.runner.call(plugin["type"], "GC", config, **cni)
            out.calls.append(call)
            if not call.ok and out.failed is None:
                out.failed = call
        return out

    def _each(
        self, plugins: list[dict[str, Any]], command: str, result: Any, **cni: Any
    ) -> ListOutcome:
        out = ListOutcome(calls=[])
        for plugin in plugins:
            call = self.runner.call(plugin["type"], command, self._request(plugin, result), **cni)
            out.calls.append(call)
            if not call.ok:
                out.failed = call
                return out
        return out
