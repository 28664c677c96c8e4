"""The plan handed to the native helper: what it must do after the barrier, as plain records.

The encoding is deliberately trivial so the C side needs no JSON parser: a record is its keyword,
a count or the fixed fields, then strings, every item NUL-terminated (see helper.c).
"""

from __future__ import annotations

import os

from ._log import get_logger
from .config import CAP_SETS, CAPABILITIES, OCI_VERSION_MAX

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)


class Plan:
    """Accumulates plan records and renders them as bytes."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, keyword: str, *fields: Any) -> None:
        """Append a record of fixed fields."""
        self.items.append(keyword)
        self.items += [str(f) for f in fields]

    def strv(self, values: list[str]) -> None:
        """Append a counted list of strings to the current record."""
        self.items.append(str(len(values)))
        self.items += values

    def encode(self) -> bytes:
        """The plan's bytes."""
        out = bytearray()
        for item in self.items:
            raw = os.fsencode(item)
            if b"\0" in raw:
                raise ValueError(f"NUL byte in plan string {item!r}")
            out += raw + b"\0"
        return bytes(out)


def capability_masks(caps: dict[str, list[str]], available: int) -> list[int]:
    """The five sets as bit masks, dropping (with a warning) names unknown or not grantable.

    config.md#linux-process: a capability that cannot be mapped or granted is logged as a
    warning and does not fail the container.
    """
    masks = []
    for name in CAP_SETS:
        mask = 0
        for cap in caps.get(name, []):
            if cap not in CAPABILITIES:
                log.warning("process.capabilities.%s: unknown capability %s ignored", name, cap)
                continue
            bit = 1 << CAPABILITIES.index(cap)
            if not available & bit:
                log.warning("process.capabilities.%s: %s cannot be granted here", name, cap)
                continue
            mask |= bit
        masks.append(mask)
    return masks


def add_seccomp(plan: Plan, seccomp: dict[str, Any], process_state: str | None = None) -> None:
    """Append the seccomp records (filter compiled by libseccomp in the helper).

    ``process_state`` is the JSON the helper sends to ``listenerPath`` with the notify fd
    (only with an SCMP_ACT_NOTIFY rule).
    """
    default = seccomp["defaultAction"]
    plan.add("seccomp", default, seccomp.get("defaultErrnoRet", 1))
    plan.strv([a.removeprefix("SCMP_ARCH_").lower() for a in seccomp.get("architectures", [])])
    plan.strv(seccomp.get("flags", []))
    for rule in seccomp.get("syscalls", []):
        args = rule.get("args") or []
        for name in rule["names"]:
            plan.add("rule", rule["action"], rule.get("errnoRet", 1), name, len(args))
            for arg in args:
                value, two = arg["value"], arg.get("valueTwo", 0)
                plan.items += [str(arg["index"]), arg["op"], f"{value:x}", f"{two:x}"]
    if process_state is not None:
        plan.add("notify", process_state)


def process_state(state: dict[str, Any], metadata: str | None) -> str:
    """The container process state of config-linux.md#containerprocessstate, as JSON.

    Args:
        state: the container's state document, with the pid as the runtime sees it.
        metadata: ``linux.seccomp.listenerMetadata``, passed through when set.
    """
    from _json import encode_basestring_ascii as quote

    from .state import oci_json

    parts = [
        # The version this document follows is the runtime's, not the bundle's.
        f'"ociVersion": {quote(OCI_VERSION_MAX)}',
        '"fds": ["seccompFd"]',
        f'"pid": {int(state["pid"])}',
    ]
    if metadata is not None:
        parts.append(f'"metadata": {quote(metadata)}')
    parts.append(f'"state": {oci_json(state)}')
    return "{" + ", ".join(parts) + "}"
