"""How far each indicator is from its benchmarks, and whether that gap is more than noise.

Two kinds of comparison, both with pingouin's ``ttest``:

* against a published figure: a one-sample t-test of our scores against that value;
* against the respondents' own ratings of a provider they named as leader: Welch's test.

The p-values of all comparisons shown are corrected together (Holm), and each gap is
worded for a manager: "Trust is 6 points below Brightline Partners (p = 0.01, n = 84)".

The dashboard keeps only sums, never every score, so the tests run on a stand-in sample
with exactly the same n, mean and standard deviation: t, the degrees of freedom and p of
both tests depend on nothing else (checked against the raw scores in the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pingouin as pg


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


def stand_in_sample(n: int, mean: float, sd: float) -> np.ndarray:
    """n values whose mean and sample standard deviation (ddof 1) are exactly ``mean`` and ``sd``."""
    if n < 2:
        raise ValueError("a sample needs at least two values")
    spread = np.array([1.0, -1.0] * (n // 2) + [0.0] * (n % 2))
    spread /= spread.std(ddof=1)
    return mean + sd * spread


def _p_one_sample(n: int, mean: float, sd: float, value: float) -> float:
    return float(pg.ttest(stand_in_sample(n, mean, sd), value)["p_val"].iloc[0])


def _p_welch(n: int, mean: float, sd: float, n_other: int, mean_other: float, sd_other: float) -> float:
    ours, theirs = stand_in_sample(n, mean, sd), stand_in_sample(n_other, mean_other, sd_other)
    return float(pg.ttest(ours, theirs, correction=True)["p_val"].iloc[0])


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
        p = _p_welch(int(us["n"]), us["mean"], us["sd"], int(row.n), row.mean, row.sd)
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
        p = _p_one_sample(int(us["n"]), us["mean"], us["sd"], row.value_100)
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
