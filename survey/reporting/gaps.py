"""How far each indicator is from its benchmarks, and whether that gap is more than noise.

Two kinds of comparison:

* against a published figure: a one-sample t-test of our scores against that value;
* against the respondents' own ratings of a provider they named as leader: Welch's test.

The p-values of all comparisons shown are corrected together with pingouin's ``multicomp``
(Holm), and each gap is worded for a manager: "Trust is 6 points below Brightline Partners
(p = 0.01, n = 84)".

The dashboard keeps sums, never every score, so both t-tests are computed from n, mean and
standard deviation, which is all they depend on. The tests check that t and p equal
pingouin's ``ttest`` on the raw scores (``ttest(x, value)`` and ``ttest(x, y,
correction=True)``); running pingouin itself would mean loading every score.
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
    kind: str  # "published" or "rated by respondents"
    ours: float  # 0-100
    theirs: float  # 0-100
    n: int  # our responses
    n_theirs: int | None
    p: float  # uncorrected
    p_corrected: float

    @property
    def difference(self) -> float:
        return self.ours - self.theirs

    @property
    def significant(self) -> bool:
        return self.p_corrected < 0.05

    def sentence(self) -> str:
        points = round(abs(self.difference))
        if points == 0:
            where = f"on a par with {self.against}"
        else:
            side = "above" if self.difference > 0 else "below"
            where = f"{points} point{'s' if points != 1 else ''} {side} {self.against}"
        p = self.p_corrected
        shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
        return f"{self.label} is {where} ({shown}, n = {self.n})"


def p_one_sample(n: Any, mean: Any, sd: Any, value: Any) -> Any:
    """Two-sided p of a one-sample t-test of a sample (n, mean, sd) against ``value``
    (numbers, or arrays of them: one scipy call for many tests)."""
    t = (np.asarray(mean) - value) / (np.asarray(sd) / np.sqrt(n))
    p = 2 * stats.t.sf(np.abs(t), np.asarray(n) - 1)
    return float(p) if np.ndim(p) == 0 else p


def p_welch(n: Any, mean: Any, sd: Any, n_other: Any, mean_other: Any, sd_other: Any) -> Any:
    """Two-sided p of Welch's t-test between two samples given as (n, mean, sd)
    (numbers, or arrays of them)."""
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
    providers respondents rated; ``published``: indicator, name, value_100 (figures).
    """
    # Plain rows and a dict, and one scipy call per kind of test: per-row pandas look-ups
    # and scipy calls would cost more than the dashboard's queries.
    ours = {row.indicator: row for row in own.itertuples(index=False)}
    rated = [
        (row, ours[row.indicator])
        for row in leaders.itertuples(index=False)
        if row.indicator in ours and row.n >= min_n
    ]
    rated = [(row, us) for row, us in rated if us.n >= min_n and us.sd > 0 and row.sd > 0]
    figures = [
        (row, ours[row.indicator]) for row in published.itertuples(index=False) if row.indicator in ours
    ]
    figures = [(row, us) for row, us in figures if us.n >= min_n and us.sd > 0]
    if not rated and not figures:
        return []
    columns = list(zip(*((us.n, us.mean, us.sd, row.n, row.mean, row.sd) for row, us in rated), strict=True))
    welch = p_welch(*(np.array(column, dtype=float) for column in columns)) if rated else []
    columns = list(zip(*((us.n, us.mean, us.sd, row.value_100) for row, us in figures), strict=True))
    one_sample = p_one_sample(*(np.array(column, dtype=float) for column in columns)) if figures else []
    found = [
        Gap(
            row.indicator,
            labels[row.indicator],
            row.name,
            "rated by respondents",
            us.mean,
            row.mean,
            int(us.n),
            int(row.n),
            float(p),
            float(p),
        )
        for (row, us), p in zip(rated, welch, strict=True)
    ] + [
        Gap(
            row.indicator,
            labels[row.indicator],
            row.name,
            "published",
            us.mean,
            row.value_100,
            int(us.n),
            None if pd.isna(row.n) else int(row.n),
            float(p),
            float(p),
        )
        for (row, us), p in zip(figures, one_sample, strict=True)
    ]
    _, corrected = pg.multicomp([gap.p for gap in found], method="holm")
    return [
        Gap(**{**gap.__dict__, "p_corrected": float(p) if not math.isnan(p) else 1.0})
        for gap, p in zip(found, corrected, strict=True)
    ]
