"""The intervals the account pages show, as the reporting core defines them.

Account figures rest on a handful of responses, so they use Student's t rather than the
normal approximation — the core's ``survey.reporting.intervals.mean_interval`` and its test
``mean_p_value``, the same arithmetic as every other page — and a change against the
account's own baseline is shrunk toward its segment's change rather than suppressed (the
core's ``shrink``, which the Dashboard's movers use too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from survey.reporting.intervals import Shrunk, mean_p_value, shrink
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


__all__ = ["Estimate", "Shrunk", "mean_interval", "shrink", "t_test_p"]
