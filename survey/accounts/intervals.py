"""The intervals the account pages show, in one place.

Account figures rest on a handful of responses, so they use Student's t rather than the
normal approximation, and a change against the account's own baseline is shrunk toward its
segment's change rather than suppressed (see ``shrink``). When the reporting core offers one
interval function for every page, these are the two calls to point at it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Estimate | None:
    """The mean with its two-sided t interval (as R's ``t.test(x)$conf.int``); ``None`` for no
    values, and an interval of the mean alone for one value (nothing to say how wide it is)."""
    n = len(values)
    if n == 0:
        return None
    mean = math.fsum(values) / n
    if n == 1:
        return Estimate(mean, math.nan, math.nan, 1)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def t_test_p(values: Sequence[float]) -> float:
    """Two-sided p-value of the one-sample t-test that the mean is zero (R's ``t.test(x)$p.value``),
    the test whose inversion is ``mean_interval``; needs two or more values."""
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))


@dataclass(frozen=True)
class Shrunk:
    """An account's change shrunk toward its segment: ``weight`` is the share of the estimate
    that is the account's own (0 with no own data, near 1 with many responses)."""

    value: float
    low: float
    high: float
    raw: float | None
    weight: float
    n: int


def shrink(
    raw: float | None, raw_variance: float | None, prior: float, prior_variance: float, n: int
) -> Shrunk:
    """Normal-normal (empirical Bayes) shrinkage of ``raw`` toward ``prior``.

    The posterior mean is ``w·raw + (1 - w)·prior`` with ``w = τ² / (τ² + se²)``, and its
    variance ``w·se²`` (Gelman et al., *Bayesian Data Analysis*, 3rd ed., §5.4); with no own
    estimate the prior and its spread stand alone."""
    z = float(stats.norm.ppf((1 + LEVEL) / 2))
    if raw is None or raw_variance is None or not math.isfinite(raw_variance):
        half = z * math.sqrt(prior_variance)
        return Shrunk(prior, prior - half, prior + half, None, 0.0, n)
    tau2 = max(prior_variance, 1e-9)
    se2 = max(raw_variance, 1e-9)
    weight = tau2 / (tau2 + se2)
    value = weight * raw + (1 - weight) * prior
    half = z * math.sqrt(weight * se2)
    return Shrunk(value, value - half, value + half, raw, weight, n)
