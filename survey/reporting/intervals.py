"""The two intervals every page shows: a mean's and a net promoter score's.

Every figure with an interval on the Overview, Dashboard, Account, Benchmarks and What works
pages comes from these two functions, so one month's score reads the same wherever it appears
(My accounts' change is shrunk toward its segment, ``survey.accounts.intervals.shrink``, with
this module's ``Z95``).

* ``mean_interval``: the Student-t 95% interval of a mean, ``mean ± t(0.975, n-1)·sd/√n``,
  as R's ``t.test(x)$conf.int`` gives it (another ``level`` where many intervals are read
  together), and ``mean_p_value`` its test; ``mean_from_sums`` first turns running sums
  (n, Σx, Σx²) of scores on 1-7 into mean and sd on 0-100.
* ``nps_interval``: NPS with the adjusted-Wald 95% interval (Rocks 2016, "Confidence
  intervals for the Net Promoter Score"): add 3/4 to the promoter and detractor counts and
  3 to n, then ``p - q ± z·√((p + q - (p - q)²)/n)``, clipped to -100..100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from scipy import special, stats

from survey.reporting.moments import CELL_SUMS, CHANGE, LEVEL, difference_sums

Z95 = float(stats.norm.ppf(0.975))


def t_quantile(probability: float, df: Any) -> Any:
    """Student t's quantile: ``scipy.stats.t.ppf(probability, df)`` is this same function
    (``special.stdtrit``) behind argument checks that cost a hundred times more than it, and a
    page asks for hundreds. NaN where ``df`` is not positive."""
    return special.stdtrit(df, probability)


def t_upper_tail(t: Any, df: Any) -> Any:
    """P(T > t) of Student's t with ``df`` degrees of freedom (``scipy.stats.t.sf``, its
    ``special.stdtr(df, -t)``, without the checks)."""
    return special.stdtr(df, -np.asarray(t, dtype=np.float64))


def to_100(score: Any) -> Any:
    """A score on the 1-7 scale as 0-100: ``100·(score - 1)/6``."""
    return (score - 1) * 100 / 6


@dataclass(frozen=True)
class MeanFigures:
    """Per cell: n, mean, sd and the 95% interval (arrays, or scalars for one figure)."""

    n: Any
    mean: Any
    sd: Any
    low: Any
    high: Any


def mean_interval(mean: Any, sd: Any, n: Any, level: float = 0.95) -> tuple[Any, Any]:
    """Student-t interval of a mean (scalars or arrays), 95% unless ``level`` says otherwise
    (a Bonferroni-widened interval over m comparisons is ``level = 1 - 0.05/m``); NaN where n < 2."""
    n = np.asarray(n, dtype=np.float64)
    quantile = (1 + level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.where(n > 1, t_quantile(quantile, np.clip(n - 1, 1, None)) * sd / np.sqrt(n), np.nan)
    return mean - half, mean + half


def mean_p_value(mean: float, sd: float, n: int) -> float:
    """Two-sided p-value of the one-sample t-test that the true mean is zero, the test whose
    inversion is ``mean_interval`` (R's ``t.test(x)$p.value``); needs n >= 2."""
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * t_upper_tail(abs(mean) / (sd / np.sqrt(n)), n - 1))


def difference_interval(
    mean: float, sd: float, n: float, other_mean: float, other_sd: float, other_n: float
) -> tuple[float, float] | None:
    """Welch 95% interval of ``mean - other_mean`` from two independent groups' summaries (the
    Welch-Satterthwaite degrees of freedom, as ``scipy.stats.ttest_ind_from_stats(...,
    equal_var=False)``); None where either group has fewer than two values. One pair of
    ``difference_intervals``."""
    if n < 2 or other_n < 2:
        return None
    low, high = difference_intervals(mean, sd, n, other_mean, other_sd, other_n)
    return float(low), float(high)


def difference_intervals(
    mean: Any, sd: Any, n: Any, other_mean: Any, other_sd: Any, other_n: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``difference_interval`` of many pairs of summaries at once (arrays, element by element):
    the bounds, NaN where either group has fewer than two values; where both groups' values
    are all alike, the difference itself."""
    n, other_n = np.asarray(n, dtype=np.float64), np.asarray(other_n, dtype=np.float64)
    enough = (n >= 2) & (other_n >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.asarray(sd, dtype=np.float64) ** 2 / n
        second = np.asarray(other_sd, dtype=np.float64) ** 2 / other_n
        spread = first + second
        df = spread**2 / (first**2 / (n - 1) + second**2 / (other_n - 1))
        half = np.where(spread == 0, 0.0, t_quantile(0.975, df) * np.sqrt(spread))
    difference = np.asarray(mean, dtype=np.float64) - np.asarray(other_mean, dtype=np.float64)
    return np.where(enough, difference - half, np.nan), np.where(enough, difference + half, np.nan)


@dataclass(frozen=True)
class PairedFigures:
    """Two ratings by the same respondents, on 0-100: each side's mean and sd, the mean
    difference ``a - b`` with its Student-t 95% interval and paired t-test, and Cohen's d_av
    (the mean difference over the average of the two sds, Lakens 2013; pingouin's ``ttest(a, b,
    paired=True)`` reports its absolute value)."""

    n: int
    mean_a: float
    mean_b: float
    sd_a: float
    sd_b: float
    difference: float
    sd_difference: float
    low: float
    high: float
    p: float
    effect: float


def paired_from_sums(
    n: float, sum_a: float, sum_b: float, sum_ab: float, sum_aa: float, sum_bb: float
) -> PairedFigures | None:
    """``PairedFigures`` from the sums over pairs of scores on 1-7 (n, Σa, Σb, Σab, Σa², Σb²):
    the differences' sums are Σa - Σb and Σa² + Σb² - 2Σab (``moments.difference_sums``). None
    below two pairs."""
    if n < 2:
        return None
    a, b = mean_from_sums(n, sum_a, sum_aa), mean_from_sums(n, sum_b, sum_bb)
    difference = float(a.mean - b.mean)
    pairs = {"n": n, "sum_a": sum_a, "sum_b": sum_b, "sum_ab": sum_ab, "sum_aa": sum_aa, "sum_bb": sum_bb}
    d = difference_sums(pairs)
    mean_d, sum_dd = d["total"] / n, d["total_sq"]
    sd_difference = math.sqrt(max(0.0, (sum_dd - n * mean_d**2) / (n - 1))) * 100 / 6
    low, high = mean_interval(difference, sd_difference, n)
    spread = math.sqrt((float(a.sd) ** 2 + float(b.sd) ** 2) / 2)
    return PairedFigures(
        n=int(n),
        mean_a=float(a.mean),
        mean_b=float(b.mean),
        sd_a=float(a.sd),
        sd_b=float(b.sd),
        difference=difference,
        sd_difference=sd_difference,
        low=float(low),
        high=float(high),
        p=mean_p_value(difference, sd_difference, int(n)),
        effect=difference / spread if spread > 0 else math.nan,
    )


@dataclass(frozen=True)
class Clustered:
    """Per group (arrays): a mean and the cluster-robust standard error of it, on the scale of
    the sums, with the number of clusters and the effective n (``sd² / se²``, at most n)."""

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    se: np.ndarray
    clusters: np.ndarray
    n_eff: np.ndarray
    low: np.ndarray
    high: np.ndarray


def clustered_from_sums(group: Any, n: Any, total: Any, total_sq: Any, groups: int) -> Clustered:
    """Means of ``groups`` groups from per-cluster sums (one row per group and cluster: the
    group's index in 0..groups-1, n, Σx, Σx²), with cluster-robust (CR1) standard errors: the
    clusters' moments (``moments.LEVEL``) summed per group, taken by ``clustered_from_moments``."""
    index = np.asarray(group, dtype=np.int64)
    cells = {
        name: np.asarray(values, dtype=np.float64)
        for name, values in zip(CELL_SUMS, (n, total, total_sq), strict=True)
    }
    summed = [
        np.bincount(index, weights=np.asarray(term(cells), dtype=np.float64), minlength=groups)
        for term in LEVEL.terms.values()
    ]
    return clustered_from_moments(*summed)


def clustered_from_moments(
    n: Any, total: Any, total_sq: Any, clusters: Any, ss: Any, sn: Any, nn: Any
) -> Clustered:
    """Means of groups with cluster-robust (CR1) standard errors, from each group's moments
    (``moments.LEVEL``: n, Σx, Σx², G, ΣS_g², ΣS_g·n_g, Σn_g²).

    Answers from one account are not independent: its contacts answer repeatedly and share a
    relationship. The mean is that of every answer; its variance is that of the clusters'
    residual sums, ``G/(G-1) · Σ_g (S_g - n_g·mean)² / n²`` (Liang & Zeger 1986, with the small-
    sample factor of Stata and statsmodels' ``OLS(...).fit(cov_type="cluster")``), where
    ``Σ_g (S_g - n_g·mean)² = ΣS_g² - 2·mean·ΣS_g·n_g + mean²·Σn_g²``; the 95% interval is
    ``mean ± t(0.975, G-1)·se``. The effective n is the number of independent answers that would
    give the same se (the raw n over the design effect). NaN with fewer than two clusters."""
    n_all, sums, squares, count, ss, sn, nn = (
        np.asarray(value, dtype=np.float64) for value in (n, total, total_sq, clusters, ss, sn, nn)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sums / n_all
        variance = np.where(n_all > 1, (squares - n_all * mean**2) / (n_all - 1), np.nan).clip(min=0)
        # The residual sums of squares; clipped at zero, where rounding leaves a tiny negative.
        spread = (ss - 2 * mean * sn + mean**2 * nn).clip(min=0)
        se = np.where(count > 1, np.sqrt(count / (count - 1) * spread) / n_all, np.nan)
        n_eff = np.where(se > 0, np.minimum(n_all, variance / se**2), n_all)
        half = t_quantile(0.975, np.clip(count - 1, 1, None)) * se
    return Clustered(
        n=n_all.astype(np.int64),
        mean=mean,
        sd=np.sqrt(variance),
        se=se,
        clusters=count.astype(np.int64),
        n_eff=n_eff,
        low=mean - half,
        high=mean + half,
    )


class Change(NamedTuple):
    """A change in a mean with its 95% interval and standard error."""

    change: float
    low: float
    high: float
    se: float


@dataclass(frozen=True)
class Changes:
    """Per pair (arrays): a change in a mean, its cluster-robust 95% interval and standard
    error; NaN where it is not defined (``clustered_changes``)."""

    change: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray


def clustered_changes(pair: Any, before: tuple[Any, Any], after: tuple[Any, Any], pairs: int) -> Changes:
    """The change in a mean between two periods for each of ``pairs`` groups, with its
    cluster-robust 95% interval and standard error. One row per group and cluster: the group's
    index in 0..pairs-1 (``pair``), and ``before`` and ``after`` as (n, Σx), zeros where the
    cluster has no answer in a period: their moments (``moments.CHANGE``) summed per group,
    taken by ``clustered_changes_from_moments``."""
    index = np.asarray(pair, dtype=np.int64)
    zeros = np.zeros(len(index))
    n0, s0 = (np.asarray(value, dtype=np.float64) for value in before)
    n1, s1 = (np.asarray(value, dtype=np.float64) for value in after)
    cells = {"n0": n0, "total0": s0, "total_sq0": zeros, "n1": n1, "total1": s1, "total_sq1": zeros}
    summed = {
        name: np.bincount(index, weights=np.asarray(term(cells), dtype=np.float64), minlength=pairs)
        for name, term in CHANGE.terms.items()
    }
    return clustered_changes_from_moments(summed)


def clustered_changes_from_moments(moments: Mapping[str, Any]) -> Changes:
    """Per group, the change in a mean from one period (0) to the next (1) with its
    cluster-robust 95% interval and standard error, from the group's moments
    (``moments.CHANGE``). The same cluster answering in both periods makes the two means
    correlated; the sandwich variance of the difference in OLS of x on a period indicator,
    clustered (CR1: ``G/(G-1) · (N-1)/(N-2)``; statsmodels' ``cov_type="cluster"``), takes that
    in, with t on G - 1 degrees of freedom. Each cluster's influence on the change is
    ``a_g - b_g``, ``a_g = (S1_g - n1_g·m1)/N1`` and ``b_g = (S0_g - n0_g·m0)/N0``; the sum of
    its squares expands into the moments' sums of products. NaN unless both periods have
    answers and there are two or more clusters."""
    m = {name: np.asarray(value, dtype=np.float64) for name, value in moments.items()}
    total0, total1, clusters = m["n0"], m["n1"], m["clusters"]
    valid = (total0 >= 1) & (total1 >= 1) & (clusters >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean0, mean1 = m["total0"] / total0, m["total1"] / total1
        later = (m["ss1"] - 2 * mean1 * m["sn1"] + mean1**2 * m["nn1"]) / total1**2
        earlier = (m["ss0"] - 2 * mean0 * m["sn0"] + mean0**2 * m["nn0"]) / total0**2
        across = (m["s1s0"] - mean0 * m["s1n0"] - mean1 * m["n1s0"] + mean1 * mean0 * m["n1n0"]) / (
            total1 * total0
        )
        spread = (later + earlier - 2 * across).clip(min=0)
        everyone = total0 + total1
        factor = clusters / (clusters - 1) * (everyone - 1) / np.maximum(everyone - 2, 1)
        se = np.where(valid, np.sqrt(factor * spread), np.nan)
        change = np.where(valid, mean1 - mean0, np.nan)
        half = t_quantile(0.975, np.clip(clusters - 1, 1, None)) * se
    return Changes(change=change, low=change - half, high=change + half, se=se)


def mean_from_sums(n: Any, total: Any, total_sq: Any) -> MeanFigures:
    """Mean, sd (ddof 1) and t interval on 0-100 from n, Σscore and Σscore² on 1-7."""
    count = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.asarray(total, dtype=np.float64) / count
        variance = np.where(
            count > 1, (np.asarray(total_sq, dtype=np.float64) - count * mean**2) / (count - 1), np.nan
        ).clip(min=0)
    sd = np.sqrt(variance) * 100 / 6
    mean_100 = to_100(mean)
    low, high = mean_interval(mean_100, sd, count)
    return MeanFigures(n=np.asarray(n), mean=mean_100, sd=sd, low=low, high=high)


@dataclass(frozen=True)
class NpsFigure:
    promoters: int
    passives: int
    detractors: int
    nps: float | None  # -100..100; None without answers
    low: float | None
    high: float | None
    n_eff: float | None = None  # clustered by account: the independent answers it is worth

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors


def nps_interval_of(promoters: float, passives: float, detractors: float) -> tuple[float, float]:
    """The adjusted-Wald 95% interval (-100..100) of NPS from counts (whole or, at an
    effective n, fractional)."""
    n_adj = promoters + passives + detractors + 3
    p_pro, p_det = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    adjusted = p_pro - p_det
    margin = Z95 * float(np.sqrt((p_pro + p_det - adjusted**2) / n_adj))
    return 100 * max(-1.0, adjusted - margin), 100 * min(1.0, adjusted + margin)


def nps_interval(promoters: int, passives: int, detractors: int) -> NpsFigure:
    """NPS (% promoters - % detractors) with its adjusted-Wald 95% interval."""
    n = promoters + passives + detractors
    if n == 0:
        return NpsFigure(promoters, passives, detractors, None, None, None)
    low, high = nps_interval_of(promoters, passives, detractors)
    return NpsFigure(promoters, passives, detractors, 100 * (promoters - detractors) / n, low, high)


def effective(n: int, n_eff: float | None) -> str:
    """The effective n beside the raw one, worded the same on every page: ", effective n 41"
    when clustering within accounts leaves fewer independent answers than answers."""
    if n_eff is None or not math.isfinite(n_eff) or round(n_eff) >= n:
        return ""
    return f", effective n {n_eff:.0f}"


def design_effect(n: Any, total: Any, total_sq: Any) -> float:
    """Kish's design effect of a mean from per-cluster sums (n, Σx, Σx²): ``design_of`` its
    cluster-robust mean (``clustered_from_sums``)."""
    return design_of(clustered_from_sums(np.zeros(len(np.asarray(n)), dtype=np.int64), n, total, total_sq, 1))


def design_of(robust: Clustered) -> float:
    """Kish's design effect of one clustered mean: its cluster-robust variance over its
    variance as if every answer were independent. At least 1; 1 with fewer than two clusters
    or answers, or no spread."""
    everyone = float(robust.n[0])
    if everyone < 2 or robust.clusters[0] < 2 or not np.isfinite(robust.se[0]) or robust.sd[0] == 0:
        return 1.0
    return max(1.0, float(robust.se[0] ** 2 / (robust.sd[0] ** 2 / everyone)))


def nps_from_moments(
    n: Any, total: Any, total_sq: Any, clusters: Any, ss: Any, sn: Any, nn: Any
) -> NpsFigure:
    """NPS of answers from several accounts, from the moments of the recommendation's score
    (``moments.LEVEL`` of ``moments.recommendation_sums``: +1, 0, -1), its adjusted-Wald
    interval taken at the effective n. NPS is the mean of that score; the counts come back
    from its sums (Σx is promoters less detractors, Σx² the two together). The design effect
    (``design_of``) is the cluster-robust variance of the mean over its variance as if every
    answer were independent, and the counts are divided by it before the interval (Kish's
    effective sample size). Never narrower than the plain interval; with one account, that
    interval."""
    count, score, squares = (float(value) for value in (n, total, total_sq))
    p, d = round((squares + score) / 2), round((squares - score) / 2)
    q = round(count) - p - d
    figure = nps_interval(p, q, d)
    design = design_of(
        clustered_from_moments(*([value] for value in (n, total, total_sq, clusters, ss, sn, nn)))
    )
    if design == 1.0:
        return replace(figure, n_eff=float(figure.n))
    scaled = nps_interval_of(p / design, q / design, d / design)
    return replace(figure, low=scaled[0], high=scaled[1], n_eff=figure.n / design)


def change_reading(change: float | None, interval: tuple[float, float] | None, against: str | None) -> str:
    """A change worded with its 95% interval, the same on every page: "+3.1 since 2026-Q2 (95% CI
    -2.0 to +8.2: could be noise)"."""
    if change is None:
        return "No earlier period to compare with."
    since = f"{change:+.1f} since {against}" if against else f"{change:+.1f}"
    if interval is None:
        return f"{since} (too few responses for an interval)"
    low, high = interval
    verdict = "could be noise" if low <= 0 <= high else "more than noise"
    return f"{since} (95% CI {low:+.1f} to {high:+.1f}: {verdict})"


@dataclass(frozen=True)
class Shrunk:
    """A change shrunk toward its parent's (an account's toward its segment's, a group's toward
    all groups'): ``weight`` is the share of the estimate that is its own (0 with no own data,
    near 1 with many responses)."""

    value: float
    low: float
    high: float
    raw: float | None
    weight: float
    n: int


def shrink(
    raw: float | None, raw_variance: float | None, prior: float, prior_variance: float, n: int
) -> Shrunk:
    """Normal-normal (empirical Bayes) shrinkage of ``raw`` toward ``prior``: one estimate of
    ``shrink_each``."""
    return shrink_each([raw], [raw_variance], [prior], [prior_variance], [n])[0]


def shrink_each(
    raw: Sequence[float | None],
    raw_variance: Sequence[float | None],
    prior: Sequence[float],
    prior_variance: Sequence[float],
    n: Sequence[int],
) -> list[Shrunk]:
    """``shrink_many`` of estimates each given as a number or None (no own estimate: none, or
    no finite variance), each as a ``Shrunk`` with its ``n``."""
    own = [
        value is not None and variance is not None and math.isfinite(variance)
        for value, variance in zip(raw, raw_variance, strict=True)
    ]
    value, low, high, weight = shrink_many(
        np.array([r if mine else np.nan for r, mine in zip(raw, own, strict=True)], dtype=np.float64),
        np.array(
            [v if mine else np.nan for v, mine in zip(raw_variance, own, strict=True)], dtype=np.float64
        ),
        np.asarray(prior, dtype=np.float64),
        np.asarray(prior_variance, dtype=np.float64),
    )
    return [
        Shrunk(
            float(value[at]),
            float(low[at]),
            float(high[at]),
            raw[at] if own[at] else None,
            float(weight[at]),
            n[at],
        )
        for at in range(len(own))
    ]


def shrink_many(
    raw: np.ndarray, raw_variance: np.ndarray, prior: np.ndarray, prior_variance: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normal-normal (empirical Bayes) shrinkage of each ``raw`` toward its ``prior``: the
    shrunk values, their intervals' bounds and the weights of the own estimates.

    The posterior mean is ``w·raw + (1 - w)·prior`` with ``w = τ² / (τ² + se²)``, and its
    variance ``w·se²`` (Gelman et al., *Bayesian Data Analysis*, 3rd ed., §5.4); with no own
    estimate (``raw`` or its variance NaN) the prior and its spread stand alone (weight 0).
    The interval is the posterior's normal 95% one, ``value ± z(0.975)·√variance``."""
    own = np.isfinite(raw) & np.isfinite(raw_variance)
    tau2 = np.maximum(prior_variance, 1e-9)
    se2 = np.maximum(np.where(own, raw_variance, 1.0), 1e-9)
    weight = np.where(own, tau2 / (tau2 + se2), 0.0)
    # Without an own estimate the weight is 0: the prior alone.
    value = weight * np.where(own, raw, 0.0) + (1 - weight) * prior
    half = Z95 * np.sqrt(np.where(own, weight * se2, prior_variance))
    return value, value - half, value + half, weight


def moment_tau2(changes: Sequence[float], variances: Sequence[float], centre: float, floor: float) -> float:
    """The spread of true changes between groups by the method of moments: the changes'
    variance around ``centre`` less their mean sampling variance, never below ``floor``."""
    k = len(changes)
    if k < 2:
        return floor
    spread = sum((change - centre) ** 2 for change in changes) / (k - 1)
    return max(floor, spread - sum(variances) / k)
