"""Roll-ups: running sums per month, segment, touchpoint and contact role.

The submit transaction adds each response to them, so dashboards aggregate a few thousand
rows however many responses there are. ``rebuild`` recomputes them from the raw tables
(after a bulk load, or to repair); both paths must give the same sums.

Beside the wide roll-ups, three narrower ones (``NARROW``) keep the same sums without the
touchpoint and role keys (or, for our own scores, without role and leader), which is all an
unfiltered or segment-filtered dashboard needs: a few hundred rows to read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from itertools import combinations_with_replacement
from typing import Any

from sqlalchemy import Table, and_, case, delete, func, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.tables import (
    Account,
    Answer,
    Contact,
    IndicatorScore,
    ItemRollup,
    ItemSegmentRollup,
    OwnTouchpointRollup,
    PairRollup,
    Response,
    ScoreRollup,
    ScoreSegmentRollup,
)
from survey.instrument.definition import Instrument, load_instrument
from survey.reporting.overview import month_of

UNKNOWN_ROLE = "unknown"
COUNTERS = tuple(f"c{point}" for point in range(11))  # answers 0..10
SCORE_SUMS = ("n", "total", "total_sq")
# Each narrower roll-up: its wide source, the keys it keeps (in its key order), a condition.
NARROW: dict[Any, tuple[Any, tuple[str, ...], Any]] = {
    ScoreSegmentRollup: (
        ScoreRollup,
        ("month", "indicator", "subject", "competitor_id", "segment"),
        None,
    ),
    OwnTouchpointRollup: (
        ScoreRollup,
        ("month", "touchpoint_id", "indicator", "segment"),
        ScoreRollup.subject == "own",
    ),
    ItemSegmentRollup: (ItemRollup, ("month", "item_code", "segment"), None),
}


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], sums: Iterable[str]) -> None:
    """Insert rows, or add their sums to the row with the same key."""
    if rows:
        session.execute(_upsert_statement(session.get_bind().dialect.name, table, tuple(sums)), rows)


@cache
def _upsert_statement(dialect: str, table: Table, sums: tuple[str, ...]) -> Any:
    # Built once per table: constructing the statement costs more than running it.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    keys = [column.name for column in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: table.c[name] + statement.excluded[name] for name in sums},
    )


def indicator_pairs(instrument: Instrument) -> list[tuple[str, str]]:
    """Item pairs within each indicator (an item with itself included), sorted by code."""
    pairs = []
    for indicator in instrument.indicators:
        codes = sorted(item.code for item in instrument.indicator_items(indicator.code))
        pairs += list(combinations_with_replacement(codes, 2))
    return pairs


def add_response(
    session: Session,
    *,
    response: Response,
    answers: Mapping[str, int],
    scores: Iterable[Mapping[str, Any]],
    instrument: Instrument,
) -> None:
    """Add one freshly stored response to the roll-ups, in the caller's transaction."""
    segment, role = session.execute(
        select(Account.segment, Contact.role)
        .select_from(Account)
        .outerjoin(Contact, Contact.id == response.contact_id)
        .where(Account.id == response.account_id)
    ).one()
    cell = {
        "month": f"{response.submitted_at:%Y-%m}",
        "segment": segment,
        "touchpoint_id": response.touchpoint_id,
        "role": UNKNOWN_ROLE if role is None else role,
    }
    score_rows = [
        cell
        | {
            "indicator": score["indicator"],
            "subject": score["subject"],
            "competitor_id": (response.leader_competitor_id or 0) if score["subject"] == "leader" else 0,
            "n": 1,
            "total": score["score"],
            "total_sq": score["score"] ** 2,
        }
        for score in scores
    ]
    _upsert(session, ScoreRollup.__table__, score_rows, SCORE_SUMS)  # type: ignore[arg-type]
    item_rows = [
        cell | {"item_code": code} | dict.fromkeys(COUNTERS, 0) | {f"c{value}": 1}
        for code, value in answers.items()
    ]
    _upsert(session, ItemRollup.__table__, item_rows, COUNTERS)  # type: ignore[arg-type]
    # The narrower roll-ups get the same rows without the keys they leave out.
    own_rows = [row for row in score_rows if row["subject"] == "own"]
    for narrow, wide_rows, sums in (
        (ScoreSegmentRollup, score_rows, SCORE_SUMS),
        (OwnTouchpointRollup, own_rows, SCORE_SUMS),
        (ItemSegmentRollup, item_rows, COUNTERS),
    ):
        kept = (*NARROW[narrow][1], *sums)
        rows = [{name: row[name] for name in kept} for row in wide_rows]
        _upsert(session, narrow.__table__, rows, sums)  # type: ignore[attr-defined]
    pair_rows = [
        {"month": cell["month"], "segment": segment, "item_a": a, "item_b": b, "n": 1}
        | {"sum_a": answers[a], "sum_b": answers[b], "sum_ab": answers[a] * answers[b]}
        | {"sum_aa": answers[a] ** 2, "sum_bb": answers[b] ** 2}
        for a, b in indicator_pairs(instrument)
        if a in answers and b in answers
    ]
    sums = ("n", "sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb")
    _upsert(session, PairRollup.__table__, pair_rows, sums)  # type: ignore[arg-type]


def rebuild(session: Session) -> None:
    """Recompute every roll-up from responses, answers and scores."""
    dialect = session.get_bind().dialect.name
    for table in (ScoreRollup, ItemRollup, PairRollup, *NARROW):
        session.execute(delete(table))
    month = month_of(Response.submitted_at, dialect)
    role = func.coalesce(Contact.role, literal(UNKNOWN_ROLE))
    base = (
        select(Response.id)
        .join(Account, Account.id == Response.account_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
    )
    competitor = case(
        (IndicatorScore.subject == "leader", func.coalesce(Response.leader_competitor_id, 0)), else_=0
    )
    scores = (
        base.with_only_columns(
            month,
            Account.segment,
            Response.touchpoint_id,
            role,
            IndicatorScore.indicator,
            IndicatorScore.subject,
            competitor,
            *score_sums(),
        )
        .join(IndicatorScore, IndicatorScore.response_id == Response.id)
        .group_by(month, Account.segment, Response.touchpoint_id, role, IndicatorScore.indicator)
        .group_by(IndicatorScore.subject, competitor)
    )
    session.execute(ScoreRollup.__table__.insert().from_select(_columns(ScoreRollup), scores))  # type: ignore[attr-defined]
    counters = [func.sum(case((Answer.value == point, 1), else_=0)) for point in range(len(COUNTERS))]
    items = (
        base.with_only_columns(
            month, Account.segment, Response.touchpoint_id, role, Answer.item_code, *counters
        )
        .join(Answer, Answer.response_id == Response.id)
        .group_by(month, Account.segment, Response.touchpoint_id, role, Answer.item_code)
    )
    session.execute(ItemRollup.__table__.insert().from_select(_columns(ItemRollup), items))  # type: ignore[attr-defined]
    _rebuild_pairs(session, month)
    fill_narrow(session)
    session.flush()


def fill_narrow(session: Session) -> None:
    """Sum the wide roll-ups into the (empty) narrower ones."""
    for narrow, (wide, keys, condition) in NARROW.items():
        sums = COUNTERS if wide is ItemRollup else SCORE_SUMS
        columns = [getattr(wide, name) for name in keys]
        statement = select(*columns, *(func.sum(getattr(wide, name)) for name in sums)).group_by(*columns)
        if condition is not None:
            statement = statement.where(condition)
        session.execute(narrow.__table__.insert().from_select([*keys, *sums], statement))


def score_sums() -> list[Any]:
    """n, sum and sum of squares of the indicator scores: what the score roll-up keeps."""
    return [
        func.count(),
        func.sum(IndicatorScore.score),
        func.sum(IndicatorScore.score * IndicatorScore.score),
    ]


def pair_sum_columns(first: Any, second: Any) -> list[Any]:
    """item_a, item_b, n and the five sums of the pair roll-up, over two aliases of answer."""
    a, b = first.c.value, second.c.value
    return [
        first.c.item_code,
        second.c.item_code,
        func.count(),
        func.sum(a),
        func.sum(b),
        func.sum(a * b),
        func.sum(a * a),
        func.sum(b * b),
    ]


def _rebuild_pairs(session: Session, month: Any) -> None:
    instrument = load_instrument()
    # Which indicator each item belongs to, as a small inline table (portable SQL).
    indicator_of = union_all(
        *(
            select(literal(item.code).label("code"), literal(item.indicator).label("indicator"))
            for item in instrument.items
            if item.indicator
        )
    ).cte("indicator_of")
    first_map, second_map = indicator_of.alias("first_map"), indicator_of.alias("second_map")
    first, second = Answer.__table__.alias("first"), Answer.__table__.alias("second")  # type: ignore[attr-defined]
    # Pairs within one indicator, each once (a <= b): partner items are looked up by index.
    statement = (
        select(
            month,
            Account.segment,
            *pair_sum_columns(first, second),
        )
        .select_from(Response)
        .join(Account, Account.id == Response.account_id)
        .join(first, first.c.response_id == Response.id)
        .join(first_map, first_map.c.code == first.c.item_code)
        .join(
            second_map,
            and_(second_map.c.indicator == first_map.c.indicator, second_map.c.code >= first_map.c.code),
        )
        .join(second, and_(second.c.response_id == Response.id, second.c.item_code == second_map.c.code))
        .group_by(month, Account.segment, first.c.item_code, second.c.item_code)
    )
    session.execute(PairRollup.__table__.insert().from_select(_columns(PairRollup), statement))  # type: ignore[attr-defined]


def _columns(model: Any) -> list[str]:
    return [column.name for column in model.__table__.columns]
