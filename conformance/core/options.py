"""Target options: each a command-line flag that can also be set by environment variables.

Suites declare their options in ``<suite>/options.py`` as a module-level ``OPTIONS`` list. The
flag wins over the environment; among environment variables the first one set wins, so a
suite can accept the names an official suite already uses (``OCI_ROOT_URL``, ``RUNTIME``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.core.errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(text: str) -> bool:
    """Parse a boolean the way CI systems write them."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


@dataclass(frozen=True)
class Option:
    """One target option.

    Attributes:
        flag: the command-line flag, ``--registry-url``.
        help: one line for ``--help``.
        env: environment variables that set it, first one set wins.
        default: used when neither flag nor environment gives a value.
        kind: ``str``, ``int``, ``float``, ``bool`` or ``list`` (repeatable flag;
            whitespace-separated in the environment).
    """

    flag: str
    help: str
    env: tuple[str, ...] = ()
    default: Any = None
    kind: str = "str"
    secret: bool = field(default=False)

    @property
    def dest(self) -> str:
        """The attribute name pytest stores the flag under."""
        return self.flag.lstrip("-").replace("-", "_")

    def parse(self, text: str) -> Any:
        """Convert ``text`` from the environment to this option's kind."""
        converters: dict[str, Callable[[str], Any]] = {
            "str": str,
            "int": int,
            "float": float,
            "bool": parse_bool,
            "list": str.split,
        }
        try:
            return converters[self.kind](text)
        except ValueError as err:
            raise ConfigurationError(f"{self.flag}: cannot read {text!r} as {self.kind}") from err

    def resolve(self, cli_value: Any, environ: Mapping[str, str] | None = None) -> Any:
        """The effective value: the flag, else the first environment variable set, else default."""
        if cli_value not in (None, []):
            return cli_value
        environ = os.environ if environ is None else environ
        for name in self.env:
            if name in environ:
                return self.parse(environ[name])
        return self.default

    def help_text(self) -> str:
        """``--help`` text naming the environment variables too."""
        if not self.env:
            return self.help
        return f"{self.help} [env: {', '.join(self.env)}]"
