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


def p_one_sample(n: int, mean: float, sd: float, value: float) -> float:
    """Two-sided p of a one-sample t-test of a sample (n, mean, sd) against ``value``."""
    t = (mean - value) / (sd / math.sqrt(n))
    return float(2 * stats.t.sf(abs(t), n - 1))


def p_welch(n: int, mean: float, sd: float, n_other: int, mean_other: float, sd_other: float) -> float:
    """Two-sided p of Welch's t-test between two samples given as (n, mean, sd)."""
    result = stats.ttest_ind_from_stats(mean, sd, n, mean_other, sd_other, n_other, equal_var=False)
    return float(result.pvalue)


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
    found: list[Gap] = []
    ours = own.set_index("indicator")
    for row in leaders.itertuples(index=False):
        if row.indicator not in ours.index or row.n < min_n:
            continue
        us = ours.loc[row.indicator]
        if us["n"] < min_n or not us["sd"] > 0 or not row.sd > 0:
            continue
        p = p_welch(int(us["n"]), us["mean"], us["sd"], int(row.n), row.mean, row.sd)
        found.append(
            Gap(
                row.indicator,
                labels[row.indicator],
                row.name,
                "rated by respondents",
                us["mean"],
                row.mean,
                int(us["n"]),
                int(row.n),
                p,
                p,
            )
        )
    for row in published.itertuples(index=False):
        if row.indicator not in ours.index:
            continue
        us = ours.loc[row.indicator]
        if us["n"] < min_n or not us["sd"] > 0:
            continue
        p = p_one_sample(int(us["n"]), us["mean"], us["sd"], row.value_100)
        n_theirs = None if pd.isna(row.n) else int(row.n)
        found.append(
            Gap(
                row.indicator,
                labels[row.indicator],
                row.name,
                "published",
                us["mean"],
                row.value_100,
                int(us["n"]),
                n_theirs,
                p,
                p,
            )
        )
    if not found:
        return []
    _, corrected = pg.multicomp([gap.p for gap in found], method="holm")
    return [
        Gap(**{**gap.__dict__, "p_corrected": float(p) if not math.isnan(p) else 1.0})
        for gap, p in zip(found, corrected, strict=True)
    ]
