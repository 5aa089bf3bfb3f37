"""Cluster moments: what a cluster-robust interval needs, summed by the database.

A group's mean clustered by account (``intervals.clustered_from_moments``) needs, besides n,
Σx and Σx², the number of accounts G with answers and three sums over those accounts g of
their own sums n_g and S_g: ΣS_g², ΣS_g·n_g and Σn_g² (``LEVEL``). A change between two
periods (``intervals.clustered_changes_from_moments``) needs each period's and the products
of the two (``CHANGE``). The database sums each account's cell first and then these (a nested
``GROUP BY`` over the aggregates, ``statement``), so a figure over 2,000 accounts reads one
row per group rather than one per account. Each sum is written once, as an expression on a
cluster's sums that SQL columns and numpy arrays both take: the database's moments and
numpy's (``of_cells``, for cells already in memory) are the same definition.

Kept like any read (``survey.reporting.cache``) and brought up to date with what arrived: a
square does not add, so each account that received answers has its old part of the moments
replaced by its new one. Its cell now is read from the aggregates for those accounts only;
less what arrived, that is its cell before.

Besides scores, two figures are means too and come the same way: NPS, the mean of the
recommendation scored +1/0/-1 (``RECOMMENDATION``, from the answer counts:
``recommendation_sums``), and a gap to a leader, the mean of the paired difference
(``PAIRED``: the pair sums and the moments of the difference, ``difference_sums``).

A group key ``period`` is a month or a quarter (``grain``) of the month the answers fall in.
``versions`` pools, per indicator, the answers to several instrument versions (a trend line
running on across versions with the same statements); without it the filters' version alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import numpy as np
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlmodel import Session

from survey.instrument.scoring import nps_category
from survey.reporting import aggregates, cache
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters, Grain, periods_of, quarter_of

CLUSTER = "account_id"
RESPONDENT = "respondent"  # the contact, or an answer alone (``aggregates.source``)
PERIOD = "period"
CELL_SUMS = ("n", "total", "total_sq")
Versions = Mapping[str, tuple[int, ...]]
# The recommendation (0-10) as a score: +1 from a promoter, 0 from a passive, -1 from a
# detractor (``scoring.nps_category``), whose mean is NPS; its cells are the answer counts'.
RECOMMENDATION: Final = "recommendation"
RECOMMENDATION_ITEM = "NPS"
Scored = aggregates.Measure | Literal["recommendation"]
_CATEGORY_COUNTERS = {
    category: tuple(f"c{point}" for point in range(11) if nps_category(point) == category)
    for category in ("promoter", "detractor")
}


def recommendation_sums(counts: Any) -> dict[str, Any]:
    """A cell's answer counts (``c0``..``c10``, SQL columns or numpy arrays) as the sums of
    the recommendation's score: n, Σx (promoters less detractors) and Σx² (promoters and
    detractors)."""
    promoters, detractors = (
        sum(counts[name] for name in _CATEGORY_COUNTERS[category]) for category in ("promoter", "detractor")
    )
    return {
        "n": sum(counts[name] for name in aggregates.COUNTERS),
        "total": promoters - detractors,
        "total_sq": promoters + detractors,
    }


def _cells(
    dialect: str,
    measure: Scored,
    keys: Sequence[str],
    filters: Filters,
    ids: tuple[int, int] | None,
    grouped: bool = True,
) -> Any:
    """``measure``'s n, Σx and Σx² by ``keys`` under ``filters`` (``aggregates.statement``), as a
    subquery; not ``grouped``: cells possibly finer than ``keys``, for the caller to sum."""
    if measure == RECOMMENDATION:
        return _recommendation_cells(dialect, keys, filters, ids, grouped)
    return aggregates.statement(dialect, measure, keys, filters, ids=ids, grouped=grouped).subquery()


def _recommendation_cells(
    dialect: str, keys: Sequence[str], filters: Filters, ids: tuple[int, int] | None, grouped: bool
) -> Any:
    # The sums are linear in the counts: they hold on cells finer than ``keys`` too.
    counts = aggregates.statement(
        dialect,
        "answers",
        [*keys, "item_code"],
        filters,
        ids=ids,
        items=(RECOMMENDATION_ITEM,),
        grouped=grouped,
    ).subquery()
    sums = recommendation_sums(counts.c)
    return select(
        *(counts.c[name] for name in keys), *(sums[name].label(name) for name in CELL_SUMS)
    ).subquery()


def pooling(filters: Filters, versions: Versions | None) -> Versions | None:
    """``versions``, or None where they pool nothing but the filters' version (the version
    key then narrows the read, which the aggregates' keys serve)."""
    if versions is None or all(pooled == (filters.version,) for pooled in versions.values()):
        return None
    return versions


def per_cluster(
    dialect: str,
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
    ids: tuple[int, int] | None = None,
    grouped: bool = True,
    cluster: str = CLUSTER,
) -> Select[Any]:
    """``measure`` summed by ``by`` and ``cluster`` (the account, or within accounts the
    respondent: n, Σx, Σx²) under ``filters``: one row per group and cluster, the inner sums of
    ``statement``. With ``ids``, only those responses. Not ``grouped``: where one version is
    read, the aggregate's rows as stored, possibly several per group and cluster, for a caller
    that sums them by group and cluster itself."""
    versions = pooling(filters, versions)
    alike = set(versions.values()) if versions is not None else set()
    if len(alike) == 1 and len(next(iter(alike))) == 1:
        # Every indicator on the same one version (the usual case): that version as the filter.
        (only,) = next(iter(alike))
        filters, versions = replace(filters, version=only), None
    if versions is None:
        # An aggregate's cells by these keys (the quarter worked out of the month) are the
        # clusters' already: one GROUP BY.
        fine = [
            ("month" if grain == "month" else aggregates.QUARTER) if name == PERIOD else name for name in by
        ]
        # The account first: the aggregates' rows are stored in account order, which the
        # database's grouping then follows for part of the way.
        inner = _cells(dialect, measure, [cluster, *fine], filters, ids, grouped)
        return select(
            *(
                inner.c[name].label(label)
                for name, label in zip([*fine, cluster], [*by, cluster], strict=True)
            ),
            *(inner.c[name] for name in _kind(measure).cell),
        )
    # Pooled: each version's cells first, those pooled summed per cluster.
    fine = ["month" if name == PERIOD else name for name in by]
    chosen = replace(filters, version=None)
    inner = _cells(dialect, measure, [cluster, "version", *fine], chosen, ids)

    def key(name: str) -> Any:
        if name != PERIOD:
            return inner.c[name]
        return inner.c.month if grain == "month" else quarter_of(inner.c.month)

    keys = [key(name) for name in [*by, cluster]]
    pooled = or_(*(and_(inner.c.indicator == code, inner.c.version.in_(vs)) for code, vs in versions.items()))
    return (
        select(
            *(key.label(name) for key, name in zip(keys, [*by, cluster], strict=True)),
            *(func.sum(inner.c[name]).label(name) for name in _kind(measure).cell),
        )
        .where(pooled)
        .group_by(*keys)
    )


def positive(value: Any) -> Any:
    """1 where ``value`` > 0, else 0: in SQL or in numpy."""
    if isinstance(value, ColumnElement):
        return case((value > 0, 1), else_=0)
    return (np.asarray(value) > 0).astype(np.float64)


# A term: an expression on a cluster cell's sums by name (SQL columns or numpy arrays).
Term = Callable[[Any], Any]


@dataclass(frozen=True)
class Kind:
    """What a cluster's cell holds (``cell``: its sums) and what is summed over a group's
    clusters (``terms``: each an expression on the cell's sums)."""

    cell: tuple[str, ...]
    terms: Mapping[str, Term]

    @property
    def sums(self) -> tuple[str, ...]:
        return tuple(self.terms)


# One group's mean, in the order ``intervals.clustered_from_moments`` takes them.
LEVEL = Kind(
    CELL_SUMS,
    {
        "n": lambda c: c["n"],
        "total": lambda c: c["total"],
        "total_sq": lambda c: c["total_sq"],
        "clusters": lambda c: positive(c["n"]),
        "ss": lambda c: c["total"] * c["total"],
        "sn": lambda c: c["total"] * c["n"],
        "nn": lambda c: c["n"] * c["n"],
    },
)
MOMENTS = LEVEL.sums


def difference_sums(pairs: Any) -> dict[str, Any]:
    """A cell's paired ratings (``aggregates.PAIR_SUMS``: ours ``a``, the leader's ``b``) as
    the sums of their difference d = a - b: n, Σd and Σd²."""
    return {
        "n": pairs["n"],
        "total": pairs["sum_a"] - pairs["sum_b"],
        "total_sq": pairs["sum_aa"] + pairs["sum_bb"] - 2 * pairs["sum_ab"],
    }


def _on_difference(term: Term) -> Term:
    return lambda c: term(difference_sums(c))


# One group's paired ratings: their sums, and the clusters' moments of the difference
# (``LEVEL``'s, with n and Σd, Σd² from the sums: ``difference_sums``).
PAIRED = Kind(
    aggregates.PAIR_SUMS,
    {name: (lambda c, name=name: c[name]) for name in aggregates.PAIR_SUMS}
    | {name: _on_difference(LEVEL.terms[name]) for name in ("clusters", "ss", "sn", "nn")},
)
# One group's change from the period before (0) to the later one (1): each side's ``LEVEL``
# moments (named with the side's number: ``n0``, ``ss1``, …), the clusters with answers on
# either side, and the cross-products of a cluster's sums on the two sides, as
# ``intervals.clustered_changes_from_moments`` takes them.
SIDES = (0, 1)


def _on_side(term: Term, number: int) -> Term:
    """``term`` of a ``LEVEL`` cell, taken on one side of a ``CHANGE`` cell."""
    return lambda c: term({name: c[f"{name}{number}"] for name in CELL_SUMS})


CHANGE = Kind(
    tuple(f"{name}{number}" for number in SIDES for name in CELL_SUMS),
    {f"{name}{number}": _on_side(term, number) for number in SIDES for name, term in LEVEL.terms.items()}
    | {
        "clusters": lambda c: positive(c["n0"] + c["n1"]),
        "s1s0": lambda c: c["total1"] * c["total0"],
        "s1n0": lambda c: c["total1"] * c["n0"],
        "n1s0": lambda c: c["n1"] * c["total0"],
        "n1n0": lambda c: c["n1"] * c["n0"],
    },
)
CHANGES = CHANGE.sums


def _kind(measure: Scored, after: str | None = None) -> Kind:
    """What the moments of ``measure`` are: ``PAIRED`` of paired ratings, else ``LEVEL``, or
    with ``after``, ``CHANGE``."""
    if measure == "leader_pairs":
        if after is not None:
            raise ValueError("paired ratings have no change moments")
        return PAIRED
    return LEVEL if after is None else CHANGE


def side(changes: Cells, number: int) -> Cells:
    """``LEVEL``'s moments of one side of ``CHANGE``'s (0: the months before, 1: from
    ``after`` on)."""
    return Cells(changes.keys, {name: changes.sums[f"{name}{number}"] for name in MOMENTS})


def per_cluster_change(
    dialect: str,
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    after: str,
    *,
    versions: Versions | None = None,
    ids: tuple[int, int] | None = None,
    cluster: str = CLUSTER,
) -> Select[Any]:
    """``per_cluster`` of two spans side by side: per group and cluster, the sums of the
    months before ``after`` (``n0``, ``total0``, ``total_sq0``) and of ``after`` on (``…1``),
    within ``filters``' months."""
    # The rows by month need not be summed first: the sums by side below sum them.
    fine = per_cluster(
        dialect, measure, [*by, "month"], filters, versions=versions, ids=ids, grouped=False, cluster=cluster
    ).subquery()
    later = fine.c.month >= after
    keys = [fine.c[name] for name in [*by, cluster]]
    sides = [
        func.sum(case((side, fine.c[name]), else_=0)).label(f"{name}{number}")
        for number, side in zip(SIDES, (~later, later), strict=True)
        for name in CELL_SUMS
    ]
    return select(*keys, *sides).group_by(*keys)


def statement(
    dialect: str,
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
    after: str | None = None,
    cluster: str = CLUSTER,
) -> Select[Any]:
    """The moments of ``measure`` per group of ``by``, clustered by account (or ``cluster``):
    ``LEVEL``'s (of paired ratings ``PAIRED``'s), or with ``after`` (a month), ``CHANGE``'s
    from the filters' months before it to those from it."""
    kind = _kind(measure, after)
    cells = _per_cluster(dialect, measure, by, filters, grain, versions, after, None, cluster).subquery()
    keys = [cells.c[name] for name in by]
    return select(
        *keys, *(func.sum(term(cells.c)).label(name) for name, term in kind.terms.items())
    ).group_by(*keys)


def _per_cluster(
    dialect: str,
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    grain: Grain,
    versions: Versions | None,
    after: str | None,
    ids: tuple[int, int] | None,
    cluster: str = CLUSTER,
) -> Select[Any]:
    if after is None:
        return per_cluster(
            dialect, measure, by, filters, grain=grain, versions=versions, ids=ids, cluster=cluster
        )
    return per_cluster_change(
        dialect, measure, by, filters, after, versions=versions, ids=ids, cluster=cluster
    )


def _summed(cells: Cells, by: Sequence[str], kind: Kind) -> Cells:
    """``kind``'s terms of per-cluster ``cells`` (keyed by ``by`` and the cluster, one row
    each), summed per group of ``by``."""
    if not len(cells):
        return Cells({name: cells.keys[name][:0] for name in by}, {name: np.zeros(0) for name in kind.sums})
    runs = cells.runs(by)
    groups = int(runs[-1]) + 1
    first = np.searchsorted(runs, np.arange(groups))
    return Cells(
        {name: cells.keys[name][first] for name in by},
        {
            name: np.bincount(runs, weights=np.asarray(term(cells.sums), dtype=np.float64), minlength=groups)
            for name, term in kind.terms.items()
        },
    )


def of_cells(cells: Cells, by: Sequence[str], cluster: str, kind: Kind = LEVEL) -> Cells:
    """``kind``'s moments from cells already in memory (clustered by ``cluster``: the
    respondents of one account, say), per group of ``by``."""
    return _summed(cells.group([*by, cluster]), by, kind)


def change_of_cells(cells: Cells, by: Sequence[str], cluster: str, after: str) -> Cells:
    """``CHANGE``'s moments from cells already in memory keyed by month, from the months
    before ``after`` to those from it, clustered by ``cluster``, per group of ``by``."""
    later = cells.keys["month"] >= after
    zeros = np.zeros(len(cells))
    sides = {
        f"{name}{number}": np.where(side, cells.sums[name], zeros)
        for number, side in zip(SIDES, (~later, later), strict=True)
        for name in CELL_SUMS
    }
    keys = {name: cells.keys[name] for name in [*by, cluster]}
    return _summed(Cells(keys, sides).group([*by, cluster]), by, CHANGE)


def by_period(cells: Cells, grain: Grain) -> Cells:
    """Cells keyed by month, keyed by their ``period`` too."""
    return cells.with_key(PERIOD, periods_of(cells.keys["month"], grain))


def read(
    session: Session,
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    *,
    grain: Grain = "month",
    versions: Versions | None = None,
    after: str | None = None,
    cluster: str = CLUSTER,
) -> Cells:
    """The moments (``statement``) of ``measure`` per group of ``by`` under ``filters``,
    clustered by account, kept and brought up to date with the responses that arrived since
    (``_updated``). Clustered by ``RESPONDENT`` instead, ``by`` must hold the account: the
    people who answered one account are its clusters."""
    if cluster != CLUSTER and CLUSTER not in by:
        raise ValueError(f"moments clustered by {cluster} are read per account")
    dialect = session.get_bind().dialect.name
    versions = pooling(filters, versions)
    pooled = None if versions is None else tuple(sorted(versions.items()))
    key = (
        cache.database(session),
        "moments",
        measure,
        tuple(by),
        replace(filters, grain=grain if PERIOD in by else "month"),
        pooled,
        after,
        cluster,
    )
    kind = _kind(measure, after)

    def whole() -> Cells:
        query = statement(
            dialect, measure, by, filters, grain=grain, versions=versions, after=after, cluster=cluster
        )
        return Cells.from_rows(list(session.connection().execute(query).all()), by, kind.sums)

    def since(cells: Cells, ids: tuple[int, int]) -> Cells:
        return _updated(session, cells, ids, measure, by, filters, grain, versions, after, cluster)

    return cache.current(session, key, whole, since)


def _updated(
    session: Session,
    cells: Cells,
    ids: tuple[int, int],
    measure: Scored,
    by: Sequence[str],
    filters: Filters,
    grain: Grain,
    versions: Versions | None,
    after: str | None,
    cluster: str = CLUSTER,
) -> Cells:
    """``cells`` (the moments up to response ``ids[0]``) with the responses up to ``ids[1]``:
    each touched cluster's terms now, less its terms before (the clusters of the accounts that
    received answers read again)."""
    dialect = session.get_bind().dialect.name
    kind = _kind(measure, after)
    keys = [*by, cluster]

    def cells_of(chosen: Filters, ids: tuple[int, int] | None) -> Cells:
        query = _per_cluster(dialect, measure, by, chosen, grain, versions, after, ids, cluster)
        return Cells.from_rows(list(session.connection().execute(query).all()), keys, kind.cell)

    arrived = cells_of(filters, ids)
    if not len(arrived):
        return cells
    touched = tuple(int(account) for account in np.unique(arrived.keys[CLUSTER]))
    now = cells_of(replace(filters, account_ids=touched), None)
    # The touched clusters now, and before: now less what arrived.
    both = Cells(
        {name: np.concatenate([now.keys[name], arrived.keys[name]]) for name in keys},
        {name: np.concatenate([now.sums[name], np.zeros(len(arrived))]) for name in kind.cell}
        | {f"{name}_before": np.concatenate([now.sums[name], -arrived.sums[name]]) for name in kind.cell},
    ).group(keys)
    before = Cells(both.keys, {name: both.sums[f"{name}_before"] for name in kind.cell})
    current = Cells(both.keys, {name: both.sums[name] for name in kind.cell})
    touched_cells = np.any([current.sums[name] != before.sums[name] for name in kind.cell], axis=0)
    gained, lost = (_summed(part.where(touched_cells), by, kind) for part in (current, before))
    change = Cells(gained.keys, {name: gained.sums[name] - lost.sums[name] for name in kind.sums})
    return cells.plus(change)
