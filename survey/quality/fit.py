"""Fit measures of a covariance-structure model, as lavaan computes them for ``estimator = "ML"``.

One definition for every model in :mod:`survey.quality`: the single-group CFA and the
configural, metric and scalar models all report through :func:`fit_measures`.

Conventions (lavaan 0.6, ``likelihood = "normal"``):

* sample covariances use the divisor N (not N - 1);
* ``chisq = sum_g N_g * F_ML,g`` (N, not N - 1);
* the baseline is the independence model (free variances, and free means when the model has a
  mean structure), per group;
* ``RMSEA = sqrt(G) * sqrt(max(0, chisq/N/df - 1/N))`` with its 90% interval from the
  noncentral chi-square (lavaan ``rmsea.ci.level = 0.90``);
* SRMR is Bentler's: residual covariances (and means, with a mean structure) divided by the
  observed standard deviations, averaged over the unique elements, weighted by N_g/N across groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2, ncx2


@dataclass(frozen=True)
class FitMeasures:
    chisq: float
    df: int
    pvalue: float
    cfi: float
    tli: float
    rmsea: float
    rmsea_ci90: tuple[float, float]
    srmr: float
    baseline_chisq: float
    baseline_df: int
    n: int

    def as_json_dict(self) -> dict[str, object]:
        return {
            "chisq": self.chisq,
            "df": self.df,
            "pvalue": self.pvalue,
            "cfi": self.cfi,
            "tli": self.tli,
            "rmsea": self.rmsea,
            "rmsea_ci90": [self.rmsea_ci90[0], self.rmsea_ci90[1]],
            "srmr": self.srmr,
            "n": self.n,
        }


def baseline_chisq(covariances: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[float, int]:
    """Chi-square and df of the independence model: ``sum_g N_g (sum log s_ii - log|S_g|)``."""
    total = 0.0
    p = covariances[0].shape[0]
    for cov, n in zip(covariances, sizes, strict=True):
        _, logdet = np.linalg.slogdet(cov)
        total += n * (float(np.sum(np.log(np.diag(cov)))) - float(logdet))
    return total, len(covariances) * p * (p - 1) // 2


def _rmsea_ci90(chisq: float, df: int, n: int, groups: int) -> tuple[float, float]:
    """lavaan's interval: the noncentralities at which ``chisq`` is the 95th and 5th percentile."""

    def bound(probability: float) -> float:
        if df < 1 or ncx2.cdf(chisq, df, 1e-10) < probability:
            return 0.0
        upper = max(chisq, 1.0)
        while ncx2.cdf(chisq, df, upper) > probability:
            upper *= 2
        ncp = brentq(lambda lam: ncx2.cdf(chisq, df, lam) - probability, 1e-10, upper, xtol=1e-10)
        return math.sqrt(groups) * math.sqrt(ncp / (n * df))

    return bound(0.95), bound(0.05)


def srmr(
    observed_cov: np.ndarray,
    model_cov: np.ndarray,
    observed_mean: np.ndarray | None = None,
    model_mean: np.ndarray | None = None,
) -> float:
    """Bentler's SRMR of one group (lavaan ``srmr_bentler``)."""
    sd = np.sqrt(np.diag(observed_cov))
    residual = (observed_cov - model_cov) / np.outer(sd, sd)
    lower = residual[np.tril_indices_from(residual)]
    squares = float(np.sum(lower**2))
    count = lower.size
    if observed_mean is not None and model_mean is not None:
        squares += float(np.sum(((observed_mean - model_mean) / sd) ** 2))
        count += observed_mean.size
    return math.sqrt(squares / count)


def fit_measures(
    chisq: float,
    df: int,
    sizes: Sequence[int],
    baseline: tuple[float, int],
    srmr_by_group: Sequence[float],
) -> FitMeasures:
    """Chi-square test, CFI, TLI, RMSEA with its 90% interval and SRMR, lavaan's way."""
    n = int(sum(sizes))
    groups = len(sizes)
    base_chisq, base_df = baseline
    pvalue = float(chi2.sf(chisq, df)) if df > 0 else float("nan")
    misfit = max(chisq - df, 0.0)
    base_misfit = max(base_chisq - base_df, misfit, 0.0)
    cfi = 1.0 - misfit / base_misfit if base_misfit > 0 else 1.0
    if df > 0 and base_df > 0 and base_chisq / base_df != 1:
        tli = (base_chisq / base_df - chisq / df) / (base_chisq / base_df - 1.0)
    else:
        tli = float("nan")
    rmsea = math.sqrt(groups) * math.sqrt(max(0.0, chisq / n / df - 1.0 / n)) if df > 0 else 0.0
    weighted_srmr = sum(s * size for s, size in zip(srmr_by_group, sizes, strict=True)) / n
    return FitMeasures(
        chisq=float(chisq),
        df=int(df),
        pvalue=pvalue,
        cfi=float(cfi),
        tli=float(tli),
        rmsea=float(rmsea),
        rmsea_ci90=_rmsea_ci90(chisq, df, n, groups),
        srmr=float(weighted_srmr),
        baseline_chisq=float(base_chisq),
        baseline_df=int(base_df),
        n=n,
    )
