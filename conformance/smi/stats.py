"""The statistics of the weighted-split checks: a chi-square goodness-of-fit test.

The null hypothesis is that each backend's share is its weight over the sum of weights. It is
rejected at ``ALPHA``; the power against a share that is off by ``EFFECT`` (absolute) is
computed from the non-central chi-square distribution and recorded with the result, so a
report says how strong the check was, not only that it passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.001
EFFECT = 0.10


@dataclass(frozen=True)
class FitResult:
    """The outcome of one goodness-of-fit test."""

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    power: float

    @property
    def rejected(self) -> bool:
        """True when the observed counts are implausible under the weights."""
        return self.p_value < ALPHA

    def shares(self) -> dict[str, float]:
        """Observed share of each backend."""
        total = sum(self.observed.values()) or 1
        return {k: round(v / total, 4) for k, v in self.observed.items()}

    def to_dict(self) -> dict[str, object]:
        """JSON form for evidence."""
        return {
            "test": "chi-square goodness of fit",
            "alpha": ALPHA,
            "observed": self.observed,
            "observed_shares": self.shares(),
            "expected": {k: round(v, 2) for k, v in self.expected.items()},
            "statistic": round(self.statistic, 3),
            "p_value": self.p_value,
            "power_vs_10pt_shift": round(self.power, 4),
        }


def power(weights: Mapping[str, int], n: int, effect: float = EFFECT) -> float:
    """Power of the test with ``n`` requests against moving ``effect`` of the share between the
    first two backends (the smallest detectable error this check is designed for)."""
    total = sum(weights.values())
    p0 = [w / total for w in weights.values()]
    if len(p0) < 2:
        return 1.0
    p1 = list(p0)
    shift = min(effect, p1[1])
    p1[0] += shift
    p1[1] -= shift
    noncentrality = n * sum((a - b) ** 2 / b for a, b in zip(p1, p0, strict=True))
    df = len(p0) - 1
    critical = stats.chi2.ppf(1 - ALPHA, df)
    return float(stats.ncx2.sf(critical, df, noncentrality))


def fit(counts: Mapping[str, int], weights: Mapping[str, int]) -> FitResult:
    """Test ``counts`` (backend -> requests) against the positive ``weights``."""
    names = [k for k, w in weights.items() if w > 0]
    total_weight = sum(weights[k] for k in names)
    n = sum(counts.get(k, 0) for k in names)
    observed = [counts.get(k, 0) for k in names]
    expected = [n * weights[k] / total_weight for k in names]
    if len(names) == 1:
        statistic, p_value = 0.0, 1.0
    else:
        result = stats.chisquare(observed, expected)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return FitResult(
        observed=dict(zip(names, observed, strict=True)),
        expected=dict(zip(names, expected, strict=True)),
        statistic=statistic,
        p_value=p_value,
        power=power({k: weights[k] for k in names}, n),
    )
