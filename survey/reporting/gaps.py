"""How far each indicator is from its benchmarks, and whether that gap is more than noise.

Two kinds of test, and one kind of figure that is never tested:

* **rated by respondents** (``RATED``): a respondent who names a provider as the field's leader
  rates it on one statement per indicator, and has rated us on the matching statement
  (``Instrument.leader_counterpart``: "keeps its promises" beside "when we make you a promise,
  we keep it"). The two ratings come from the same person, so they are compared as pairs: the
  mean difference (ours - leader's, 0-100) with its Student-t 95% interval, the paired t-test
  (R's ``t.test(a, b, paired = TRUE)``) and Cohen's d_av (``paired_from_sums``). Our whole
  scale is never set against the leader's single statement;
* **published with n and sd** (``PUBLISHED``): a figure from another study is a sample too.
  It is brought to our 0-100 scale by the explicit linear conversion of the benchmark import
  (``value_100 = (value - min) / (max - min) * 100``, the standard deviation multiplied by
  ``100 / (max - min)``), which assumes both instruments measure the same construct on an
  interval scale, and compared by Welch's t-test from the two summaries, with the Welch 95%
  interval of the difference;
* **published, reference only** (``REFERENCE``): a figure without its own n and sd is drawn as a
  reference line and never gets a p-value: treating it as an exact constant would make any
  difference look certain.

The p-values of all tests shown are corrected together with pingouin's ``multicomp`` (Holm),
and each gap is worded for a manager with its n: "Trust is 6 points below Brightline Partners
(paired, p = 0.01, 95% CI -9.8 to -2.1, n = 84 rating both)".

The dashboard keeps sums, never every score, so the tests are computed from sums (pairs: n, Σa,
Σb, Σab, Σa², Σb²; published: n, mean, sd), which is all they depend on. The tests check that
t, p, the interval and d equal pingouin's ``ttest`` on the raw scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats

from survey.reporting.aggregates import PAIR_SUMS
from survey.reporting.intervals import (
    clustered_from_moments,
    difference_interval,
    effective,
    paired_from_sums,
    t_upper_tail,
)
from survey.reporting.moments import difference_sums
from survey.reporting.people import Enough


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
    low: float | None = None  # 95% interval of the difference (ours - theirs)
    high: float | None = None
    effect: float | None = None  # paired: Cohen's d_av, signed as the difference
    statement: str | None = None  # paired: our statement the leader's rating is set beside
    n_eff: float | None = None  # our answers' effective n, clustered by account

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
        interval = (
            "" if self.low is None or self.high is None else f", 95% CI {self.low:+.1f} to {self.high:+.1f}"
        )
        clustered = effective(self.n, self.n_eff)
        if self.kind == RATED:
            on = f" on {self.statement}" if self.statement else ""
            rated = f"n = {self.n} rating both{clustered}"
            return f"{self.label} is {where}{on} (paired, {shown}{interval}, {rated})"
        both = f"n = {self.n}" if self.n_theirs is None else f"n = {self.n} and {self.n_theirs}"
        both += f"{clustered} of ours" if clustered else ""
        return f"{self.label} is {where} ({shown}{interval}, {both})"


RATED = "rated by respondents"
PUBLISHED = "published (n and sd)"
REFERENCE = "published, reference only"


def _summary(n: Any, sd: Any) -> bool:
    """A published figure can be tested only with its own n (2 or more) and a positive sd."""
    return n is not None and sd is not None and not pd.isna(n) and not pd.isna(sd) and n >= 2 and sd > 0


def _effective(us: Any) -> float:
    """Our figure's effective n (clustered by account) where the profile gives it, else its n:
    what a test against another sample may count our answers as."""
    n_eff = getattr(us, "n_eff", None)
    return float(us.n) if n_eff is None or pd.isna(n_eff) else float(n_eff)


def p_welch(n: Any, mean: Any, sd: Any, n_other: Any, mean_other: Any, sd_other: Any) -> Any:
    """Two-sided p of Welch's t-test between two samples given as (n, mean, sd)
    (numbers, or arrays of them: one scipy call for many tests)."""
    result = stats.ttest_ind_from_stats(mean, sd, n, mean_other, sd_other, n_other, equal_var=False)
    return float(result.pvalue) if np.ndim(result.pvalue) == 0 else result.pvalue


def gaps(
    own: pd.DataFrame,
    paired: pd.DataFrame,
    published: pd.DataFrame,
    labels: dict[str, str],
    min_n: int,
    statements: dict[str, str] | None = None,
    *,
    people: Enough | None = None,
) -> list[Gap]:
    """Compare our profile with every benchmark that has enough data.

    ``own``: indicator, n, mean, sd (0-100); ``paired``: indicator, ``name`` of the leader and
    the pair sums on 1-7 (n, sum_a, sum_b, sum_ab, sum_aa, sum_bb; ``a`` ours, ``b`` the
    leader's) and, where the pairs come from several accounts, the clusters' moments of the
    difference (``moments.PAIRED``); ``published``: indicator, name, value_100 and, where the
    study gives them, n and sd_100 (figures on 0-100). ``statements`` names our matching
    statement per indicator. A leader is compared only on pairs from ``min_n`` answers and,
    asked of ``people`` (on the paired ratings, by indicator and ``competitor_id``), as many
    people.
    """
    # Plain rows and a dict, and one scipy call for the Welch tests: per-row pandas look-ups
    # and scipy calls would cost more than the dashboard's queries.
    ours = {row.indicator: row for row in own.itertuples(index=False)}
    found: list[Gap] = []
    ordered = paired.sort_values(["indicator", "name"], kind="stable") if len(paired) else paired
    for row in ordered.to_dict("records"):
        indicator, name = row["indicator"], row["name"]
        if row["n"] < min_n:
            continue
        if people is not None and "competitor_id" in row:
            pairs = {"indicator": indicator, "competitor_id": int(row["competitor_id"])}
            if not people(pairs, int(row["n"])):
                continue
        pair = paired_from_sums(*(float(row[column]) for column in PAIR_SUMS))
        if pair is None or pair.sd_difference <= 0:
            continue
        p, n_eff = pair.p, float(pair.n)
        low: float | None = pair.low
        high: float | None = pair.high
        if row.get("clusters", 1) > 1:
            # The respondents' accounts are the clusters: the mean difference's se is
            # cluster-robust, with t on accounts - 1 (``clustered_from_moments`` of d = a - b).
            moments = difference_sums(row) | {name: row[name] for name in ("clusters", "ss", "sn", "nn")}
            d = clustered_from_moments(**{name: [value] for name, value in moments.items()})
            se = float(d.se[0]) * 100 / 6
            if se > 0:
                p = float(2 * t_upper_tail(abs(pair.difference) / se, int(d.clusters[0]) - 1))
                low, high = float(d.low[0]) * 100 / 6, float(d.high[0]) * 100 / 6
                n_eff = float(d.n_eff[0])
        found.append(
            Gap(
                str(indicator),
                labels[str(indicator)],
                str(name),
                RATED,
                pair.mean_a,
                pair.mean_b,
                pair.n,
                pair.n,
                p,
                None,
                low,
                high,
                pair.effect,
                (statements or {}).get(str(indicator)),
                n_eff,
            )
        )
    welch: list[tuple[str, str, Any, float, float, float]] = []  # indicator, name, us, n, mean, sd
    reference: list[Gap] = []
    for row in published.itertuples(index=False):
        us = ours.get(row.indicator)
        if us is None or us.n < min_n or us.sd <= 0:
            continue
        n, sd = getattr(row, "n", None), getattr(row, "sd_100", None)
        if n is not None and sd is not None and _summary(n, sd):
            welch.append((row.indicator, row.name, us, float(n), row.value_100, float(sd)))
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
                    n_eff=_effective(us),
                )
            )
    if welch:
        columns = [
            np.array(column, dtype=float)
            for column in zip(
                *((_effective(us), us.mean, us.sd, n, mean, sd) for *_, us, n, mean, sd in welch), strict=True
            )
        ]
        p_values = np.atleast_1d(p_welch(*columns))
        for (indicator, name, us, n, mean, sd), p in zip(welch, p_values, strict=True):
            interval = difference_interval(us.mean, us.sd, _effective(us), float(mean), sd, int(n))
            low, high = (None, None) if interval is None else interval
            found.append(
                Gap(
                    indicator,
                    labels[indicator],
                    name,
                    PUBLISHED,
                    us.mean,
                    float(mean),
                    int(us.n),
                    int(n),
                    float(p),
                    None,
                    low,
                    high,
                    n_eff=_effective(us),
                )
            )
    if not found:
        return reference
    _, corrected = pg.multicomp([gap.p for gap in found], method="holm")
    return [
        replace(gap, p_corrected=float(p) if not math.isnan(p) else 1.0)
        for gap, p in zip(found, corrected, strict=True)
    ] + reference
