"""The harness's exception tree, split by who is at fault."""

from __future__ import annotations


class ConformanceError(Exception):
    """Base of every error the harness raises on purpose."""


class Violation(ConformanceError, AssertionError):  # noqa: N818 (a finding, not an error)
    """The implementation under test broke a requirement.

    Carries the pieces of a finding as attributes so that reports never parse strings:
    ``where`` (a JSON path, URL, file or field), ``expected``, ``got`` and ``reference``
    (the spec section). Subclassing :class:`AssertionError` keeps pytest's reporting.
    """

    def __init__(
        self,
        where: str,
        expected: object,
        got: object,
        reference: str = "",
        *,
        detail: str = "",
    ) -> None:
        self.where = where
        self.expected = expected
        self.got = got
        self.reference = reference
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.where}: expected {self.expected}, got {self.got!r}"]
        if self.detail:
            parts.append(self.detail)
        if self.reference:
            parts.append(f"(see {self.reference})")
        return " ".join(parts)


class HarnessError(ConformanceError):
    """The harness itself, its configuration or the host broke; never the implementation's fault."""


class ConfigurationError(HarnessError):
    """A target option, catalogue or data file given to the harness is wrong."""


class EnvironmentProblem(HarnessError):  # noqa: N818 (public name used by every suite)
    """The host lacks something the run needs (a binary, a kernel feature, privileges)."""
