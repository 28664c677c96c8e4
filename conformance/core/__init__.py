"""The harness core: catalogues, outcomes, evidence, options and the result model.

Exception tree (split by who is at fault)::

    ConformanceError
    ├── Violation                  the implementation under test broke a requirement
    └── HarnessError               the harness, its configuration or the host broke
        ├── ConfigurationError     a target option or data file is wrong
        └── EnvironmentProblem     the host lacks something the run needs

Skips are pytest skips carrying a category (see :mod:`conformance.core.outcomes`).
"""

from conformance.core.catalogue import Catalogue, Level, Requirement
from conformance.core.errors import (
    ConfigurationError,
    ConformanceError,
    EnvironmentProblem,
    HarnessError,
    Violation,
)
from conformance.core.evidence import Evidence, current_evidence
from conformance.core.options import Option
from conformance.core.outcomes import (
    Outcome,
    SkipCategory,
    check,
    check_equal,
    not_applicable,
    skip_capability,
    skip_config,
    skip_host,
)

__all__ = [
    "Catalogue",
    "ConfigurationError",
    "ConformanceError",
    "EnvironmentProblem",
    "Evidence",
    "HarnessError",
    "Level",
    "Option",
    "Outcome",
    "Requirement",
    "SkipCategory",
    "Violation",
    "check",
    "check_equal",
    "current_evidence",
    "not_applicable",
    "skip_capability",
    "skip_config",
    "skip_host",
]
