"""Cronbach's alpha of a scale, computed the way R's ``psych::alpha()`` reports ``raw_alpha``.

The numbers reproduce psych 2.5 (``R/alpha.R``): covariances are pairwise complete
(``cov(x, use = "pairwise")``), ``alpha if dropped`` is alpha on the covariance matrix without
that item, and the 95% interval is Feldt's, as ``psych::alpha.ci`` computes it with psych's own
``n.obs``: every row of the data, answered or not.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import f as f_distribution


class ReliabilityInputError(ValueError):
    """Input that alpha cannot be computed from; the message says what is wrong and where."""


@dataclass(frozen=True)
class Reliability:
    alpha: float
    ci95: tuple[float, float]
    n: int  # respondents (rows), as psych passes them to alpha.ci
    alpha_if_dropped: dict[str, float]  # empty for two items: one item has no alpha

    def as_json_dict(self) -> dict[str, object]:
        """Plain JSON types, full float precision."""
        return {
            "alpha": float(self.alpha),
            "ci95": [float(self.ci95[0]), float(self.ci95[1])],
            "n": int(self.n),
            "alpha_if_dropped": {item: float(value) for item, value in self.alpha_if_dropped.items()},
        }


def _no_total_variance(cov: np.ndarray) -> bool:
    """The total score's variance ``sum(C)`` is not positive, or is rounding noise beside the
    items' own variances (pairwise covariances can cancel to 1e-16), where alpha is undefined."""
    return bool(cov.sum() <= 1e-9 * np.trace(cov))


def _raw_alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return k / (k - 1) * (1.0 - np.trace(cov) / cov.sum())


def feldt_ci95(alpha: float, n: float, k: int) -> tuple[float, float]:
    """Feldt, Woodruff & Salih (1987) 95% interval, as R ``psych::alpha.ci(alpha, n.obs, n.var)``.

    ``df1 = n - 1`` and ``df2 = (n - 1)(k - 1)`` (psych >= 2.2.3; earlier versions used an
    infinite ``df2``).
    """
    df1 = n - 1
    df2 = (n - 1) * (k - 1)
    lower = 1.0 - (1.0 - alpha) * f_distribution.ppf(0.975, df1, df2)
    upper = 1.0 - (1.0 - alpha) * f_distribution.ppf(0.025, df1, df2)
    return float(lower), float(upper)


def _check_covariance(cov: pd.DataFrame, n: int) -> list[str]:
    items = [str(label) for label in cov.columns]
    if cov.shape[0] != cov.shape[1] or [str(label) for label in cov.index] != items:
        raise ReliabilityInputError(
            "the covariance matrix must be square, with the same items as rows and columns"
        )
    if len(items) < 2:
        raise ReliabilityInputError(f"alpha needs at least two items, got {len(items)}")
    if len(set(items)) != len(items):
        raise ReliabilityInputError("the covariance matrix names an item twice")
    if n < 2:
        raise ReliabilityInputError(f"alpha needs at least two respondents, got n = {n}")
    values = cov.to_numpy(dtype=float)
    for i, item in enumerate(items):
        if math.isnan(values[i, i]):
            raise ReliabilityInputError(f"item {item} has no variance estimate (fewer than two answers)")
        if values[i, i] <= 0:
            # psych::alpha deletes such an item with a warning; we say so instead of guessing.
            raise ReliabilityInputError(
                f"item {item} has no variance (every answer is the same); leave it out of the items"
            )
    missing = np.argwhere(~np.isfinite(values))
    if missing.size:
        i, j = missing[0]
        raise ReliabilityInputError(
            f"items {items[i]} and {items[j]} have no covariance estimate "
            "(fewer than two respondents answered both)"
        )
    if not np.allclose(values, values.T, rtol=1e-9, atol=1e-12):
        raise ReliabilityInputError("the covariance matrix is not symmetric")
    return items


def alpha_from_covariance(cov: pd.DataFrame, n: int) -> Reliability:
    """Cronbach's alpha from an item covariance matrix: R ``psych::alpha()`` ``raw_alpha``.

    Parameters
    ----------
    cov : pandas.DataFrame
        Item covariance matrix (ddof = 1), items as both index and columns. psych builds it
        with ``cov(x, use = "pairwise")``; any matrix built the same way (e.g. from stored sums
        of pairwise-complete answers) gives the same alpha.
    n : int
        Number of respondents. psych's ``alpha()`` passes ``nrow(x)`` to ``alpha.ci``, i.e. every
        row including rows with missing answers; pass the same to reproduce its interval.

    Returns
    -------
    Reliability
        ``alpha = k/(k-1) * (1 - trace(C)/sum(C))``; ``ci95`` is Feldt's interval as
        ``psych::alpha.ci(alpha, n, k)``; ``alpha_if_dropped`` is the same formula on ``C``
        without each item (psych ``alpha.drop$raw_alpha``). With two items it is empty: what is
        left is one item, which has no alpha (psych prints ``C12/C22`` there, not an alpha).

    Raises
    ------
    ReliabilityInputError
        Fewer than two items or respondents, an item with no variance, a missing covariance, or
        a total score whose variance (``sum(C)``) is not positive, where alpha is undefined.
    """
    items = _check_covariance(cov, n)
    values = cov.to_numpy(dtype=float)
    if _no_total_variance(values):
        raise ReliabilityInputError(
            "the total score has no variance (sum of covariances <= 0): alpha is undefined"
        )
    alpha = _raw_alpha(values)
    dropped: dict[str, float] = {}
    if len(items) > 2:
        for i, item in enumerate(items):
            rest = np.delete(np.delete(values, i, axis=0), i, axis=1)
            if _no_total_variance(rest):
                raise ReliabilityInputError(
                    f"without item {item} the total score has no variance: alpha if dropped is undefined"
                )
            dropped[item] = float(_raw_alpha(rest))
    return Reliability(
        alpha=float(alpha), ci95=feldt_ci95(alpha, n, len(items)), n=int(n), alpha_if_dropped=dropped
    )


def alpha_from_frame(frame: pd.DataFrame) -> Reliability:
    """Cronbach's alpha of answers, one column per item: R ``psych::alpha(x)`` ``raw_alpha``.

    Missing answers (NaN) are handled as psych's default ``use = "pairwise"``: pandas
    ``DataFrame.cov()`` is pairwise complete with ddof = 1, like R ``cov(use = "pairwise")``.
    ``n`` is ``len(frame)``, every row, because that is what psych passes to ``alpha.ci``;
    drop rows that are not respondents (no answer at all) first if they should not count.
    Reverse-keyed items must be reversed before (:func:`reverse_keyed`).
    """
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise ReliabilityInputError(f"item {column} is not numeric")
    return alpha_from_covariance(frame.astype(float).cov(), len(frame))


def reverse_keyed(frame: pd.DataFrame, items: Sequence[str], low: float, high: float) -> pd.DataFrame:
    """A copy with ``items`` mirrored on the scale: ``low + high - x``.

    psych mirrors with the smallest and largest answer seen (``keys``); only the sign of an
    item's covariances changes, so alpha is the same either way.
    """
    seen: set[str] = set()
    for item in items:
        if item not in frame.columns:
            raise ReliabilityInputError(f"reverse item {item} is not among the items")
        if item in seen:
            # Mirroring twice would silently undo the reversal.
            raise ReliabilityInputError(f"reverse item {item} is listed twice")
        seen.add(item)
    result = frame.copy()
    for item in items:
        result[item] = low + high - result[item]
    return result


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # "nan" and "inf" are not answers


def _read_rows(path: Path) -> list[list[str]]:
    try:
        # utf-8-sig drops the byte-order mark spreadsheet programs write, and reads plain UTF-8 too.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.reader(handle))
    except FileNotFoundError as exc:
        raise ReliabilityInputError(f"cannot read {path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise ReliabilityInputError(f"cannot read {path}: it is not UTF-8 text") from exc
    except (OSError, csv.Error) as exc:
        raise ReliabilityInputError(f"cannot read {path}: {exc}") from exc


def load_item_csv(path: str | Path, items: Sequence[str], low: float, high: float) -> pd.DataFrame:
    """Read the ``items`` columns of a CSV file, checked, as floats (empty cell = NaN).

    Row numbers in messages are the spreadsheet's: the header is row 1. Blank lines are
    skipped, as R ``read.csv`` and pandas do; a line of empty cells is a respondent without
    answers and is kept (psych counts it in ``n``).
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ReliabilityInputError(f"the scale ends must be numbers, got {low:g}..{high:g}")
    if low >= high:
        raise ReliabilityInputError(f"the scale minimum ({low:g}) must be below its maximum ({high:g})")
    items = list(items)
    if len(items) < 2:
        raise ReliabilityInputError(f"alpha needs at least two items, got {len(items)}")
    for item in items:
        if not item.strip():
            raise ReliabilityInputError("an item name is empty")
        if items.count(item) > 1:
            raise ReliabilityInputError(f"item {item} is listed twice")

    path = Path(path)
    records = list(enumerate(_read_rows(path), start=1))  # (spreadsheet row, cells)
    records = [(row, cells) for row, cells in records if cells]  # a blank line reads as []
    if not records:
        raise ReliabilityInputError(f"{path} is empty")
    header_row, header = records[0]
    header = [name.strip() for name in header]
    positions: dict[str, int] = {}
    for item in items:
        if header.count(item) > 1:
            raise ReliabilityInputError(
                f"column {item} appears more than once in the header (row {header_row})"
            )
        if item not in header:
            hint = " (the file seems to use ';', save it comma-separated)" if ";" in ",".join(header) else ""
            raise ReliabilityInputError(f"column {item} is missing from the header (row {header_row}){hint}")
        positions[item] = header.index(item)

    data: dict[str, list[float]] = {item: [] for item in items}
    rows_with_answers = 0
    for row, cells in records[1:]:
        answered = False
        for item in items:
            position = positions[item]
            text = cells[position].strip() if position < len(cells) else ""
            if not text:
                data[item].append(math.nan)
                continue
            value = _number(text)
            if value is None:
                raise ReliabilityInputError(f"row {row}, column {item}: {text!r} is not a number")
            if not low <= value <= high:
                raise ReliabilityInputError(f"row {row}, column {item}: {text} is outside {low:g}..{high:g}")
            data[item].append(value)
            answered = True
        rows_with_answers += answered
    if rows_with_answers < 2:
        raise ReliabilityInputError(
            f"alpha needs at least two rows with answers to the items, found {rows_with_answers}"
        )
    return pd.DataFrame(data, columns=items, dtype=float)
