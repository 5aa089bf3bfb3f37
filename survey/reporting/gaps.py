"""How far each indicator is from its benchmarks, and whether that gap is more than noise.

Two kinds of comparison, both Welch's t-test between two samples given by their summaries:

* against the respondents' own ratings of a provider they named as leader;
* against a published figure **that states its own n and standard deviation**. The figure is
  brought to our 0-100 scale by the explicit linear conversion of the benchmark import
  (``value_100 = (value - min) / (max - min) * 100``, the standard deviation multiplied by
  ``100 / (max - min)``), which assumes both instruments measure the same construct on an
  interval scale. A published figure without n and sd is a reference line, never a test: a
  figure from another study is a sample too, and treating it as an exact constant makes any
  difference look certain.

The p-values of all tests shown are corrected together with pingouin's ``multicomp`` (Holm),
and each gap is worded for a manager with both n: "Trust is 6 points below Brightline Partners
(p = 0.01, n = 84 and 120)".

The dashboard keeps sums, never every score, so the tests are computed from n, mean and
standard deviation, which is all they depend on. The tests check that t and p equal
pingouin's ``ttest(x, y, correction=True)`` on the raw scores; running pingouin itself would
mean loading every score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats


@dataclass(frozen=True)
class Gap:
    indicator: str
    label: str
    against: str  # the competitor or the study
    kind: str  # PUBLISHED, REFERENCE or RATED
    ours: float  # 0-100
    theirs: float  # 0-100
    n: int  # our responses
    n_theirs: int | None
    p: float | None  # uncorrected; None: not tested (a reference figure)
    p_corrected: float | None

    @property
    def difference(self) -> float:
        return self.ours - self.theirs

    @property
    def tested(self) -> bool:
        return self.p_corrected is not None

    @property
    def significant(self) -> bool:
        return self.p_corrected is not None and self.p_corrected < 0.05

    def sentence(self) -> str:
        points = round(abs(self.difference))
        if points == 0:
            where = f"on a par with {self.against}"
        else:
            side = "above" if self.difference > 0 else "below"
            where = f"{points} point{'s' if points != 1 else ''} {side} {self.against}"
        p = self.p_corrected
        if p is None:
            return f"{self.label} is {where} (not tested: the figure has no n and sd; our n = {self.n})"
        shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
        both = f"n = {self.n}" if self.n_theirs is None else f"n = {self.n} and {self.n_theirs}"
        return f"{self.label} is {where} ({shown}, {both})"


RATED = "rated by respondents"
PUBLISHED = "published (n and sd)"
REFERENCE = "published, reference only"


def _summary(n: Any, sd: Any) -> bool:
    """A published figure can be tested only with its own n (2 or more) and a positive sd."""
    return n is not None and sd is not None and not pd.isna(n) and not pd.isna(sd) and n >= 2 and sd > 0


def p_welch(n: Any, mean: Any, sd: Any, n_other: Any, mean_other: Any, sd_other: Any) -> Any:
    """Two-sided p of Welch's t-test between two samples given as (n, mean, sd)
    (numbers, or arrays of them: one scipy call for many tests)."""
    result = stats.ttest_ind_from_stats(mean, sd, n, mean_other, sd_other, n_other, equal_var=False)
    return float(result.pvalue) if np.ndim(result.pvalue) == 0 else result.pvalue


def gaps(
    own: pd.DataFrame,
    leaders: pd.DataFrame,
    published: pd.DataFrame,
    labels: dict[str, str],
    min_n: int,
) -> list[Gap]:
    """Compare our profile with every benchmark that has enough data.

    ``own``: indicator, n, mean, sd (0-100); ``leaders``: the same plus ``name`` for the
    providers respondents rated; ``published``: indicator, name, value_100 and, where the
    study gives them, n and sd_100 (figures on 0-100).
    """
    # Plain rows and a dict, and one scipy call for every test: per-row pandas look-ups and
    # scipy calls would cost more than the dashboard's queries.
    ours = {row.indicator: row for row in own.itertuples(index=False)}
    tested: list[tuple[str, str, str, Any, float, float, float]] = []  # ..., us, n, mean, sd
    for row in leaders.itertuples(index=False):
        us = ours.get(row.indicator)
        if us is not None and row.n >= min_n and us.n >= min_n and us.sd > 0 and row.sd > 0:
            tested.append((row.indicator, row.name, RATED, us, row.n, row.mean, row.sd))
    reference: list[Gap] = []
    for row in published.itertuples(index=False):
        us = ours.get(row.indicator)
        if us is None or us.n < min_n or us.sd <= 0:
            continue
        n, sd = getattr(row, "n", None), getattr(row, "sd_100", None)
        if n is not None and sd is not None and _summary(n, sd):
            tested.append((row.indicator, row.name, PUBLISHED, us, float(n), row.value_100, float(sd)))
        else:
            label = labels[row.indicator]
            reference.append(
                Gap(
                    row.indicator,
                    label,
                    row.name,
                    REFERENCE,
                    us.mean,
                    row.value_100,
                    int(us.n),
                    None,
                    None,
                    None,
                )
            )
    if not tested:
        return reference
    columns = [
        np.array(column, dtype=float)
        for column in zip(
            *((us.n, us.mean, us.sd, n, mean, sd) for *_, us, n, mean, sd in tested), strict=True
        )
    ]
    p_values = np.atleast_1d(p_welch(*columns))
    _, corrected = pg.multicomp(list(p_values), method="holm")
    found = [
        Gap(
            indicator,
            labels[indicator],
            name,
            kind,
            us.mean,
            float(mean),
            int(us.n),
            int(n),
            float(p),
            float(p_corrected) if not math.isnan(p_corrected) else 1.0,
        )
        for (indicator, name, kind, us, n, mean, _sd), p, p_corrected in zip(
            tested, p_values, corrected, strict=True
        )
    ]
    return found + reference
