"""The one entry point every reference plugin shares: environment and stdin in, result out.

A plugin module hands :func:`run` a table of command handlers. ``run`` validates the
invocation the way CNI spec 1.1.0 section 2 ("Execution Protocol") describes it, calls the
handler, prints the result on stdout and maps every failure to the spec's error object
(section 5, "Error") with a non-zero exit status.

Only the standard library is imported here so that the error paths stay fast; handlers import
pyroute2 lazily when they touch netlink.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

SUPPORTED_VERSIONS = ("1.0.0", "1.1.0")
LATEST = SUPPORTED_VERSIONS[-1]
COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION")

# Well-known error codes, CNI spec 1.1.0 section 2 "Error codes".
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN = 11
NOT_AVAILABLE = 50
LIMITED_CONNECTIVITY = 51
# Plugin-specific codes (100 and above belong to the plugin).
INTERNAL = 100
INTERFACE_EXISTS = 101
NETLINK_FAILURE = 102
CHECK_FAILED = 103
ADDRESS_EXHAUSTED = 104

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# Env requirements per command (spec section 2 "Parameters" and each command's input).
_REQUIRED_ENV = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "GC": (),
    "STATUS": (),
}


class CniError(Exception):
    """A failure reported to the runtime as the spec's error object."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details


@dataclass
class Invocation:
    """One validated plugin invocation."""

    command: str
    config: dict[str, Any]
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: dict[str, str] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        """The request's ``cniVersion``."""
        return str(self.config["cniVersion"])

    @property
    def at_least_1_1(self) -> bool:
        """True when the request speaks CNI 1.1.0 (fields like ``mtu`` may be reported)."""
        return version_tuple(self.version) >= (1, 1, 0)


Handler = Callable[[Invocation], "dict[str, Any] | None"]


def version_tuple(text: str) -> tuple[int, ...]:
    """``"1.0.0"`` as ``(1, 0, 0)``; raises ValueError on anything else."""
    parts = text.split(".")
    if len(parts) != 3:
        raise ValueError(text)
    return tuple(int(p) for p in parts)


def fail(code: int, msg: str, details: str = "") -> NoReturn:
    """Raise the error the runtime will see."""
    raise CniError(code, msg, details)


def _emit(document: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


def _decode(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as err:
        fail(DECODE_FAILURE, "cannot decode the network configuration", str(err))
    if not isinstance(data, dict):
        fail(DECODE_FAILURE, "network configuration must be a JSON object")
    return data


def _check_version(config: dict[str, Any]) -> None:
    version = config.get("cniVersion")
    if not isinstance(version, str) or not version:
        fail(INVALID_CONFIG, "cniVersion missing from the network configuration")
    if version not in SUPPORTED_VERSIONS:
        fail(
            INCOMPATIBLE_VERSION,
            f"incompatible CNI version {version!r}",
            "supported versions: " + ", ".join(SUPPORTED_VERSIONS),
        )


def _check_name(config: dict[str, Any]) -> None:
    name = config.get("name")
    if not isinstance(name, str) or not name:
        fail(INVALID_CONFIG, "network configuration has no name")
    if not _NAME.match(name):
        fail(INVALID_CONFIG, f"invalid network name {name!r}")


def parse_cni_args(text: str) -> dict[str, str]:
    """Split legacy ``CNI_ARGS`` (``K=V;K=V``) into a mapping; code 4 on a malformed pair."""
    pairs: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(INVALID_ENV, f"CNI_ARGS: invalid pair {item!r}", "expected KEY=VALUE")
        pairs[key] = value
    return pairs


_WELL_KNOWN_ARGS = frozenset(
    {
        "IgnoreUnknown",
        "K8S_POD_NAME",
        "K8S_POD_NAMESPACE",
        "K8S_POD_INFRA_CONTAINER_ID",
        "K8S_POD_UID",
    }
)


def reject_unknown_args(inv: Invocation, known: set[str]) -> None:
    """Code 2 for a ``CNI_ARGS`` key the plugin does not know, unless ``IgnoreUnknown`` is set.

    CONVENTIONS.md: keys a plugin does not understand are an error unless the runtime marks
    them ignorable; the message names the key and its value (spec section 2, code 2).
    """
    if inv.args.get("IgnoreUnknown", "").lower() in ("1", "true"):
        return
    unknown = sorted(set(inv.args) - known - _WELL_KNOWN_ARGS)
    if unknown:
        key = unknown[0]
        fail(UNSUPPORTED_FIELD, f"CNI_ARGS: unsupported key {key}={inv.args[key]!r}")


def _check_ifname(name: str) -> None:
    # Linux limits names to IFNAMSIZ-1 bytes and forbids '/', whitespace, "." and "..".
    if len(name.encode()) > 15 or name in (".", "..") or re.search(r"[/\s:]", name):
        fail(INVALID_ENV, f"CNI_IFNAME {name!r} is not a valid interface name")


def _environment(command: str, env: Mapping[str, str]) -> dict[str, Any]:
    missing = [k for k in _REQUIRED_ENV[command] if not env.get(k)]
    if missing:
        fail(INVALID_ENV, "required environment variables missing: " + ", ".join(missing))
    cid = env.get("CNI_CONTAINERID", "")
    if cid and not _NAME.match(cid):
        fail(INVALID_ENV, f"CNI_CONTAINERID {cid!r} has invalid characters")
    ifname = env.get("CNI_IFNAME", "")
    if ifname:
        _check_ifname(ifname)
    netns = env.get("CNI_NETNS", "")
    if netns and command in ("ADD", "CHECK") and not os.path.exists(netns):
        fail(INVALID_ENV, f"CNI_NETNS {netns!r} does not exist")
    return {
        "container_id": cid,
        "netns": netns,
        "ifname": ifname,
        "args": parse_cni_args(env.get("CNI_ARGS", "")),
        "path": [p for p in env.get("CNI_PATH", "").split(":") if p],
    }


def _version_answer(stdin: str) -> dict[str, Any]:
    # Echo the caller's version when we speak it (spec section 2 "VERSION"); malformed or
    # empty input still gets an answer so that runtimes can probe with nothing on stdin.
    asked = LATEST
    try:
        data = json.loads(stdin) if stdin.strip() else {}
        if isinstance(data, dict) and data.get("cniVersion") in SUPPORTED_VERSIONS:
            asked = data["cniVersion"]
    except ValueError:
        pass
    return {"cniVersion": asked, "supportedVersions": list(SUPPORTED_VERSIONS)}


def _dispatch(handlers: Mapping[str, Handler], env: Mapping[str, str], stdin: str) -> Any:
    command = env.get("CNI_COMMAND", "")
    if not command:
        fail(INVALID_ENV, "CNI_COMMAND is not set", "one of " + ", ".join(COMMANDS))
    if command == "VERSION":
        return _version_answer(stdin)
    if command not in COMMANDS:
        fail(INVALID_ENV, f"unknown CNI_COMMAND {command!r}", "one of " + ", ".join(COMMANDS))
    config = _decode(stdin)
    _check_version(config)
    _check_name(config)
    inv = Invocation(command=command, config=config, **_environment(command, env))
    if command == "CHECK" and version_tuple(inv.version) < (0, 4, 0):
        fail(INCOMPATIBLE_VERSION, f"CHECK needs cniVersion 0.4.0 or later, got {inv.version}")
    if command in ("STATUS", "GC") and not inv.at_least_1_1:
        fail(INCOMPATIBLE_VERSION, f"{command} needs cniVersion 1.1.0 or later, got {inv.version}")
    return handlers[command](inv)


def _request_version(stdin: str) -> str:
    try:
        data = json.loads(stdin)
    except ValueError:
        return LATEST
    version = data.get("cniVersion") if isinstance(data, dict) else None
    return version if version in SUPPORTED_VERSIONS else LATEST


def run(handlers: Mapping[str, Handler], env: Mapping[str, str] | None = None) -> int:
    """Serve one invocation; returns the process exit status.

    Args:
        handlers: one callable per command except VERSION; each returns the result document
            (ADD) or ``None`` (commands whose success prints nothing).
        env: the environment; ``os.environ`` when omitted.
    """
    env = os.environ if env is None else env
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    try:
        result = _dispatch(handlers, env, stdin)
    except CniError as err:
        _emit(
            {
                "cniVersion": _request_version(stdin),
                "code": err.code,
                "msg": err.msg,
                "details": err.details,
            }
        )
        return 1
    except OSError as err:
        _emit({"cniVersion": _request_version(stdin), "code": IO_FAILURE, "msg": str(err)})
        return 1
    if result is not None:
        _emit(result)
    return 0
