"""Turning a layout's validation report into test outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conformance.core import Violation, current_evidence, not_applicable
from conformance.image.requirements import CATALOGUE
from conformance.image.validate import Report

MAX_LISTED = 10


@dataclass
class ValidatedLayout:
    """One layout under test and its validation report."""

    key: str
    path: Path
    report: Report

    def expect_clean(self, requirement: str, what: str) -> None:
        """Pass when ``requirement`` was evaluated and never broken.

        Args:
            requirement: the catalogue id.
            what: what the requirement applies to, for the not-applicable message.

        Raises:
            Violation: for the first finding; the others are listed in its detail.
        """
        evidence = current_evidence()
        evidence.note(
            f"layout {self.key}: {self.path}",
            checked=self.report.checked[requirement],
            validator_notes=self.report.notes[:MAX_LISTED],
        )
        findings = self.report.of(requirement)
        if not findings and not self.report.checked[requirement]:
            not_applicable(f"the layout has no {what}")
        if not findings:
            return
        for finding in findings[:MAX_LISTED]:
            evidence.note(
                f"{finding.where}: expected {finding.expected}, got {finding.got}",
                requirement=requirement,
            )
        first = findings[0]
        rest = findings[1:]
        detail = ""
        if rest:
            listed = "; ".join(f"{f.where}: got {f.got}" for f in rest[:MAX_LISTED])
            more = f" (+{len(rest) - MAX_LISTED} more)" if len(rest) > MAX_LISTED else ""
            detail = f"and {len(rest)} more finding(s): {listed}{more}"
        link = CATALOGUE.link(CATALOGUE.get(requirement))
        raise Violation(first.where, first.expected, first.got, link, detail=detail)
