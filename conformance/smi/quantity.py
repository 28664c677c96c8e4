"""Kubernetes quantity strings (``1234m``, ``2k``, ``1e3``), as TrafficMetrics values use them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from conformance.core import Violation

_SUFFIX = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|n|u|m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def parse_quantity(text: Any, where: str) -> Decimal:
    """A Kubernetes quantity string as a number; a Violation names it when malformed."""
    match = _QUANTITY.match(str(text)) if isinstance(text, str) else None
    if match is None:
        raise Violation(where, "a Kubernetes quantity string such as '1234m'", text)
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as err:
        raise Violation(where, "a Kubernetes quantity", text) from err
    if suffix[:1] in ("e", "E"):
        return value * Decimal(10) ** int(suffix[1:])
    return value * _SUFFIX[suffix]
