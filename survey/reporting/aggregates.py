"""Aggregates: every sum a report reads, each defined once as a query over the raw tables.

A *measure* says what is summed (indicator scores, answer counts, paired leader ratings) and ``definition``
writes it as one ``SELECT keys, sums … GROUP BY keys`` over responses joined to their account
and contact. Each aggregate table (``AGGREGATES``) is that measure grouped by the table's keys,
and the one definition serves three uses:

* **the increment at submission** (``add_response``): the definition restricted to the new
  response (``WHERE response.id = :id``), upserted into every table in the caller's
  transaction;
* **the rebuild** (``rebuild``): the definition over every response, inserted whole (a narrower
  table is the rebuilt wider one of the same measure summed over the keys it leaves out);
* **filtered reads** (``read``): a report asks for a measure by a few keys under ``Filters``;
  the smallest table holding those keys and the filters' dimensions answers, or, for the
  few combinations no table holds (a contact role together with chosen accounts, but for our
  own scores; who answered, together with a touchpoint), the same
  definition over the raw rows in scope. ``ids`` restricts a read to responses in an id
  range, which is how a cached result takes in new responses (``survey.reporting.cache``).

Every key set starts with the instrument version: answers to different versions never pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import Dialect, Select, bindparam, case, delete, func, literal, select
from sqlmodel import Session, col

from models.db import upsert_insert
from models.tables import (
    Account,
    AccountDayRollup,
    AccountItemRollup,
    AccountLeaderPairRollup,
    AccountRespondentRollup,
    AccountScoreRollup,
    AccountTouchpointRollup,
    Answer,
    Contact,
    FormRollup,
    IndicatorScore,
    ItemRollup,
    ItemSegmentRollup,
    LeaderPairRollup,
    OwnTouchpointRollup,
    Response,
    ScoreRollup,
    ScoreSegmentRollup,
)
from survey.instrument.definition import LEADER_COUNTERPARTS
from survey.reporting.cells import Cells
from survey.reporting.filters import (
    UNKNOWN_ROLE,
    Filters,
    day_of,
    month_begins,
    month_ends,
    month_of,
    quarter_of,
    role_of,
    where,
)

QUARTER = "quarter"  # a key: the ``YYYY-Qn`` of the month (``filters.quarter_of``)
Measure = Literal[
    "scores", "own_scores", "leader_scores", "answers", "leader_pairs", "responses", "response_means"
]
# Our own scores and the leaders' ratings: the scores of one subject, read from all scores.
SUBJECTS: dict[str, str] = {"own_scores": "own", "leader_scores": "leader"}
SCORE_SUMS = ("n", "total", "total_sq")
COUNTERS = tuple(f"c{point}" for point in range(11))  # answers 0..10
PAIR_SUMS = ("n", "sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb")
SUMS: dict[str, tuple[str, ...]] = {
    "scores": SCORE_SUMS,
    "own_scores": SCORE_SUMS,
    "leader_scores": SCORE_SUMS,
    "answers": COUNTERS,
    "leader_pairs": PAIR_SUMS,
    "responses": ("n",),
    "response_means": SCORE_SUMS,
}
__all__ = [
    "AGGREGATES",
    "UNKNOWN_ROLE",
    "Aggregate",
    "add_response",
    "definition",
    "read",
    "rebuild",
    "rekey_respondent",
]


@dataclass(frozen=True)
class Aggregate:
    """A table holding ``measure`` summed by its primary-key columns."""

    model: Any
    measure: Measure

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.model.__table__.primary_key.columns)

    @property
    def sums(self) -> tuple[str, ...]:
        return SUMS[self.measure]

    @property
    def name(self) -> str:
        return str(self.model.__tablename__)


# Smallest first within each measure: a read takes the first that holds what it needs; the
# rebuild fills them in this order from the end, so a narrower one is summed from a wider one.
AGGREGATES = (
    Aggregate(ScoreSegmentRollup, "scores"),
    Aggregate(AccountScoreRollup, "scores"),
    Aggregate(ScoreRollup, "scores"),
    Aggregate(OwnTouchpointRollup, "own_scores"),
    Aggregate(AccountTouchpointRollup, "own_scores"),
    Aggregate(AccountRespondentRollup, "own_scores"),
    Aggregate(ItemSegmentRollup, "answers"),
    Aggregate(AccountItemRollup, "answers"),
    Aggregate(ItemRollup, "answers"),
    Aggregate(LeaderPairRollup, "leader_pairs"),
    Aggregate(AccountLeaderPairRollup, "leader_pairs"),
    Aggregate(FormRollup, "responses"),
    Aggregate(AccountDayRollup, "response_means"),
)


@cache
def source(measure: Measure, dialect: str) -> tuple[Select[Any], Mapping[str, Any], tuple[Any, ...]]:
    """The raw rows of ``measure``: a statement to add columns to, its key columns by name
    and its sum expressions (in ``SUMS[measure]`` order). Built once per measure: building
    the expressions costs more than a small query (a count of a cell's people) itself."""
    base, keys, sums = _source(measure, dialect)
    return base, MappingProxyType(keys), tuple(sums)


def _source(measure: Measure, dialect: str) -> tuple[Select[Any], dict[str, Any], list[Any]]:
    keys: dict[str, Any] = {
        "version": Response.instrument_version,
        "month": month_of(col(Response.submitted_at), dialect),
        QUARTER: quarter_of(month_of(col(Response.submitted_at), dialect)),
        "day": day_of(col(Response.submitted_at), dialect),
        "account_id": Response.account_id,
        "segment": Account.segment,
        "touchpoint_id": Response.touchpoint_id,
        "role": role_of(),
        # Who answered, for intervals clustered by respondent within one account: the contact,
        # or, for an anonymous answer (never linked to anyone) or one without a contact, the
        # response itself. Only our own scores by account are kept by it
        # (``AccountRespondentRollup``); erasing a contact re-keys them (``rekey_respondent``).
        "respondent": case(
            (col(Response.anonymous) | col(Response.contact_id).is_(None), -col(Response.id)),
            else_=Response.contact_id,
        ),
    }
    base = (
        select(col(Response.id))
        .select_from(Response)
        .join(Account, col(Account.id) == Response.account_id)
        .outerjoin(Contact, col(Contact.id) == Response.contact_id)
    )
    leader = func.coalesce(Response.leader_competitor_id, 0)
    if measure == "responses":  # how many, by the form answered
        return base, keys | {"form": Response.form}, [func.count()]
    if measure == "response_means":
        mean = response_mean()
        return base.where(mean.is_not(None)), keys, [func.count(), func.sum(mean), func.sum(mean * mean)]
    if measure == "scores" or measure in SUBJECTS:
        base = base.join(IndicatorScore, col(IndicatorScore.response_id) == Response.id)
        if measure in SUBJECTS:
            base = base.where(col(IndicatorScore.subject) == SUBJECTS[measure])
        keys |= {
            "indicator": IndicatorScore.indicator,
            "subject": IndicatorScore.subject,
            "competitor_id": case((col(IndicatorScore.subject) == "leader", leader), else_=0),
        }
        sums = [
            func.count(),
            func.sum(IndicatorScore.score),
            func.sum(IndicatorScore.score * IndicatorScore.score),
        ]
        return base, keys, sums
    if measure == "leader_pairs":
        # The leader's rating (its one statement is its score) beside our answer to the
        # matching statement, where the respondent gave both.
        counterpart = case(
            *((col(IndicatorScore.indicator) == code, item) for code, item in LEADER_COUNTERPARTS.items()),
            else_=None,
        )
        base = base.join(
            IndicatorScore,
            (col(IndicatorScore.response_id) == Response.id) & (col(IndicatorScore.subject) == "leader"),
        ).join(Answer, (col(Answer.response_id) == Response.id) & (col(Answer.item_code) == counterpart))
        keys |= {"indicator": IndicatorScore.indicator, "competitor_id": leader}
        a, b = Answer.value, IndicatorScore.score
        return (
            base,
            keys,
            [func.count(), func.sum(a), func.sum(b), func.sum(a * b), func.sum(a * a), func.sum(b * b)],
        )
    base = base.join(Answer, col(Answer.response_id) == Response.id)
    keys["item_code"] = Answer.item_code
    return base, keys, [func.sum(case((col(Answer.value) == point, 1), else_=0)) for point in range(11)]


def response_mean() -> Any:
    """Each response's mean own score (0-100), one step into its scores, as a scalar subquery
    on ``Response``: a relationship's level in one answer, whichever statements its form
    asked. A response without own scores (a pulse answered only by its recommendation, say)
    has none (NULL)."""
    return (
        select(func.avg(IndicatorScore.score_100))
        .where(col(IndicatorScore.response_id) == Response.id, col(IndicatorScore.subject) == "own")
        .correlate(Response)
        .scalar_subquery()
    )


def definition(
    measure: Measure, keys: Sequence[str], dialect: str, conditions: Sequence[Any] = ()
) -> Select[Any]:
    """``measure`` summed by ``keys`` over the raw rows meeting ``conditions``: the one
    definition behind every aggregate."""
    base, columns, sums = source(measure, dialect)
    chosen = [columns[name] for name in keys]
    return (
        base.with_only_columns(
            *(column.label(name) for column, name in zip(chosen, keys, strict=True)),
            *(expression.label(name) for expression, name in zip(sums, SUMS[measure], strict=True)),
        )
        .where(*conditions)
        .group_by(*chosen)
    )


@cache
def ranged_columns(measure: Measure, dialect: str) -> Mapping[str, Any]:
    """The key columns of ``measure``'s raw rows for a read narrowed to a range (of response
    ids, or of submission times), the narrowest way in: the account, touchpoint, segment and
    indicator are written as expressions (``+ 0``, ``|| ''``) that no index serves. Otherwise
    SQLite, without statistics, would walk every response of the chosen accounts (or every
    score of the indicator) to find the few in the range."""
    _, columns, _ = source(measure, dialect)
    unindexed = {"account_id": columns["account_id"] + 0, "touchpoint_id": columns["touchpoint_id"] + 0}
    for name in ("segment", "indicator", "subject"):
        if name in columns:
            unindexed[name] = columns[name] + ""
    return MappingProxyType({**columns, **unindexed})


def time_range(filters: Filters) -> list[Any]:
    """The filters' months again as instants on the submission time, which its index serves
    (the month conditions of ``where`` are on an expression no index serves)."""
    conditions = []
    if filters.start:
        conditions.append(col(Response.submitted_at) >= month_begins(filters.start))
    if filters.end:
        conditions.append(col(Response.submitted_at) < month_ends(filters.end))
    return conditions


def raw_conditions(
    measure: Measure, filters: Filters, dialect: str, *, skip: frozenset[str], by_ids: bool = False
) -> list[Any]:
    """``filters`` on the raw rows of ``measure``. ``by_ids``: the rows are also narrowed to a
    range of response ids (``ranged_columns``)."""
    columns = ranged_columns(measure, dialect) if by_ids else source(measure, dialect)[1]
    return where(filters, columns.__getitem__, skip=skip)


@cache
def _increment(aggregate: Aggregate, dialect: str) -> Any:
    insert = upsert_insert(dialect)
    table = aggregate.model.__table__
    columns = [*aggregate.keys, *aggregate.sums]
    query = definition(aggregate.measure, aggregate.keys, dialect, [Response.id == bindparam("response_id")])
    statement = insert(table).from_select(columns, query)
    return statement.on_conflict_do_update(
        index_elements=list(aggregate.keys),
        set_={name: table.c[name] + statement.excluded[name] for name in aggregate.sums},
    )


@dataclass(frozen=True)
class _Compiled:
    """``_increment`` compiled once for the driver: per submission, only the response id is
    bound (building, or even looking up the cache key of, a dozen upserts costs more than
    running them)."""

    sql: str
    constants: Mapping[str, Any]
    order: tuple[str, ...] | None  # the driver's positional order; None: named parameters

    def parameters(self, response_id: int) -> Any:
        values = {**self.constants, "response_id": response_id}
        return values if self.order is None else tuple(values[name] for name in self.order)


_COMPILED: dict[tuple[Aggregate, str, str, str], _Compiled] = {}


def _compiled(aggregate: Aggregate, dialect: Dialect) -> _Compiled:
    key = (aggregate, dialect.name, dialect.driver, dialect.paramstyle)
    if key not in _COMPILED:
        compiled = _increment(aggregate, dialect.name).compile(dialect=dialect)
        if compiled._bind_processors or compiled.post_compile_params:
            # Bound only as plain values: nothing may need the driver layer to convert or expand.
            raise TypeError(
                f"the increment of {aggregate.name} binds values the driver cannot take as they are"
            )
        constants = MappingProxyType(dict(compiled.construct_params({"response_id": 0})))
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        _COMPILED[key] = _Compiled(compiled.string, constants, order)
    return _COMPILED[key]


def add_response(session: Session, response_id: int) -> None:
    """Add one freshly stored response (its scores and answers already flushed) to every
    aggregate, in the caller's transaction."""
    connection = session.connection()
    for aggregate in AGGREGATES:
        compiled = _compiled(aggregate, connection.dialect)
        connection.exec_driver_sql(compiled.sql, compiled.parameters(response_id))


def rekey_respondent(session: Session, contact_id: int) -> None:
    """After a contact's responses were made anonymous (an erasure), give the aggregates
    keyed by respondent those responses as their definition now does, each alone, in the
    caller's transaction: no aggregate keeps the erased person's answers together."""
    dialect = session.get_bind().dialect.name
    theirs = select(-col(Response.id)).where(col(Response.contact_id) == contact_id)
    for aggregate in AGGREGATES:
        if "respondent" not in aggregate.keys:
            continue
        table = aggregate.model.__table__
        # Their rows under the contact, and those of answers given anonymously already.
        session.execute(
            delete(table).where((table.c.respondent == contact_id) | table.c.respondent.in_(theirs))
        )
        query = definition(
            aggregate.measure, aggregate.keys, dialect, [col(Response.contact_id) == contact_id]
        )
        session.execute(table.insert().from_select([*aggregate.keys, *aggregate.sums], query))


def unfilled(session: Session) -> list[Aggregate]:
    """The aggregates that are empty, one row read of each: with responses stored, those to
    fill (``rebuild(only=…)``) after an upgrade added them or on a bulk-loaded base. (One
    may also be empty because no response has what it sums, paired leader ratings say:
    filling it again finds nothing, and costs only where something else is filled.)"""
    connection = session.connection()

    def empty(aggregate: Aggregate) -> bool:
        one = select(literal(1)).select_from(aggregate.model.__table__).limit(1)
        return connection.execute(one).first() is None

    return [aggregate for aggregate in AGGREGATES if empty(aggregate)]


def rebuild(session: Session, only: Sequence[Aggregate] = AGGREGATES) -> None:
    """Recompute every aggregate (or those ``only``; the others are taken as complete) from
    responses, answers and scores, in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    filled = [aggregate for aggregate in AGGREGATES if aggregate not in only]
    for aggregate in reversed(AGGREGATES):
        if aggregate not in only:
            continue
        session.execute(delete(aggregate.model))
        table = aggregate.model.__table__
        columns = [*aggregate.keys, *aggregate.sums]
        wider = _wider(aggregate, filled)
        if wider is None:
            query = definition(aggregate.measure, aggregate.keys, dialect)
        else:  # the same sums, grouped by fewer keys
            query = _regrouped(wider, aggregate.keys, aggregate.measure, [])
        session.execute(table.insert().from_select(columns, query))
        filled.append(aggregate)
    session.flush()


def _holds(candidate: Aggregate, measure: Measure, keys: set[str]) -> bool:
    """Whether ``candidate`` holds ``measure`` by every one of ``keys`` (one subject's scores
    can come from all scores, keyed by subject)."""
    same = candidate.measure == measure or (measure in SUBJECTS and candidate.measure == "scores")
    return same and keys <= set(candidate.keys)


def _wider(aggregate: Aggregate, candidates: Sequence[Aggregate]) -> Aggregate | None:
    keys = set(aggregate.keys)
    return next((c for c in candidates if _holds(c, aggregate.measure, keys)), None)


def _regrouped(
    aggregate: Aggregate,
    keys: Sequence[str],
    measure: Measure,
    conditions: Sequence[Any],
    *,
    grouped: bool = True,
) -> Select[Any]:
    """``aggregate``'s sums by ``keys`` under ``conditions``; not ``grouped``: its rows as
    stored, with those keys and sums, for a caller to sum by them."""
    table = aggregate.model.__table__

    def key(name: str) -> Any:
        return quarter_of(table.c.month) if name == QUARTER else table.c[name]

    chosen = [key(name) for name in keys]
    statement = select(
        *(column.label(name) for column, name in zip(chosen, keys, strict=True)),
        *((func.sum(table.c[name]) if grouped else table.c[name]).label(name) for name in SUMS[measure]),
    ).where(*conditions)
    if measure in SUBJECTS and aggregate.measure == "scores":
        statement = statement.where(table.c.subject == SUBJECTS[measure])
    return statement.group_by(*chosen) if grouped else statement


def source_for(
    measure: Measure, keys: Sequence[str], filters: Filters, *, skip: frozenset[str] = frozenset()
) -> Aggregate | None:
    """The smallest aggregate that holds ``keys`` and can apply ``filters``; ``None`` when only
    the raw rows can."""
    needed = {"month" if name == QUARTER else name for name in keys} | {"version", "month"}
    needed |= filters.dimensions - skip
    return next((a for a in AGGREGATES if _holds(a, measure, needed)), None)


def statement(
    dialect: str,
    measure: Measure,
    keys: Sequence[str],
    filters: Filters,
    *,
    skip: frozenset[str] = frozenset(),
    ids: tuple[int, int] | None = None,
    items: tuple[str, ...] = (),
    grouped: bool = True,
) -> Select[Any]:
    """The query of ``read``: ``measure`` summed by ``keys`` under ``filters``, from the
    smallest aggregate that can answer, or with ``ids``, from the raw rows in that id range.
    Not ``grouped``: an aggregate's rows as stored (finer than ``keys``, where it holds more
    keys), for a caller that sums them by ``keys`` itself, one grouping fewer; raw rows are
    grouped all the same."""
    aggregate = None if ids is not None else source_for(measure, keys, filters, skip=skip)
    if aggregate is None:
        conditions = raw_conditions(measure, filters, dialect, skip=skip, by_ids=ids is not None)
        if ids is not None:
            conditions += [col(Response.id) > ids[0], col(Response.id) <= ids[1]]
        else:
            conditions += time_range(filters)
        if items:
            conditions.append(col(Answer.item_code).in_(items))
        return definition(measure, keys, dialect, conditions)
    table = aggregate.model.__table__
    conditions = where(filters, table.c.__getitem__, skip=skip)
    if items:
        conditions.append(table.c.item_code.in_(items))
    return _regrouped(aggregate, keys, measure, conditions, grouped=grouped)


def read(
    session: Session,
    measure: Measure,
    keys: Sequence[str],
    filters: Filters,
    *,
    skip: frozenset[str] = frozenset(),
    ids: tuple[int, int] | None = None,
    items: tuple[str, ...] = (),
) -> Cells:
    """``measure`` summed by ``keys`` under ``filters`` (leaving out the dimensions in
    ``skip``), from the smallest aggregate that can answer. With ``ids`` (low, high], only
    responses in that id range count, read through the definition. ``items`` narrows answer
    counts to those statements (``item_code`` must be among ``keys``). Raw rows narrowed to a
    period are found through the submission-time index (``time_range``)."""
    dialect = session.get_bind().dialect.name
    query = statement(dialect, measure, keys, filters, skip=skip, ids=ids, items=items)
    # Core rows on the session's connection: the ORM's result processing would cost about as
    # much as the query itself.
    rows = list(session.connection().execute(query).all())
    return Cells.from_rows(rows, keys, SUMS[measure])
