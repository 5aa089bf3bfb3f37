"""Multigroup confirmatory factor analysis by maximum likelihood, with equality constraints.

semopy 2.3 fits a model per group but cannot hold parameters equal across groups, which metric
and scalar invariance need. This estimator does, with lavaan's defaults for ``cfa(..., group=)``:

* identification by a marker item (the first item of each factor has loading 1);
* a mean structure: free intercepts; factor means fixed at 0, except that with equal intercepts
  they are free in every group but the first;
* the ML discrepancy per group, ``F_g = log|Sigma| + tr(S Sigma^-1) - log|S| - p
  + (m - mu)' Sigma^-1 (m - mu)`` with ``S`` the covariance matrix with divisor N_g, minimised as
  ``sum_g N_g/N F_g`` with analytic gradients (L-BFGS-B); ``chisq = sum_g N_g F_g``.

Checked against lavaan's published figures for the Holzinger-Swineford model grouped by school
(tests/test_quality.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from threadpoolctl import threadpool_limits

from survey.quality.data import Moments, QualityInputError, Structure
from survey.quality.fit import FitMeasures, baseline_chisq, fit_measures, srmr

_FIXED_ZERO = -1
_FIXED_ONE = -2
_NOT_PD = 1e10


@dataclass(frozen=True)
class GroupEstimates:
    loadings: np.ndarray  # p x m
    factor_cov: np.ndarray  # m x m
    residual_var: np.ndarray  # p
    intercepts: np.ndarray  # p
    factor_means: np.ndarray  # m

    def implied(self) -> tuple[np.ndarray, np.ndarray]:
        sigma = self.loadings @ self.factor_cov @ self.loadings.T + np.diag(self.residual_var)
        return sigma, self.intercepts + self.loadings @ self.factor_means


@dataclass(frozen=True)
class MultigroupFit:
    structure: Structure
    groups: tuple[str, ...]
    sizes: tuple[int, ...]
    equal_loadings: bool
    equal_intercepts: bool
    free_intercepts: tuple[str, ...]
    chisq: float
    df: int
    parameters: int
    measures: FitMeasures
    estimates: tuple[GroupEstimates, ...]
    group_chisq: tuple[float, ...]  # each group's share of chisq, N_g * F_g
    converged: bool


def discrepancy(
    moments: Moments, sigma: np.ndarray, mu: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The ML discrepancy ``F`` of one group (with ``Sigma^-1`` and ``m - mu`` for the gradient);
    ``None`` when ``sigma`` is not positive definite. ``N_g * F`` is the group's chi-square."""
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return None
    inverse = np.linalg.inv(sigma)
    residual = moments.mean - mu
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    _, logdet_s = np.linalg.slogdet(moments.cov)
    f = (
        logdet
        + float(np.trace(moments.cov @ inverse))
        - float(logdet_s)
        - len(mu)
        + float(residual @ inverse @ residual)
    )
    return f, inverse, residual


class _Layout:
    """Where each free parameter sits in the model matrices of each group."""

    def __init__(
        self,
        structure: Structure,
        groups: int,
        equal_loadings: bool,
        equal_intercepts: bool,
        free_intercepts: Sequence[str],
    ) -> None:
        items = structure.items
        names = structure.names
        p, m = len(items), len(names)
        self.p, self.m, self.groups = p, m, groups
        self.count = 0
        shared_loadings: dict[tuple[int, int], int] = {}
        shared_intercepts: dict[int, int] = {}
        self.loadings = np.full((groups, p, m), _FIXED_ZERO, dtype=int)
        self.factor_cov = np.zeros((groups, m, m), dtype=int)
        self.residual = np.zeros((groups, p), dtype=int)
        self.intercepts = np.zeros((groups, p), dtype=int)
        self.means = np.full((groups, m), _FIXED_ZERO, dtype=int)
        for g in range(groups):
            for j, (_, factor_items) in enumerate(structure.factors):
                for position, item in enumerate(factor_items):
                    i = items.index(item)
                    if position == 0:
                        self.loadings[g, i, j] = _FIXED_ONE
                    elif equal_loadings and (i, j) in shared_loadings:
                        self.loadings[g, i, j] = shared_loadings[(i, j)]
                    else:
                        self.loadings[g, i, j] = shared_loadings.setdefault((i, j), self._next())
                        if not equal_loadings:
                            shared_loadings.pop((i, j))
            for a in range(m):
                for b in range(a + 1):
                    self.factor_cov[g, a, b] = self.factor_cov[g, b, a] = self._next()
            for i in range(p):
                self.residual[g, i] = self._next()
            for i, item in enumerate(items):
                if equal_intercepts and item not in free_intercepts:
                    if i not in shared_intercepts:
                        shared_intercepts[i] = self._next()
                    self.intercepts[g, i] = shared_intercepts[i]
                else:
                    self.intercepts[g, i] = self._next()
            if equal_intercepts and g > 0:
                for j in range(m):
                    self.means[g, j] = self._next()

    def _next(self) -> int:
        self.count += 1
        return self.count - 1

    @staticmethod
    def _fill(index: np.ndarray, x: np.ndarray) -> np.ndarray:
        values = np.where(index == _FIXED_ONE, 1.0, 0.0)
        free = index >= 0
        values[free] = x[index[free]]
        return values

    def estimates(self, x: np.ndarray, g: int) -> GroupEstimates:
        return GroupEstimates(
            loadings=self._fill(self.loadings[g], x),
            factor_cov=self._fill(self.factor_cov[g], x),
            residual_var=self._fill(self.residual[g], x),
            intercepts=self._fill(self.intercepts[g], x),
            factor_means=self._fill(self.means[g], x),
        )

    @staticmethod
    def _add(gradient: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
        free = index >= 0
        np.add.at(gradient, index[free], values[free])

    def objective(self, x: np.ndarray, data: Sequence[Moments], total: int) -> tuple[float, np.ndarray]:
        value = 0.0
        gradient = np.zeros_like(x)
        for g, moments in enumerate(data):
            est = self.estimates(x, g)
            sigma, mu = est.implied()
            parts = discrepancy(moments, sigma, mu)
            if parts is None:
                return _NOT_PD, np.zeros_like(x)
            f, inverse, residual = parts
            weight = moments.n / total
            value += weight * f
            d_sigma = inverse - inverse @ (moments.cov + np.outer(residual, residual)) @ inverse
            d_mu = -2.0 * inverse @ residual
            d_loadings = 2.0 * d_sigma @ est.loadings @ est.factor_cov + np.outer(d_mu, est.factor_means)
            self._add(gradient, self.loadings[g], weight * d_loadings)
            self._add(gradient, self.factor_cov[g], weight * (est.loadings.T @ d_sigma @ est.loadings))
            self._add(gradient, self.residual[g], weight * np.diag(d_sigma))
            self._add(gradient, self.intercepts[g], weight * d_mu)
            self._add(gradient, self.means[g], weight * (est.loadings.T @ d_mu))
        return value, gradient

    def start(self, structure: Structure, data: Sequence[Moments]) -> np.ndarray:
        """lavaan-like simple starting values from each group's moments."""
        x = np.zeros(self.count)
        seen = np.zeros(self.count)
        items = structure.items

        def put(index: int, value: float) -> None:
            if index >= 0:
                x[index] += value
                seen[index] += 1

        for g, moments in enumerate(data):
            cov = moments.cov
            for j, (_, factor_items) in enumerate(structure.factors):
                marker = items.index(factor_items[0])
                variance = 0.5 * cov[marker, marker]
                put(int(self.factor_cov[g, j, j]), variance)
                for item in factor_items[1:]:
                    i = items.index(item)
                    put(int(self.loadings[g, i, j]), float(np.clip(cov[i, marker] / variance, -3, 3)))
            for i in range(self.p):
                put(int(self.residual[g, i]), 0.5 * cov[i, i])
                put(int(self.intercepts[g, i]), float(moments.mean[i]))
        return np.where(seen > 0, x / np.maximum(seen, 1), 0.0)

    def pack(self, estimates: Sequence[GroupEstimates]) -> np.ndarray:
        """Starting values from another model's estimates (averaged where now held equal)."""
        x = np.zeros(self.count)
        seen = np.zeros(self.count)
        for g, est in enumerate(estimates):
            for index, values in (
                (self.loadings[g], est.loadings),
                (self.factor_cov[g], est.factor_cov),
                (self.residual[g], est.residual_var),
                (self.intercepts[g], est.intercepts),
                (self.means[g], est.factor_means),
            ):
                free = index >= 0
                np.add.at(x, index[free], values[free])
                np.add.at(seen, index[free], 1)
        return np.where(seen > 0, x / np.maximum(seen, 1), 0.0)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        bounds: list[tuple[float | None, float | None]] = [(None, None)] * self.count
        for g in range(self.groups):
            for index in self.residual[g]:
                bounds[int(index)] = (1e-6, None)
            for j in range(self.m):
                bounds[int(self.factor_cov[g, j, j])] = (1e-6, None)
        return bounds


def _minimize(layout: _Layout, x0: np.ndarray, data: Sequence[Moments], total: int) -> OptimizeResult:
    return minimize(
        layout.objective,
        x0,
        args=(data, total),
        jac=True,
        method="L-BFGS-B",
        bounds=layout.bounds(),
        options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-14, "gtol": 1e-9},
    )


def fit_multigroup(
    structure: Structure,
    groups: Sequence[str],
    data: Sequence[Moments],
    *,
    equal_loadings: bool = False,
    equal_intercepts: bool = False,
    free_intercepts: Sequence[str] = (),
    start: Sequence[GroupEstimates] | None = None,
) -> MultigroupFit:
    """Fit the factor model to every group at once, holding the chosen parameters equal.

    ``free_intercepts`` lists items whose intercepts stay free in a scalar model (partial
    invariance). Equal intercepts need equal loadings. ``start`` (the estimates of a nested
    model) only speeds the search up.
    """
    if equal_intercepts and not equal_loadings:
        raise QualityInputError("equal intercepts need equal loadings")
    if len(groups) != len(data) or not groups:
        raise QualityInputError("every group needs its data")
    layout = _Layout(structure, len(groups), equal_loadings, equal_intercepts, free_intercepts)
    total = sum(moments.n for moments in data)
    p = len(structure.items)
    moments_count = len(groups) * (p * (p + 1) // 2 + p)
    df = moments_count - layout.count
    if df < 0:
        raise QualityInputError(f"the model has more parameters ({layout.count}) than data points")
    x0 = layout.start(structure, data) if start is None else layout.pack(start)
    # The matrices are small: BLAS threads only contend with each other (10x slower on 2 cores).
    with threadpool_limits(limits=1):
        result = _minimize(layout, x0, data, total)
    x = result.x
    value, gradient = layout.objective(x, data, total)
    # L-BFGS-B may stop on a line search at the optimum itself: judge by the gradient too.
    at_bound = np.array(
        [low is not None and x[i] <= low + 1e-9 for i, (low, _) in enumerate(layout.bounds())]
    )
    stationary = bool(np.max(np.abs(np.where(at_bound, 0.0, gradient)), initial=0.0) < 1e-5)
    estimates = tuple(layout.estimates(x, g) for g in range(len(groups)))
    srmrs = []
    group_chisq = []
    for est, moments in zip(estimates, data, strict=True):
        sigma, mu = est.implied()
        srmrs.append(srmr(moments.cov, sigma, moments.mean, mu))
        parts = discrepancy(moments, sigma, mu)
        group_chisq.append(float("nan") if parts is None else moments.n * parts[0])
    sizes = tuple(moments.n for moments in data)
    chisq = total * value
    measures = fit_measures(chisq, df, sizes, baseline_chisq([m.cov for m in data], sizes), srmrs)
    return MultigroupFit(
        structure=structure,
        groups=tuple(groups),
        sizes=sizes,
        equal_loadings=equal_loadings,
        equal_intercepts=equal_intercepts,
        free_intercepts=tuple(free_intercepts),
        chisq=float(chisq),
        df=int(df),
        parameters=layout.count,
        measures=measures,
        estimates=estimates,
        group_chisq=tuple(group_chisq),
        converged=(bool(result.success) or stationary) and value < _NOT_PD,
    )
