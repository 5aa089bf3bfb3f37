"""Measurement invariance across groups: configural, metric (equal loadings) and scalar (equal
loadings and intercepts), the chi-square difference tests, the changes in CFI and RMSEA, and,
where intercepts differ, which items' intercepts.

Decision rules, stated so that a reviewer can check them:

* a step *holds* when its chi-square difference test against the step before is not significant
  (p >= 0.05); with large groups that test flags differences too small to matter, so a step whose
  test is significant but whose CFI drops by less than 0.010 (Cheung & Rensvold, 2002; Chen,
  2007) is reported as *holds approximately*; otherwise it *fails*;
* differing intercepts are found by freeing, one at a time, the intercept whose release lowers
  chi-square most (tried among the three items whose means the constrained model misses most),
  while that drop is significant after a Bonferroni correction over the items still constrained
  (df = groups - 1); each factor keeps at least one equal intercept. This is the usual backward
  search for partial scalar invariance (Byrne, Shavelson & Muthén, 1989).
* groups with fewer than :data:`MIN_GROUP_N` complete responses are left out and named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from scipy.stats import chi2

from survey.quality.data import Moments, QualityInputError, Structure, complete_cases, moments
from survey.quality.multigroup import MultigroupFit, fit_multigroup

MIN_GROUP_N = 100
ALPHA = 0.05
DELTA_CFI = -0.010
MAX_FREED = 5
SHORTLIST = 3


@dataclass(frozen=True)
class StepTest:
    """One model against the less constrained one before it."""

    chisq_diff: float
    df_diff: int
    pvalue: float
    delta_cfi: float
    delta_rmsea: float
    verdict: str  # "holds", "holds approximately" or "fails"

    def as_json_dict(self) -> dict[str, object]:
        return {
            "chisq_diff": self.chisq_diff,
            "df_diff": self.df_diff,
            "pvalue": self.pvalue,
            "delta_cfi": self.delta_cfi,
            "delta_rmsea": self.delta_rmsea,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class DifferingIntercept:
    item: str
    factor: str
    chisq_drop: float
    pvalue: float  # uncorrected; significant below ALPHA / items tested at that step
    intercepts: dict[str, float]  # group -> intercept when freed

    def as_json_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "factor": self.factor,
            "chisq_drop": self.chisq_drop,
            "pvalue": self.pvalue,
            "intercepts": self.intercepts,
        }


@dataclass(frozen=True)
class InvarianceResult:
    structure: Structure
    groups: tuple[str, ...]
    sizes: dict[str, int]  # group -> complete rows used
    too_small: dict[str, int]  # group -> complete rows, left out
    n_incomplete: int
    configural: MultigroupFit
    metric: MultigroupFit
    scalar: MultigroupFit
    metric_test: StepTest
    scalar_test: StepTest
    differing_intercepts: tuple[DifferingIntercept, ...]
    partial_scalar: MultigroupFit | None

    @property
    def level(self) -> str:
        """The highest level that holds: "scalar", "metric" or "configural"."""
        if self.metric_test.verdict == "fails":
            return "configural"
        if self.scalar_test.verdict == "fails":
            return "metric"
        return "scalar"

    def as_json_dict(self) -> dict[str, object]:
        def model(fit: MultigroupFit) -> dict[str, object]:
            return {**fit.measures.as_json_dict(), "converged": fit.converged}

        return {
            "groups": self.sizes,
            "too_small": self.too_small,
            "n_incomplete": self.n_incomplete,
            "configural": model(self.configural),
            "metric": model(self.metric),
            "scalar": model(self.scalar),
            "metric_vs_configural": self.metric_test.as_json_dict(),
            "scalar_vs_metric": self.scalar_test.as_json_dict(),
            "level": self.level,
            "differing_intercepts": [item.as_json_dict() for item in self.differing_intercepts],
            "partial_scalar": None if self.partial_scalar is None else model(self.partial_scalar),
        }


def compare(restricted: MultigroupFit, free: MultigroupFit) -> StepTest:
    """Chi-square difference test (lavaan ``lavTestLRT``, standard ML) and the fit changes."""
    difference = max(restricted.chisq - free.chisq, 0.0)
    df = restricted.df - free.df
    pvalue = float(chi2.sf(difference, df))
    delta_cfi = restricted.measures.cfi - free.measures.cfi
    delta_rmsea = restricted.measures.rmsea - free.measures.rmsea
    if pvalue >= ALPHA:
        verdict = "holds"
    elif delta_cfi > DELTA_CFI:
        verdict = "holds approximately"
    else:
        verdict = "fails"
    return StepTest(difference, df, pvalue, delta_cfi, delta_rmsea, verdict)


def _mean_misfit(structure: Structure, data: Sequence[Moments], fit: MultigroupFit, item: str) -> float:
    index = structure.items.index(item)
    misfit = 0.0
    for sample, est in zip(data, fit.estimates, strict=True):
        _, mu = est.implied()
        misfit += sample.n * (sample.mean[index] - mu[index]) ** 2 / sample.cov[index, index]
    return misfit


def _differing_intercepts(
    structure: Structure,
    groups: Sequence[str],
    data: Sequence[Moments],
    scalar: MultigroupFit,
) -> tuple[tuple[DifferingIntercept, ...], MultigroupFit | None]:
    freed: list[str] = []
    found: list[DifferingIntercept] = []
    current = scalar
    while len(freed) < MAX_FREED:
        candidates = [
            item
            for item in structure.items
            if item not in freed
            and sum(1 for other in structure.items_of(structure.factor_of(item)) if other not in freed) > 1
        ]
        if not candidates:
            break
        # Rank the candidates by how far the constrained model misses their means (weighted squared
        # standardised mean residuals); fit the most promising few in full and keep the best.
        shortlist = sorted(candidates, key=lambda item: -_mean_misfit(structure, data, current, item))
        trials = [
            fit_multigroup(
                structure,
                groups,
                data,
                equal_loadings=True,
                equal_intercepts=True,
                free_intercepts=[*freed, item],
                start=current.estimates,
            )
            for item in shortlist[:SHORTLIST]
        ]
        best = min(trials, key=lambda fit: fit.chisq)
        best_item = best.free_intercepts[-1]
        drop = max(current.chisq - best.chisq, 0.0)
        pvalue = float(chi2.sf(drop, len(groups) - 1))
        if pvalue >= ALPHA / len(candidates):
            break
        index = structure.items.index(best_item)
        found.append(
            DifferingIntercept(
                item=best_item,
                factor=structure.factor_of(best_item),
                chisq_drop=drop,
                pvalue=pvalue,
                intercepts={
                    g: float(est.intercepts[index]) for g, est in zip(groups, best.estimates, strict=True)
                },
            )
        )
        freed.append(best_item)
        current = best
    return tuple(found), (current if found else None)


def group_data(
    frame: pd.DataFrame, structure: Structure, group_column: str, *, min_n: int = MIN_GROUP_N
) -> tuple[list[str], list[Moments], dict[str, int], int]:
    """Each group's moments (complete rows), the groups too small to use and the rows dropped."""
    if group_column not in frame.columns:
        raise QualityInputError(f"group column {group_column} is not in the data")
    if group_column in structure.items:
        raise QualityInputError(f"{group_column} is an item of the model, not a group column")
    labels = frame[group_column]
    usable = frame[labels.notna()]
    complete, dropped = complete_cases(usable, structure)
    group_of = usable.loc[complete.index, group_column].astype(str)
    groups: list[str] = []
    data: list[Moments] = []
    too_small: dict[str, int] = {}
    for label in sorted(group_of.unique()):
        rows = complete[group_of == label]
        if len(rows) < min_n:
            too_small[label] = len(rows)
            continue
        groups.append(label)
        data.append(moments(rows, structure, label=f"group {label}"))
    return groups, data, too_small, dropped + int(labels.isna().sum())


def measure_invariance(
    frame: pd.DataFrame, structure: Structure, group_column: str, *, min_n: int = MIN_GROUP_N
) -> InvarianceResult:
    """Configural, metric and scalar models of ``structure`` across the groups of ``group_column``."""
    groups, data, too_small, dropped = group_data(frame, structure, group_column, min_n=min_n)
    if len(groups) < 2:
        small = ", ".join(f"{g} (n = {n})" for g, n in too_small.items())
        raise QualityInputError(
            f"invariance needs at least two groups with {min_n} or more complete rows; "
            f"found {len(groups)}" + (f"; too small: {small}" if small else "")
        )
    return invariance_of(structure, groups, data, too_small, dropped)


def invariance_of(
    structure: Structure,
    groups: Sequence[str],
    data: Sequence[Moments],
    too_small: dict[str, int],
    dropped: int,
) -> InvarianceResult:
    configural = fit_multigroup(structure, groups, data)
    metric = fit_multigroup(structure, groups, data, equal_loadings=True, start=configural.estimates)
    scalar = fit_multigroup(
        structure, groups, data, equal_loadings=True, equal_intercepts=True, start=metric.estimates
    )
    scalar_test = compare(scalar, metric)
    differing: tuple[DifferingIntercept, ...] = ()
    partial = None
    if scalar_test.pvalue < ALPHA:
        differing, partial = _differing_intercepts(structure, groups, data, scalar)
    return InvarianceResult(
        structure=structure,
        groups=tuple(groups),
        sizes={g: m.n for g, m in zip(groups, data, strict=True)},
        too_small=too_small,
        n_incomplete=dropped,
        configural=configural,
        metric=metric,
        scalar=scalar,
        metric_test=compare(metric, configural),
        scalar_test=scalar_test,
        differing_intercepts=differing,
        partial_scalar=partial,
    )
