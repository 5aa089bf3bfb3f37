"""The intervals the account pages show, as the reporting core defines them.

Account figures rest on a handful of responses, so they use Student's t rather than the
normal approximation — the core's ``survey.reporting.intervals.mean_interval`` and its test
``mean_p_value``, the same arithmetic as every other page — and a change against the
account's own baseline is shrunk toward its segment's change rather than suppressed (see
``shrink``: the documented method of My accounts, with the core's 95% normal quantile).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from survey.reporting.intervals import Z95, mean_p_value
from survey.reporting.intervals import mean_interval as core_mean_interval

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


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return mean, sd


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Estimate | None:
    """The mean of ``values`` with the core's two-sided t interval (as R's
    ``t.test(x)$conf.int``); ``None`` for no values, and an interval of the mean alone for one
    value (nothing to say how wide it is)."""
    n = len(values)
    if n == 0:
        return None
    mean, sd = _mean_sd(values)
    if n == 1:
        return Estimate(mean, math.nan, math.nan, 1)
    low, high = core_mean_interval(mean, sd, n, level)
    return Estimate(mean, float(low), float(high), n)


def t_test_p(values: Sequence[float]) -> float:
    """Two-sided p-value of the one-sample t-test that the mean of ``values`` is zero (the core's
    ``mean_p_value``, R's ``t.test(x)$p.value``); needs two or more values."""
    mean, sd = _mean_sd(values)
    return mean_p_value(mean, sd, len(values))


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
    estimate the prior and its spread stand alone. The interval is the posterior's normal 95%
    one, ``value ± z(0.975)·√variance``."""
    if raw is None or raw_variance is None or not math.isfinite(raw_variance):
        half = Z95 * math.sqrt(prior_variance)
        return Shrunk(prior, prior - half, prior + half, None, 0.0, n)
    tau2 = max(prior_variance, 1e-9)
    se2 = max(raw_variance, 1e-9)
    weight = tau2 / (tau2 + se2)
    value = weight * raw + (1 - weight) * prior
    half = Z95 * math.sqrt(weight * se2)
    return Shrunk(value, value - half, value + half, raw, weight, n)
