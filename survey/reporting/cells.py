"""Cells: sums keyed by a few columns, as read from an aggregate, grouped with numpy.

Reports group a few hundred to a few thousand aggregate cells a dozen ways. A pandas group-by
costs about a millisecond however small its frame; numpy sorts and sums the same cells in
tens of microseconds. Groups come out sorted by their keys, in the order pandas sorts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def _column(values: Sequence[Any]) -> np.ndarray:
    # Strings become fixed-width unicode, which numpy sorts without calling Python.
    return np.array(values) if len(values) else np.array([], dtype=object)


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, sorted, and each value's index among them (``np.unique`` with
    ``return_inverse``, by hashing rather than sorting every value)."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    return np.asarray(uniques).astype(values.dtype, copy=False), codes


@dataclass(frozen=True)
class Cells:
    """Sums (``sums``) per combination of ``keys``: equal-length arrays by name."""

    keys: dict[str, np.ndarray]
    sums: dict[str, np.ndarray]

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]], keys: Sequence[str], sums: Sequence[str]) -> Cells:
        """Rows of key values followed by the sums, as a query returns them."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * (len(keys) + len(sums))
        width = len(keys)
        return cls(
            keys={name: _column(column) for name, column in zip(keys, columns, strict=False)},
            sums={
                name: np.array(column, dtype=np.float64)
                for name, column in zip(sums, columns[width:], strict=True)
            },
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, sums: Sequence[str] = ("n", "total", "total_sq")) -> Cells:
        """A frame with the ``sums`` columns and any key columns."""
        return cls(
            keys={name: frame[name].to_numpy() for name in frame.columns if name not in sums},
            sums={name: frame[name].to_numpy(dtype=np.float64) for name in sums},
        )

    def __len__(self) -> int:
        return len(next(iter(self.sums.values()))) if self.sums else 0

    @property
    def n(self) -> np.ndarray:
        return self.sums["n"].astype(np.int64)

    def where(self, mask: np.ndarray) -> Cells:
        return Cells(
            {name: values[mask] for name, values in self.keys.items()},
            {name: values[mask] for name, values in self.sums.items()},
        )

    def with_key(self, name: str, values: np.ndarray) -> Cells:
        return Cells(self.keys | {name: values}, self.sums)

    def plus(self, other: Cells) -> Cells:
        """These cells and ``other`` (same keys and sums) summed per key."""
        if not len(other):
            return self
        if not len(self):
            return other
        return Cells.stacked([self, other]).group(list(self.keys))

    @staticmethod
    def stacked(parts: Sequence[Cells]) -> Cells:
        """The cells of ``parts`` (same keys and sums) one after another, not summed."""
        first = parts[0]
        return Cells(
            {name: np.concatenate([part.keys[name] for part in parts]) for name in first.keys},
            {name: np.concatenate([part.sums[name] for part in parts]) for name in first.sums},
        )

    def runs(self, names: Sequence[str]) -> np.ndarray:
        """Each cell's group of ``names``, numbered 0, 1, …, for cells sorted by those keys
        first (as ``group`` leaves them), where a group's cells are consecutive."""
        first = np.zeros(len(self), dtype=bool)
        if len(self):
            first[0] = True
        for name in names:
            first[1:] |= self.keys[name][1:] != self.keys[name][:-1]
        return np.cumsum(first) - 1

    def group(self, by: Sequence[str]) -> Cells:
        """Summed per distinct combination of ``by``, sorted by ``by`` (like pandas ``groupby``)."""
        if not len(self):
            return Cells({name: self.keys[name][:0] for name in by}, self.sums)
        if not by:  # one group: everything
            return Cells({}, {name: np.array([values.sum()]) for name, values in self.sums.items()})
        uniques, codes = zip(*(_sorted_codes(self.keys[name]) for name in by), strict=True)
        shape = tuple(len(values) for values in uniques)
        cells, inverse = np.unique(np.ravel_multi_index(codes, shape), return_inverse=True)
        positions = np.unravel_index(cells, shape)
        size = len(cells)
        return Cells(
            {name: values[at] for name, values, at in zip(by, uniques, positions, strict=True)},
            {
                name: np.bincount(inverse, weights=values, minlength=size)
                for name, values in self.sums.items()
            },
        )
