"""Cluster moments: what a cluster-robust interval needs, summed by the database.

A group's mean clustered by account (``intervals.clustered_from_moments``) needs, besides n,
Σx and Σx², the number of accounts G with answers and three sums over those accounts g of
their own sums n_g and S_g: ΣS_g², ΣS_g·n_g and Σn_g². The database sums each account's cell
first and then these (a nested ``GROUP BY`` over the aggregates, ``statement``), so a figure
over 2,000 accounts reads one row per group rather than one per account.

Kept like any read (``survey.reporting.cache``) and brought up to date with what arrived: a
square does not add, so a new response's account has its old part of the moments replaced by
its new one. Its cell now is read from the aggregates for the accounts that received answers
only; less what arrived, that is its cell before.

A group key ``period`` is a month or a quarter (``grain``) of the month the answers fall in.
``versions`` pools, per indicator, the answers to several instrument versions (a trend line
running on across versions with the same statements); without it the filters' version alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy import Integer, Select, String, and_, case, cast, func, literal, or_, select
from sqlmodel import Session

from survey.reporting import aggregates, cache
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters, Grain, periods_of
from survey.reporting.intervals import cluster_moments

CLUSTER = "account_id"
PERIOD = "period"
# The sums of a group, in the order ``intervals.clustered_from_moments`` takes them.
MOMENTS = ("n", "total", "total_sq", "clusters", "ss", "sn", "nn")
CELL_SUMS = ("n", "total", "total_sq")
Versions = Mapping[str, tuple[int, ...]]
_ATTEMPTS = 3


def quarter_of(month: Any) -> Any:
    """``YYYY-MM`` to ``YYYY-Qn`` in SQL, as ``filters.periods_of`` does in Python."""
    number = cast(func.substr(month, 6, 2), Integer)
    return func.substr(month, 1, 4) + literal("-Q") + cast((number + 2) // 3, String)


def per_cluster(
    dialect: str,
    measure: aggregates.Measure,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
    ids: tuple[int, int] | None = None,
) -> Select[Any]:
    """``measure`` summed by ``by`` and account (n, Σx, Σx²) under ``filters``: one row per
    group and cluster, the inner sums of ``statement``. With ``ids``, only those responses."""
    fine = ["month" if name == PERIOD else name for name in by]
    chosen = filters if versions is None else replace(filters, version=None)
    inner = aggregates.statement(dialect, measure, ["version", *fine, CLUSTER], chosen, ids=ids).subquery()

    def key(name: str) -> Any:
        if name != PERIOD:
            return inner.c[name]
        return inner.c.month if grain == "month" else quarter_of(inner.c.month)

    keys = [key(name) for name in [*by, CLUSTER]]
    conditions = []
    if versions is not None:
        conditions.append(
            or_(*(and_(inner.c.indicator == code, inner.c.version.in_(vs)) for code, vs in versions.items()))
        )
    return (
        select(
            *(key.label(name) for key, name in zip(keys, [*by, CLUSTER], strict=True)),
            *(func.sum(inner.c[name]).label(name) for name in CELL_SUMS),
        )
        .where(*conditions)
        .group_by(*keys)
    )


def statement(
    dialect: str,
    measure: aggregates.Measure,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
) -> Select[Any]:
    """The moments (``MOMENTS``) of ``measure`` per group of ``by``, clustered by account."""
    cells = per_cluster(dialect, measure, by, filters, grain=grain, versions=versions).subquery()
    n, total = cells.c.n, cells.c.total
    keys = [cells.c[name] for name in by]
    return select(
        *keys,
        func.sum(n).label("n"),
        func.sum(total).label("total"),
        func.sum(cells.c.total_sq).label("total_sq"),
        func.sum(case((n > 0, 1), else_=0)).label("clusters"),
        func.sum(total * total).label("ss"),
        func.sum(total * n).label("sn"),
        func.sum(n * n).label("nn"),
    ).group_by(*keys)


def of_cells(cells: Cells, by: Sequence[str], cluster: str) -> Cells:
    """The same moments from per-cluster cells already in memory (clustered by ``cluster``:
    the respondents of one account, say), grouped by ``by``."""
    fine = cells.group([*by, cluster])
    grouped = fine.group(list(by))
    found = cluster_moments(
        fine.runs(by), fine.sums["n"], fine.sums["total"], fine.sums["total_sq"], len(grouped)
    )
    return Cells(grouped.keys, dict(zip(MOMENTS, found, strict=True)))


def by_period(cells: Cells, grain: Grain) -> Cells:
    """Cells keyed by month, keyed by their ``period`` too."""
    return cells.with_key(PERIOD, periods_of(cells.keys["month"], grain))


def read(
    session: Session,
    measure: aggregates.Measure,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
) -> Cells:
    """The moments of ``measure`` per group of ``by`` under ``filters``, clustered by account,
    kept and brought up to date with the responses that arrived since (``_updated``)."""
    dialect = session.get_bind().dialect.name
    pooled = None if versions is None else tuple(sorted(versions.items()))
    key = (
        cache.database(session),
        "moments",
        measure,
        tuple(by),
        replace(filters, grain=grain if PERIOD in by else "month"),
        pooled,
    )
    newest = cache.newest_response_id(session)
    found = cache.kept(key)
    if found is not None and found[0] == newest:
        return found[1]
    for _ in range(_ATTEMPTS):
        if found is not None and found[0] < newest:
            cells = _updated(session, found[1], found[0], newest, measure, by, filters, grain, versions)
        else:
            query = statement(dialect, measure, by, filters, grain=grain, versions=versions)
            cells = Cells.from_rows(list(session.connection().execute(query).all()), by, MOMENTS)
        after = cache.newest_response_id(session)
        if after == newest:
            cache.keep(key, newest, cells)
            return cells
        newest = after
    return cells  # responses kept arriving: correct as of some moment of this read, not kept


def _updated(
    session: Session,
    cells: Cells,
    upto: int,
    newest: int,
    measure: aggregates.Measure,
    by: Sequence[str],
    filters: Filters,
    grain: Grain,
    versions: Versions | None,
) -> Cells:
    """``cells`` (the moments up to response ``upto``) with the responses up to ``newest``."""
    dialect = session.get_bind().dialect.name
    keys = [*by, CLUSTER]

    def cells_of(chosen: Filters, ids: tuple[int, int] | None) -> Cells:
        query = per_cluster(dialect, measure, by, chosen, grain=grain, versions=versions, ids=ids)
        return Cells.from_rows(list(session.connection().execute(query).all()), keys, CELL_SUMS)

    arrived = cells_of(filters, (upto, newest))
    if not len(arrived):
        return cells
    touched = tuple(int(account) for account in np.unique(arrived.keys[CLUSTER]))
    now = cells_of(replace(filters, account_ids=touched), None)
    # Each touched cell now and before (now less what arrived), side by side.
    zeros_now, zeros_arrived = np.zeros(len(now)), np.zeros(len(arrived))
    both = Cells(
        {name: np.concatenate([now.keys[name], arrived.keys[name]]) for name in keys},
        {
            "n": np.concatenate([now.sums["n"], zeros_arrived]),
            "total": np.concatenate([now.sums["total"], zeros_arrived]),
            "n_before": np.concatenate([now.sums["n"], -arrived.sums["n"]]),
            "total_before": np.concatenate([now.sums["total"], -arrived.sums["total"]]),
            "total_sq": np.concatenate([zeros_now, arrived.sums["total_sq"]]),
        },
    ).group(keys)
    touched_cells = both.where(both.sums["n"] != both.sums["n_before"])
    n, total = touched_cells.sums["n"], touched_cells.sums["total"]
    n0, total0 = touched_cells.sums["n_before"], touched_cells.sums["total_before"]
    change = Cells(
        {name: touched_cells.keys[name] for name in by},
        {
            "n": n - n0,
            "total": total - total0,
            "total_sq": touched_cells.sums["total_sq"],
            "clusters": (n > 0).astype(np.float64) - (n0 > 0),
            "ss": total * total - total0 * total0,
            "sn": total * n - total0 * n0,
            "nn": n * n - n0 * n0,
        },
    )
    return cells.plus(change)
