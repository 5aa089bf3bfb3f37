"""What a factor model is fitted to: a structure (factors and their items) and the answers.

Missing answers are handled by listwise deletion: a row enters a model only when every item of
the model is answered, and every result says how many rows that left (``n``) and how many were
set aside (``n_incomplete``). Full-information ML (lavaan ``missing = "ml"``) is not offered: its
chi-square needs the saturated model estimated from incomplete data (EM), which neither the
semopy fit nor the multigroup estimator here computes, so its fit measures could not be checked
against lavaan's. Pulses that ask only some statements therefore do not enter these models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class QualityInputError(ValueError):
    """A model or data set that cannot be analysed; the message says what is wrong."""


@dataclass(frozen=True)
class Structure:
    """Factors, each measured by its own items (simple structure, no cross-loadings)."""

    factors: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, factors: Mapping[str, Sequence[str]]) -> Structure:
        structure = cls(tuple((name, tuple(items)) for name, items in factors.items()))
        structure.check()
        return structure

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.factors]

    @property
    def items(self) -> list[str]:
        return [item for _, items in self.factors for item in items]

    def items_of(self, factor: str) -> tuple[str, ...]:
        return dict(self.factors)[factor]

    def factor_of(self, item: str) -> str:
        return next(name for name, items in self.factors if item in items)

    def check(self) -> None:
        if not self.factors:
            raise QualityInputError("the model needs at least one factor")
        seen: set[str] = set()
        names = self.names
        for name, items in self.factors:
            if not name.strip():
                raise QualityInputError("a factor name is empty")
            if names.count(name) > 1:
                raise QualityInputError(f"factor {name} is named twice")
            if len(items) < 2:
                raise QualityInputError(f"factor {name} needs at least two items, got {len(items)}")
            if len(self.factors) == 1 and len(items) < 3:
                raise QualityInputError(
                    f"a single factor needs at least three items, {name} has {len(items)}"
                )
            for item in items:
                if not item.strip():
                    raise QualityInputError(f"factor {name} has an empty item name")
                if item in seen:
                    raise QualityInputError(f"item {item} is listed twice (each item measures one factor)")
                if item in names:
                    raise QualityInputError(f"{item} is both a factor and an item")
                seen.add(item)


@dataclass(frozen=True)
class Moments:
    """One group's sample size, means and covariances (divisor N, as lavaan's ML uses)."""

    n: int
    mean: np.ndarray
    cov: np.ndarray


def complete_cases(frame: pd.DataFrame, structure: Structure) -> tuple[pd.DataFrame, int]:
    """The rows that answer every item of ``structure``, as floats, and how many were dropped."""
    missing = [item for item in structure.items if item not in frame.columns]
    if missing:
        raise QualityInputError(f"column {missing[0]} is not in the data")
    data = frame[structure.items]
    for item in structure.items:
        if not pd.api.types.is_numeric_dtype(data[item]):
            raise QualityInputError(f"item {item} is not numeric")
    data = data.astype(float)
    values = data.to_numpy()
    if np.isinf(values).any():
        raise QualityInputError("the data hold an infinite value")
    complete = data.dropna()
    return complete, len(data) - len(complete)


def moments(complete: pd.DataFrame, structure: Structure, *, label: str = "the data") -> Moments:
    """Means and ML covariances of complete rows, checked for what the estimator needs."""
    n = len(complete)
    p = len(structure.items)
    if n <= p:
        raise QualityInputError(
            f"{label} has {n} complete rows for {p} items: a factor model needs more rows than items"
        )
    values = complete[structure.items].to_numpy(dtype=float)
    cov = np.cov(values, rowvar=False, ddof=0)
    for index, item in enumerate(structure.items):
        if not cov[index, index] > 0:
            raise QualityInputError(f"item {item} has no variance in {label} (every answer is the same)")
    sign, _ = np.linalg.slogdet(cov)
    if sign <= 0 or not math.isfinite(float(np.linalg.cond(cov))):
        raise QualityInputError(
            f"the item covariances of {label} are singular: some item is a copy or a sum of others"
        )
    return Moments(n=n, mean=values.mean(axis=0), cov=cov)


def read_item_csv(path: str | Path, items: Sequence[str], group: str | None = None) -> pd.DataFrame:
    """The ``items`` columns of a CSV file as floats (an empty cell is a missing answer), and the
    ``group`` column as text. Row numbers in messages are the spreadsheet's: the header is row 1."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True)
    except FileNotFoundError as error:
        raise QualityInputError(f"cannot read {path}: no such file") from error
    except UnicodeDecodeError as error:
        raise QualityInputError(f"cannot read {path}: it is not UTF-8 text") from error
    except pd.errors.EmptyDataError as error:
        raise QualityInputError(f"{path} is empty") from error
    except (OSError, pd.errors.ParserError) as error:
        raise QualityInputError(f"cannot read {path}: {error}") from error
    header = [str(name).strip() for name in raw.columns]
    raw.columns = header
    for column in [*items, *([group] if group else [])]:
        if header.count(column) > 1:
            raise QualityInputError(f"column {column} appears more than once in the header (row 1)")
        if column not in header:
            hint = " (the file seems to use ';', save it comma-separated)" if ";" in ",".join(header) else ""
            raise QualityInputError(f"column {column} is missing from the header (row 1){hint}")
    frame = pd.DataFrame(index=raw.index)
    for item in items:
        text = raw[item].str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = values.isna() & (text != "") | np.isinf(values)
        if bad.any():
            row = int(bad.idxmax())
            raise QualityInputError(f"row {row + 2}, column {item}: {text[row]!r} is not a number")
        frame[item] = values.astype(float)
    if group:
        labels = raw[group].str.strip()
        frame[group] = labels.where(labels != "")
    return frame
