"""Sums of scores keyed by a few columns, grouped with numpy.

The dashboard groups a few hundred to a few thousand roll-up cells a dozen ways. A pandas
group-by costs about a millisecond however small its frame; numpy sorts and sums the same
cells in tens of microseconds. Groups come out sorted by their keys, in the order pandas
sorts them, so the frames built from them equal those a pandas group-by gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

SUM_COLUMNS = ("n", "total", "total_sq")


def _column(values: Sequence[Any]) -> np.ndarray:
    # Strings become fixed-width unicode, which numpy sorts without calling Python.
    return np.array(values) if len(values) else np.array([], dtype=object)


@dataclass(frozen=True)
class Sums:
    """n, sum and sum of squares of scores per combination of ``keys`` (equal-length arrays)."""

    keys: dict[str, np.ndarray]
    n: np.ndarray  # int64
    total: np.ndarray  # float64
    total_sq: np.ndarray  # float64

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]], names: Sequence[str]) -> Sums:
        """Rows of key values followed by n, total and total_sq, as a query returns them."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * (len(names) + 3)
        width = len(names)
        return cls(
            keys={name: _column(column) for name, column in zip(names, columns, strict=False)},
            n=np.array(columns[width], dtype=np.int64),
            total=np.array(columns[width + 1], dtype=np.float64),
            total_sq=np.array(columns[width + 2], dtype=np.float64),
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Sums:
        """A frame with n, total, total_sq and any key columns."""
        names = [name for name in frame.columns if name not in SUM_COLUMNS]
        return cls(
            keys={name: frame[name].to_numpy() for name in names},
            n=frame["n"].to_numpy(dtype=np.int64),
            total=frame["total"].to_numpy(dtype=np.float64),
            total_sq=frame["total_sq"].to_numpy(dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.n)

    def where(self, mask: np.ndarray) -> Sums:
        return Sums(
            {name: values[mask] for name, values in self.keys.items()},
            self.n[mask],
            self.total[mask],
            self.total_sq[mask],
        )

    def with_key(self, name: str, values: np.ndarray) -> Sums:
        return Sums(self.keys | {name: values}, self.n, self.total, self.total_sq)

    def group(self, by: Sequence[str]) -> Sums:
        """Summed per distinct combination of ``by``, sorted by ``by`` (like pandas ``groupby``)."""
        if not len(self):
            return Sums({name: self.keys[name][:0] for name in by}, self.n, self.total, self.total_sq)
        uniques, codes = zip(*(np.unique(self.keys[name], return_inverse=True) for name in by), strict=True)
        shape = tuple(len(values) for values in uniques)
        cells, inverse = np.unique(np.ravel_multi_index(codes, shape), return_inverse=True)
        positions = np.unravel_index(cells, shape)
        size = len(cells)
        return Sums(
            {name: values[at] for name, values, at in zip(by, uniques, positions, strict=True)},
            np.bincount(inverse, weights=self.n, minlength=size).astype(np.int64),
            np.bincount(inverse, weights=self.total, minlength=size),
            np.bincount(inverse, weights=self.total_sq, minlength=size),
        )


def to_100(score: Any) -> Any:
    """A mean on the 1-7 scale as 0-100."""
    return (score - 1) * 100 / 6


def describe(sums: Sums, min_n: int) -> dict[str, np.ndarray]:
    """Per cell: n, mean, sd and a t-based 95% interval on 0-100, and whether n < ``min_n``."""
    n = sums.n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sums.total / n
        variance = np.where(n > 1, (sums.total_sq - n * mean**2) / (n - 1), np.nan).clip(min=0)
    sd = np.sqrt(variance)
    half = stats.t.ppf(0.975, (n - 1).clip(min=1)) * sd / np.sqrt(n)
    return {
        "n": sums.n,
        "mean": to_100(mean),
        "sd": sd * 100 / 6,
        "low": to_100(mean - half),
        "high": to_100(mean + half),
        "suppressed": sums.n < min_n,
    }


def summary(sums: Sums, by: Sequence[str], min_n: int, *, keep_small: bool = False) -> pd.DataFrame:
    """``by``, n, mean, sd, low, high per group of ``by``; groups under ``min_n`` left out
    (or, with ``keep_small``, kept with a ``suppressed`` column)."""
    grouped = sums.group(by)
    figures = describe(grouped, min_n)
    suppressed = figures.pop("suppressed")
    columns = {name: grouped.keys[name] for name in by} | figures
    if keep_small:
        return pd.DataFrame(columns | {"suppressed": suppressed})
    return pd.DataFrame({name: values[~suppressed] for name, values in columns.items()})
