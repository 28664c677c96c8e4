"""Checks shared by the cni tests: outcomes of calls, result and error formats.

Each check raises :class:`~conformance.core.Violation` naming where, what was expected, what
came back and the spec section.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

import jsonschema

from conformance.cni.runner import SPEC, Call
from conformance.core import Violation, check

F = TypeVar("F", bound=Callable[..., Any])


def since(version: str) -> Callable[[F], F]:
    """Run the test only for versions at or after ``version``."""

    def mark(func: F) -> F:
        func.cni_since = version  # type: ignore[attr-defined]
        return func

    return mark


def before(version: str) -> Callable[[F], F]:
    """Run the test only for versions before ``version``."""

    def mark(func: F) -> F:
        func.cni_before = version  # type: ignore[attr-defined]
        return func

    return mark


def vkey(version: str) -> tuple[int, ...]:
    """A version as a comparable tuple."""
    return tuple(int(p) for p in version.split("."))


def expect_ok(call: Call, what: str) -> None:
    """The call succeeded (exit 0)."""
    check(call.ok, what, "exit status 0", call.describe(), SPEC + "#result")


def expect_silent_ok(call: Call, what: str) -> None:
    """The call succeeded and printed nothing on stdout (DEL, CHECK, STATUS, GC)."""
    expect_ok(call, what)
    check(
        not call.stdout.strip(),
        f"{what} stdout",
        "no output on success",
        call.stdout[:300],
        SPEC + "#result",
    )


def expect_error(call: Call, what: str) -> dict[str, Any]:
    """The call failed with a non-zero exit and an error object (on stdout or stderr)."""
    check(not call.ok, what, "a non-zero exit status (failure)", call.describe(), SPEC + "#error")
    error, _ = call.error_object()
    check(
        error is not None,
        f"{what} output",
        "an error object {code, msg} as JSON",
        (call.stdout or call.stderr)[:300],
        SPEC + "#error",
    )
    assert error is not None
    check(
        isinstance(error.get("code"), int) and not isinstance(error.get("code"), bool),
        f"{what} error.code",
        "an integer",
        error.get("code"),
        SPEC + "#error",
    )
    check(
        isinstance(error.get("msg"), str) and error["msg"],
        f"{what} error.msg",
        "a non-empty string",
        error.get("msg"),
        SPEC + "#error",
    )
    return error


_CIDR = {"type": "string", "minLength": 3}
_IP = {"type": "string", "minLength": 2}


def result_schema(version: str, *, ipam: bool = False) -> dict[str, Any]:
    """JSON schema of an ADD result of ``version`` (spec section 5, "Success")."""
    v11 = vkey(version) >= (1, 1, 0)
    iface: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "mac": {"type": "string"},
            "sandbox": {"type": "string"},
        },
    }
    route: dict[str, Any] = {
        "type": "object",
        "required": ["dst"],
        "properties": {"dst": _CIDR, "gw": _IP},
    }
    if v11:
        iface["properties"].update(
            mtu={"type": "integer", "minimum": 0},
            socketPath={"type": "string"},
            pciID={"type": "string"},
        )
        route["properties"].update(
            mtu={"type": "integer"},
            advmss={"type": "integer"},
            priority={"type": "integer"},
            table={"type": "integer"},
            scope={"type": "integer", "enum": [0, 253, 254]},
        )
    ip: dict[str, Any] = {
        "type": "object",
        "required": ["address"],
        "properties": {
            "address": _CIDR,
            "gateway": _IP,
            "interface": {"type": "integer", "minimum": 0},
        },
    }
    if vkey(version) < (1, 0, 0):
        ip["required"] = ["address", "version"]
        ip["properties"]["version"] = {"enum": ["4", "6"]}
    str_list = {"type": "array", "items": {"type": "string"}}
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["cniVersion"],
        "properties": {
            "cniVersion": {"type": "string"},
            "interfaces": {"type": "array", "items": iface},
            "ips": {"type": "array", "items": ip},
            "routes": {"type": "array", "items": route},
            "dns": {
                "type": "object",
                "properties": {
                    "nameservers": str_list,
                    "domain": {"type": "string"},
                    "search": str_list,
                    "options": str_list,
                },
            },
        },
    }
    if ipam:
        schema["required"] = ["cniVersion", "ips"]
    return schema


def check_result_format(result: Any, version: str, where: str, *, ipam: bool = False) -> None:
    """The result matches its version's schema; addresses parse; interface indexes exist."""
    try:
        jsonschema.validate(result, result_schema(version, ipam=ipam))
    except jsonschema.ValidationError as err:
        path = "/".join(str(p) for p in err.absolute_path)
        raise Violation(
            f"{where}/{path}",
            err.validator + " " + str(err.validator_value)[:200],
            err.instance,
            SPEC + "#success",
        ) from err
    interfaces = result.get("interfaces", [])
    for i, ip in enumerate(result.get("ips", [])):
        try:
            ipaddress.ip_interface(ip["address"])
            if "gateway" in ip:
                ipaddress.ip_address(ip["gateway"])
        except ValueError as err:
            raise Violation(
                f"{where}/ips/{i}", "address in CIDR form and gateway an IP", ip, SPEC + "#success"
            ) from err
        if "interface" in ip:
            check(
                ip["interface"] < len(interfaces),
                f"{where}/ips/{i}/interface",
                f"an index into interfaces (0..{len(interfaces) - 1})",
                ip["interface"],
                SPEC + "#success",
            )
    for i, route in enumerate(result.get("routes", [])):
        try:
            ipaddress.ip_network(route["dst"], strict=False)
        except ValueError as err:
            raise Violation(
                f"{where}/routes/{i}/dst", "a CIDR", route["dst"], SPEC + "#success"
            ) from err


def sandbox_interface(result: dict[str, Any], ifname: str) -> tuple[int, dict[str, Any]]:
    """The (index, entry) of the container interface ``ifname`` in a result."""
    for i, iface in enumerate(result.get("interfaces", [])):
        if iface.get("name") == ifname and iface.get("sandbox"):
            return i, iface
    raise Violation(
        "result/interfaces",
        f"an entry for {ifname!r} with a sandbox",
        result.get("interfaces"),
        SPEC + "#success",
    )


def ips_of(result: dict[str, Any], index: int | None = None) -> set[str]:
    """Addresses (CIDR) of the result, optionally only those bound to interface ``index``."""
    return {
        ip["address"]
        for ip in result.get("ips", [])
        if index is None or ip.get("interface") == index
    }
