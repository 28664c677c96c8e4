"""JSON decoding through the C scanner alone, without importing the :mod:`json` package.

Every CLI call is a fresh interpreter, and ``import json`` pulls in :mod:`re` and its compiler,
which costs about as much as forking the container's init. The scanner of the ``_json``
extension module parses a whole document by itself; :mod:`json` only adds the whitespace
skipping around it and the error messages. :func:`loads` hands anything it does not accept
outright (a BOM or another encoding, a syntax error, trailing data) to :func:`json.loads`, so
results and error messages are exactly the standard library's.
"""

from __future__ import annotations

# typing is imported for type checkers only: every CLI call pays for each import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"  # the JSON grammar's insignificant whitespace (RFC 8259, section 2)


class _Options:
    """The decoder settings the C scanner reads, as :class:`json.JSONDecoder` defaults them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__
    memo: dict[str, str] = {}


try:
    from _json import make_scanner

    # Any object with the decoder's attributes works (typeshed's stub wants a scanner).
    _options: Any = _Options()
    _scan: Any = make_scanner(_options)
except ImportError:  # an interpreter without the accelerator: the standard path does it all
    _scan = None


def loads(raw: bytes) -> Any:
    """Parse a JSON document as :func:`json.loads` does, raising what it raises."""
    fast = _scan_document(raw)
    if fast is not None:
        return fast[0]
    import json

    return json.loads(raw)


def _scan_document(raw: bytes) -> tuple[Any] | None:
    """(value,) of a plain UTF-8 document, or None to let :mod:`json` decide (and explain)."""
    # A BOM or a NUL in the first bytes means json.detect_encoding picks another codec.
    if _scan is None or raw[:1] in (b"\xef", b"\xfe", b"\xff") or b"\0" in raw[:4]:
        return None
    try:
        text = raw.decode("utf-8", "surrogatepass")
        start = len(text) - len(text.lstrip(_WHITESPACE))
        value, end = _scan(text, start)
    except (ValueError, StopIteration):
        return None
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return None  # trailing data: an error, worded by json
    return (value,)
