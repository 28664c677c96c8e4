"""Outcomes beyond pass and fail, and the helpers tests use to reach them.

A test reaches an outcome by what it raises:

* nothing: ``passed``;
* :class:`~conformance.core.errors.Violation`, ``AssertionError`` or a timeout: ``failed`` when
  its strongest requirement is at or above the chosen certification level, else ``warning``;
  ``known-deviation`` when the implementation declared it;
* :func:`skip_capability`, :func:`skip_host`, :func:`skip_config`: ``skipped`` with that
  category; :func:`not_applicable`: ``not-applicable``;
* anything else, or a failure while setting up or tearing down: ``error`` (the harness or the
  environment broke, never counted against the implementation).
"""

from __future__ import annotations

import enum
from typing import NoReturn

from _pytest.outcomes import Skipped

from conformance.core.errors import Violation


class Outcome(enum.StrEnum):
    """The outcome of one test, as ``results.json`` spells it."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"
    KNOWN_DEVIATION = "known-deviation"

    @property
    def severity(self) -> int:
        """Order for folding several outcomes into one: a failure is never hidden by a skip."""
        order = [
            Outcome.NOT_APPLICABLE,
            Outcome.SKIPPED,
            Outcome.PASSED,
            Outcome.WARNING,
            Outcome.KNOWN_DEVIATION,
            Outcome.FAILED,
            Outcome.ERROR,
        ]
        return order.index(self)


class SkipCategory(enum.StrEnum):
    """Why a test did not run; every skip in a report carries one."""

    CAPABILITY = "capability"
    """The implementation does not advertise an optional feature."""
    HOST = "host"
    """The host lacks a kernel feature, a privilege or a binary."""
    CONFIG = "config"
    """The user switched the test's area off."""
    OTHER = "other"
    """A plain ``pytest.skip`` without a category."""


class CategorizedSkip(Skipped):
    """A pytest skip that remembers its category."""

    def __init__(self, msg: str, category: SkipCategory, *, not_applicable: bool = False) -> None:
        super().__init__(msg=msg)
        self.category = category
        self.not_applicable = not_applicable


def skip_capability(capability: str, detail: str = "") -> NoReturn:
    """Skip because the implementation does not offer ``capability``."""
    msg = f"capability not offered: {capability}" + (f" ({detail})" if detail else "")
    raise CategorizedSkip(msg, SkipCategory.CAPABILITY)


def skip_host(reason: str) -> NoReturn:
    """Skip because the host cannot run the test (kernel feature, privilege, binary)."""
    raise CategorizedSkip(f"host: {reason}", SkipCategory.HOST)


def skip_config(reason: str) -> NoReturn:
    """Skip because the user's configuration switched this area off."""
    raise CategorizedSkip(f"disabled by configuration: {reason}", SkipCategory.CONFIG)


def not_applicable(reason: str) -> NoReturn:
    """End the test as not-applicable: an optional feature is absent, which is allowed."""
    raise CategorizedSkip(reason, SkipCategory.CAPABILITY, not_applicable=True)


def check(condition: object, where: str, expected: object, got: object, ref: str = "") -> None:
    """Raise a :class:`Violation` unless ``condition`` holds."""
    if not condition:
        raise Violation(where, expected, got, ref)


def check_equal(got: object, expected: object, where: str, ref: str = "") -> None:
    """Raise a :class:`Violation` unless ``got == expected``."""
    if got != expected:
        raise Violation(where, repr(expected), got, ref)


__all__ = [
    "CategorizedSkip",
    "Outcome",
    "SkipCategory",
    "check",
    "check_equal",
    "not_applicable",
    "skip_capability",
    "skip_config",
    "skip_host",
]
