"""Known deviations of named implementations, declared as data.

A suite keeps one YAML file per implementation in ``<suite>/deviations/<name>.yaml``; users add
their own with ``--deviations FILE``::

    implementation: runc
    deviations:
      - requirement: config-process-oom-score-adj
        tests: ["*unset*"]          # optional: fnmatch patterns on the test's node id
        versions: ["1.1.5"]         # optional: only these reported versions
        reason: why the implementation behaves this way
        upstream: https://github.com/opencontainers/runc/issues/NNNN

A failing test that one entry matches becomes ``known-deviation``: shown as such in the report
and still counted in the verdict. A passing test that an entry matches keeps the entry in its
record's ``deviation`` field (outcome still ``passed``), so stale entries surface in reports.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.core.errors import ConfigurationError


@dataclass(frozen=True)
class Deviation:
    """One declared deviation of one implementation."""

    implementation: str
    requirement: str
    reason: str
    upstream: str = ""
    tests: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    source: str = ""

    def matches(self, nodeid: str, requirement_ids: Iterable[str], version: str) -> bool:
        """True when this entry covers the test ``nodeid`` of the given implementation version."""
        if self.requirement not in requirement_ids:
            return False
        if self.versions and version not in self.versions:
            return False
        return not self.tests or any(fnmatch.fnmatch(nodeid, p) for p in self.tests)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the result record."""
        return {
            "implementation": self.implementation,
            "requirement": self.requirement,
            "reason": self.reason,
            "upstream": self.upstream,
            "source": self.source,
        }


def _entry(data: Any, implementation: str, source: str, index: int) -> Deviation:
    where = f"{source}: deviations[{index}]"
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where}: expected a mapping, got {type(data).__name__}")
    for key in ("requirement", "reason"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigurationError(f"{where}: field {key!r} must be a non-empty string")
    return Deviation(
        implementation=implementation,
        requirement=data["requirement"],
        reason=data["reason"],
        upstream=str(data.get("upstream", "")),
        tests=tuple(str(t) for t in data.get("tests", ())),
        versions=tuple(str(v) for v in data.get("versions", ())),
        source=source,
    )


def load_file(path: Path) -> list[Deviation]:
    """Read one deviation file; :class:`ConfigurationError` names the bad field."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigurationError(f"cannot read deviation file {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("implementation"), str):
        raise ConfigurationError(f"{path}: field 'implementation' must be a string")
    entries = data.get("deviations") or []
    if not isinstance(entries, list):
        raise ConfigurationError(f"{path}: field 'deviations' must be a list")
    name = data["implementation"]
    return [_entry(e, name, str(path), i) for i, e in enumerate(entries)]


def load_dir(directory: Path) -> list[Deviation]:
    """Read every ``*.yaml`` deviation file in ``directory`` (none when it does not exist)."""
    if not directory.is_dir():
        return []
    found: list[Deviation] = []
    for path in sorted(directory.glob("*.yaml")):
        found.extend(load_file(path))
    return found


def find(
    deviations: Iterable[Deviation],
    implementation: str,
    version: str,
    nodeid: str,
    requirement_ids: Iterable[str],
) -> Deviation | None:
    """The first declared deviation of ``implementation`` that covers this test."""
    ids = list(requirement_ids)
    for dev in deviations:
        if dev.implementation.lower() == implementation.lower() and dev.matches(
            nodeid, ids, version
        ):
            return dev
    return None
