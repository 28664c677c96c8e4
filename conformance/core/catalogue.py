"""Requirement catalogues: every test names requirements from its suite's catalogue.

A catalogue is data. Levels, spec sections and links live here and never in the tests, so a
test cannot downgrade a MUST. Each suite keeps its catalogue in ``<suite>/requirements.py``
as a module-level ``CATALOGUE``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


class Level(enum.StrEnum):
    """RFC 2119 levels, strongest first."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"

    @property
    def rank(self) -> int:
        """0 for MUST, 1 for SHOULD, 2 for MAY: lower is stronger."""
        return list(Level).index(self)

    def at_least(self, other: Level) -> bool:
        """True when this level is as strong as ``other`` or stronger."""
        return self.rank <= other.rank


@dataclass(frozen=True)
class Requirement:
    """One requirement of a specification, stated in our own words.

    Attributes:
        id: stable identifier; the spec's own where it has one (``end-4a``).
        level: MUST, SHOULD or MAY.
        section: the spec section, as its heading reads (``"Pulling manifests"``).
        summary: one sentence in our own words.
        anchor: path and fragment below the catalogue's versioned base URL.
        note: the interpretation used where the spec is ambiguous.
    """

    id: str
    level: Level
    section: str
    summary: str
    anchor: str = ""
    note: str = ""


@dataclass(frozen=True)
class Catalogue:
    """The requirements of one suite, for one version of its specification."""

    suite: str
    spec_name: str
    spec_version: str
    base_url: str
    requirements: tuple[Requirement, ...] = field(default_factory=tuple)
    package: str = ""
    """Dotted prefix of the test modules that belong to this suite; ``conformance.<suite>``
    when empty."""

    def __post_init__(self) -> None:
        if not self.package:
            object.__setattr__(self, "package", f"conformance.{self.suite}")
        seen: set[str] = set()
        for req in self.requirements:
            if req.id in seen:
                raise ValueError(f"catalogue {self.suite!r}: duplicate requirement id {req.id!r}")
            seen.add(req.id)

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    def __contains__(self, req_id: object) -> bool:
        return any(r.id == req_id for r in self.requirements)

    def get(self, req_id: str) -> Requirement:
        """Return the requirement ``req_id``; ``KeyError`` names the catalogue when unknown."""
        for req in self.requirements:
            if req.id == req_id:
                return req
        raise KeyError(f"requirement {req_id!r} is not in the {self.suite!r} catalogue")

    def owns(self, module_name: str) -> bool:
        """True when the test module ``module_name`` belongs to this suite."""
        return module_name == self.package or module_name.startswith(self.package + ".")

    def link(self, req: Requirement) -> str:
        """The versioned link to the spec section of ``req``."""
        if not req.anchor:
            return self.base_url
        if req.anchor.startswith(("http://", "https://")):
            return req.anchor
        return self.base_url.rstrip("/") + "/" + req.anchor.lstrip("/")

    def strongest(self, req_ids: Iterable[str]) -> Level:
        """The strongest level among ``req_ids``: a test is as strict as its strictest id."""
        levels = [self.get(r).level for r in req_ids]
        return min(levels, key=lambda lvl: lvl.rank)

    def digest(self) -> str:
        """A sha256 over the catalogue's content, to refuse mixing catalogue versions."""
        body = [
            [r.id, r.level.value, r.section, r.summary, r.anchor]
            for r in sorted(self.requirements, key=lambda r: r.id)
        ]
        data = json.dumps([self.suite, self.spec_version, body], separators=(",", ":"))
        return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def requirements(
    level: Level, section: str, anchor: str, rows: Iterable[tuple[str, str]]
) -> list[Requirement]:
    """Build several requirements of one level and section from ``(id, summary)`` rows."""
    return [Requirement(rid, level, section, text, anchor) for rid, text in rows]
