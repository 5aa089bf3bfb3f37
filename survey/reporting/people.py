"""How many different people a figure rests on: the minimum for showing it.

A figure is shown only when at least ``k`` different people gave the answers behind it, not
``k`` answers: one contact answering five times is one person, and a cell of their answers
alone would show what they said. The aggregates hold sums, which cannot tell how many people
they came from, so the people of a cell are counted on its raw rows, through the measure's
one definition (``aggregates.source``; a person is its ``respondent``: the contact, or for an
anonymous answer the response itself, which is never linked to another). The count stops at
``k`` people and walks the submission-time index, so a large cell costs a few rows.

Answers are only ever added (an erasure makes answers anonymous, which can only add people),
so a cell once found to rest on ``k`` people keeps that verdict: it is kept for the process.
A cell found short is asked again only when its number of answers has grown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from survey.reporting import aggregates
from survey.reporting.filters import Filters, period_months, where

MAX_ENTRIES = 100_000
PERIODS = ("period", "month")  # cell keys naming a period: a month or a quarter label

# Whether a cell (its keys, its number of answers) rests on enough people.
Enough = Callable[[Mapping[str, Any], int], bool]

_verdicts: OrderedDict[tuple[object, ...], tuple[int, bool]] = OrderedDict()
_lock = threading.Lock()


def clear() -> None:
    """Forget every kept verdict (tests)."""
    with _lock:
        _verdicts.clear()


@dataclass(frozen=True)
class People:
    """Whether a cell of ``measure`` under ``filters`` rests on at least ``k`` people.

    Called with the cell's keys (those of ``aggregates.source``, and ``period`` or ``month``
    for a period label) and its number of answers."""

    session: Session
    filters: Filters
    k: int
    measure: aggregates.Measure = "own_scores"
    # Per indicator, the instrument versions a cell pools (a trend line running on across
    # versions whose statements are the same); otherwise the filters' version alone.
    versions: Mapping[str, tuple[int, ...]] | None = None

    def pooling(self, versions: Mapping[str, tuple[int, ...]]) -> People:
        """The same check on cells pooling, per indicator, the answers to ``versions``."""
        return replace(self, versions=dict(versions))

    def on(self, measure: aggregates.Measure) -> People:
        """The same check on another measure's rows."""
        return replace(self, measure=measure)

    def within(self, start: str | None, end: str | None) -> People:
        """The same check with the filters' period narrowed to ``start``..``end``."""
        return replace(self, filters=replace(self.filters, start=start, end=end))

    def __call__(self, cell: Mapping[str, Any], n: int) -> bool:
        if n < self.k:
            return False
        if self.k <= 1:
            return True
        filters, equal = self.filters, {}
        for name, value in cell.items():
            plain = value.item() if hasattr(value, "item") else value
            if name in PERIODS:
                first, last = period_months(str(plain))
                filters = replace(
                    filters,
                    start=max(first, filters.start or first),
                    end=min(last, filters.end or last),
                )
            else:
                equal[name] = plain
        pooled: tuple[int, ...] = ()
        if self.versions is not None and equal.get("indicator") in self.versions:
            pooled = self.versions[equal["indicator"]]
            filters = replace(filters, version=None)
        url = str(cast(Engine, self.session.get_bind()).url)
        key = (
            url,
            self.measure,
            self.k,
            replace(filters, grain="month"),
            tuple(sorted(equal.items())),
            pooled,
        )
        with _lock:
            known = _verdicts.get(key)
        if known is not None and (known[1] or known[0] == n):
            return known[1]
        enough = self._count(filters, equal, pooled) >= self.k
        with _lock:
            _verdicts[key] = (n, enough)
            _verdicts.move_to_end(key)
            while len(_verdicts) > MAX_ENTRIES:
                _verdicts.popitem(last=False)
        return enough

    def _count(self, filters: Filters, equal: Mapping[str, Any], versions: tuple[int, ...]) -> int:
        """The people of the cell (of ``versions``, when given), counted up to ``k``."""
        if filters.start and filters.end and filters.start > filters.end:
            return 0
        dialect = self.session.get_bind().dialect.name
        base, _, _ = aggregates.source(self.measure, dialect)
        # Narrowed by submission time, through its index: the other keys are written so that
        # no index serves them (``ranged_columns``), and the first people found end the walk.
        columns = aggregates.ranged_columns(self.measure, dialect)
        conditions = where(filters, columns.__getitem__) + aggregates.time_range(filters)
        conditions += [columns[name] == value for name, value in equal.items()]
        if versions:
            conditions.append(columns["version"].in_(versions))
        people = (
            base.with_only_columns(columns["respondent"].label("respondent"))
            .where(*conditions)
            .distinct()
            .limit(self.k)
            .subquery()
        )
        return int(self.session.connection().execute(select(func.count()).select_from(people)).scalar_one())
