"""The suites this harness ships, and where each keeps its catalogue and options."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class SuiteInfo:
    """Static facts about one suite.

    Attributes:
        name: the suite's name on the command line (``distribution``).
        title: the specification it checks, for reports.
        timeout: default per-test timeout in seconds; a hung target fails the test.
        needs_root: the suite drives kernel features and skips when not root.
    """

    name: str
    title: str
    timeout: float
    needs_root: bool = False

    @property
    def package(self) -> str:
        """The suite's Python package."""
        return f"conformance.{self.name}"

    def module(self, name: str) -> ModuleType | None:
        """Import ``<suite>.<name>``; ``None`` when the suite does not ship it yet."""
        try:
            return importlib.import_module(f"{self.package}.{name}")
        except ModuleNotFoundError as err:
            if (
                err.name
                and self.package.startswith(err.name.rsplit(".", 1)[0])
                and (err.name in (self.package, f"{self.package}.{name}"))
            ):
                return None
            raise


SUITES: dict[str, SuiteInfo] = {
    s.name: s
    for s in (
        SuiteInfo("image", "OCI Image Format Specification", timeout=120),
        SuiteInfo("distribution", "OCI Distribution Specification", timeout=120),
        SuiteInfo("runtime", "OCI Runtime Specification", timeout=60, needs_root=True),
        SuiteInfo("cri", "Kubernetes Container Runtime Interface", timeout=120, needs_root=True),
        SuiteInfo("cni", "Container Network Interface", timeout=60, needs_root=True),
        SuiteInfo("csi", "Container Storage Interface", timeout=60, needs_root=True),
        SuiteInfo("smi", "Service Mesh Interface", timeout=120),
    )
}


def suite_of_module(module_name: str) -> SuiteInfo | None:
    """The shipped suite a test module belongs to, by its dotted name."""
    for suite in SUITES.values():
        if module_name == suite.package or module_name.startswith(suite.package + "."):
            return suite
    return None
