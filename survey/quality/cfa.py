"""Single-group confirmatory factor analysis: fit, loadings, omega, AVE, factor correlations, HTMT.

The model is fitted by semopy 2.3 (``obj="MLW"``, Wishart maximum likelihood on the covariance
matrix with divisor N), which reproduces lavaan's ``cfa()`` defaults: a marker item per factor,
``chisq = N * F_ML``. The fit measures come from :mod:`survey.quality.fit`, the same
definitions the invariance models use. Checked against lavaan's tutorial figures for the
Holzinger-Swineford three-factor model (tests/test_quality.py).

* **omega** per factor (McDonald; Raykov's composite reliability):
  ``(sum lambda)^2 phi / ((sum lambda)^2 phi + sum theta)`` from the unstandardised estimates,
  i.e. the share of the model-implied variance of the unit-weighted sum that the factor explains
  (semTools ``compRelSEM(fit, obs.var = FALSE)``).
* **AVE**: the mean squared standardised loading (Fornell & Larcker, 1981).
* **HTMT** (Henseler, Ringle & Sarstedt, 2015): the mean correlation between the items of two
  factors over the geometric mean of the mean correlations within each; above 0.85 the two
  factors are not shown to be distinct.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from survey.quality.data import QualityInputError, Structure, complete_cases, moments
from survey.quality.fit import FitMeasures, baseline_chisq, fit_measures, srmr

HTMT_LIMIT = 0.85
AVE_LIMIT = 0.5
OMEGA_LIMIT = 0.7
ESTIMATION = (
    "maximum likelihood (lavaan's default): covariances with divisor N, chi-square = N x F_ML; "
    "rows with any unanswered item of the model are left out (listwise)"
)


@dataclass(frozen=True)
class CfaResult:
    structure: Structure
    measures: FitMeasures
    n_incomplete: int
    loadings: dict[str, dict[str, float]]  # factor -> item -> standardised loading
    omega: dict[str, float]
    ave: dict[str, float]
    factor_correlations: dict[str, float]  # "A~B"
    htmt: dict[str, float]  # "A~B"
    converged: bool
    warnings: tuple[str, ...]

    @property
    def htmt_failures(self) -> list[str]:
        return [pair for pair, value in self.htmt.items() if value >= HTMT_LIMIT]

    def as_json_dict(self) -> dict[str, object]:
        return {
            **self.measures.as_json_dict(),
            "n_incomplete": self.n_incomplete,
            "estimator": ESTIMATION,
            "converged": self.converged,
            "omega": self.omega,
            "ave": self.ave,
            "loadings": self.loadings,
            "factor_correlations": self.factor_correlations,
            "htmt": self.htmt,
            "htmt_over_0_85": self.htmt_failures,
            "warnings": list(self.warnings),
        }


def pair_key(first: str, second: str) -> str:
    return f"{first}~{second}"


def htmt(correlations: pd.DataFrame, structure: Structure) -> dict[str, float]:
    """HTMT of every pair of factors from the item correlation matrix (Henseler et al., 2015)."""

    def mean_within(items: tuple[str, ...]) -> float:
        block = correlations.loc[list(items), list(items)].to_numpy()
        return float(block[np.triu_indices(len(items), k=1)].mean())

    result: dict[str, float] = {}
    for (first, first_items), (second, second_items) in combinations(structure.factors, 2):
        between = float(correlations.loc[list(first_items), list(second_items)].to_numpy().mean())
        within = mean_within(first_items) * mean_within(second_items)
        result[pair_key(first, second)] = between / math.sqrt(within) if within > 0 else float("nan")
    return result


def _description(structure: Structure, alias: dict[str, str]) -> str:
    lines = []
    for index, (_, items) in enumerate(structure.factors):
        lines.append(f"f{index} =~ " + " + ".join(alias[item] for item in items))
    return "\n".join(lines)


def fit_cfa(frame: pd.DataFrame, structure: Structure) -> CfaResult:
    """Fit ``structure`` to the rows of ``frame`` that answer all its items."""
    import semopy

    complete, dropped = complete_cases(frame, structure)
    sample = moments(complete, structure)
    items = structure.items
    # semopy parses model text: plain aliases keep any column name (spaces, symbols) safe.
    alias = {item: f"v{index}" for index, item in enumerate(items)}
    factor_alias = {f"f{index}": name for index, name in enumerate(structure.names)}
    data = complete.set_axis([alias[item] for item in items], axis=1)
    model = semopy.Model(_description(structure, alias))
    try:
        with threadpool_limits(limits=1):  # small matrices: BLAS threads only contend on few cores
            result = model.fit(data, obj="MLW")
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as error:
        raise QualityInputError(f"the model cannot be estimated from these data ({error})") from error
    table = model.inspect(std_est=True)
    observed = list(model.vars["observed"])
    order = [observed.index(alias[item]) for item in items]
    sigma = model.calc_sigma()[0][np.ix_(order, order)]
    stats = semopy.calc_stats(model)
    chisq = float(stats.loc["Value", "chi2"])
    df = int(stats.loc["Value", "DoF"])
    measures = fit_measures(
        chisq, df, [sample.n], baseline_chisq([sample.cov], [sample.n]), [srmr(sample.cov, sigma)]
    )

    item_of = {value: key for key, value in alias.items()}
    loadings: dict[str, dict[str, float]] = {name: {} for name in structure.names}
    raw_loadings: dict[str, dict[str, float]] = {name: {} for name in structure.names}
    residual: dict[str, float] = {}
    factor_cov: dict[tuple[str, str], float] = {}
    factor_std: dict[tuple[str, str], float] = {}
    for row in table.itertuples(index=False):
        lval, op, rval = str(row.lval), str(row.op), str(row.rval)
        if op == "~" and rval in factor_alias:
            factor = factor_alias[rval]
            loadings[factor][item_of[lval]] = float(row[table.columns.get_loc("Est. Std")])
            raw_loadings[factor][item_of[lval]] = float(row.Estimate)
        elif op == "~~" and lval in factor_alias and rval in factor_alias:
            key = (factor_alias[lval], factor_alias[rval])
            factor_cov[key] = factor_cov[key[::-1]] = float(row.Estimate)
            factor_std[key] = factor_std[key[::-1]] = float(row[table.columns.get_loc("Est. Std")])
        elif op == "~~" and lval == rval and lval in item_of:
            residual[item_of[lval]] = float(row.Estimate)
    # Keep the items in the order the model names them.
    loadings = {f: {item: loadings[f][item] for item in structure.items_of(f)} for f in structure.names}

    omega: dict[str, float] = {}
    ave: dict[str, float] = {}
    warnings: list[str] = []
    for factor in structure.names:
        total = sum(raw_loadings[factor].values())
        true_part = total**2 * factor_cov[(factor, factor)]
        omega[factor] = true_part / (true_part + sum(residual[item] for item in structure.items_of(factor)))
        ave[factor] = float(np.mean([value**2 for value in loadings[factor].values()]))
        for item, value in loadings[factor].items():
            if value < 0:
                warnings.append(
                    f"item {item} loads negatively on {factor}: reverse-key it before reading omega and HTMT"
                )
        if factor_cov[(factor, factor)] <= 1e-5 or any(
            residual[i] <= 1e-5 for i in structure.items_of(factor)
        ):
            warnings.append(f"factor {factor} has a variance at its bound: its estimates are not trustworthy")
    correlations = {pair_key(a, b): factor_std[(a, b)] for a, b in combinations(structure.names, 2)}
    for pair, value in correlations.items():
        if abs(value) > 1:
            warnings.append(f"the correlation of {pair.replace('~', ' and ')} is above 1 (a Heywood case)")
    item_correlations = complete.corr()
    return CfaResult(
        structure=structure,
        measures=measures,
        n_incomplete=dropped,
        loadings=loadings,
        omega=omega,
        ave=ave,
        factor_correlations=correlations,
        htmt=htmt(item_correlations, structure),
        converged=bool(result.success),
        warnings=tuple(warnings),
    )


def require_converged(result: CfaResult) -> CfaResult:
    if not result.converged:
        raise QualityInputError("the model did not converge: check that every factor's items belong together")
    return result
