"""What the dashboard shows, computed from the roll-ups.

Every function takes the same ``Filters``. Without an account filter the figures come from
the roll-up tables: the narrower ones (a few hundred rows) unless a touchpoint or contact
role is chosen, the wide ones (a few thousand) when one is. With an account filter the same
sums are read from that account's raw rows, which are few. The sums are grouped with numpy
(``survey.reporting.sums``) and become pandas frames only as finished figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, func, literal, or_
from sqlalchemy import select as rows_select
from sqlmodel import Session, select

from models.tables import (
    Account,
    Answer,
    Benchmark,
    Competitor,
    Contact,
    IndicatorScore,
    ItemRollup,
    ItemSegmentRollup,
    OwnTouchpointRollup,
    PairRollup,
    Response,
    ScoreRollup,
    ScoreSegmentRollup,
    Touchpoint,
)
from survey.instrument.definition import Instrument
from survey.reporting.gaps import Gap, gaps
from survey.reporting.overview import month_of
from survey.reporting.reliability import ReliabilityInputError, alpha_from_covariance
from survey.reporting.rollups import COUNTERS, UNKNOWN_ROLE, indicator_pairs, pair_sum_columns, score_sums
from survey.reporting.sums import SUM_COLUMNS, Sums, describe, summary

Grain = Literal["month", "quarter"]


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters; empty tuples mean 'all'. Months are ``YYYY-MM``, inclusive."""

    start: str | None = None
    end: str | None = None
    segments: tuple[str, ...] = ()
    touchpoint_ids: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()
    account_ids: tuple[int, ...] = ()
    grain: Grain = "quarter"

    @property
    def uses_raw_rows(self) -> bool:
        return bool(self.account_ids)

    @property
    def uses_narrow_rollups(self) -> bool:
        """Only period and segment filters: the narrower roll-ups hold every figure."""
        return not (self.account_ids or self.touchpoint_ids or self.roles)


def period_of(month: pd.Series, grain: Grain) -> pd.Series:
    """``YYYY-MM`` to the month itself or its quarter, ``YYYY-Qn``."""
    if grain == "month":
        return month
    quarter = (month.str[5:7].astype(int) - 1) // 3 + 1
    return month.str[:4] + "-Q" + quarter.astype(str)


def _where_cells(statement: Select[Any], model: Any, filters: Filters, dims: bool = True) -> Select[Any]:
    if filters.start:
        statement = statement.where(model.month >= filters.start)
    if filters.end:
        statement = statement.where(model.month <= filters.end)
    if filters.segments:
        statement = statement.where(model.segment.in_(filters.segments))
    if dims and filters.touchpoint_ids:
        statement = statement.where(model.touchpoint_id.in_(filters.touchpoint_ids))
    if dims and filters.roles:
        statement = statement.where(model.role.in_(filters.roles))
    return statement


def where_dimensions(statement: Select[Any], filters: Filters, role: Any) -> Select[Any]:
    """The account, segment, touchpoint and role filters on responses joined to their
    account; ``role`` is the contact's role column (missing roles already filled in)."""
    if filters.account_ids:
        statement = statement.where(Response.account_id.in_(filters.account_ids))
    if filters.segments:
        statement = statement.where(Account.segment.in_(filters.segments))
    if filters.touchpoint_ids:
        statement = statement.where(Response.touchpoint_id.in_(filters.touchpoint_ids))
    if filters.roles:
        statement = statement.where(role.in_(filters.roles))
    return statement


def _raw_base(session: Session, filters: Filters) -> tuple[Select[Any], Any, Any]:
    """Responses (of the chosen accounts, if any) with the roll-ups' key columns."""
    month = month_of(Response.submitted_at, session.get_bind().dialect.name)
    role = func.coalesce(Contact.role, literal(UNKNOWN_ROLE))
    # A plain SQLAlchemy select: its narrowed copies must still return whole rows.
    statement = (
        rows_select(Response.id)
        .join(Account, Account.id == Response.account_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
    )
    statement = where_dimensions(statement, filters, role)
    if filters.start:
        statement = statement.where(month >= filters.start)
    if filters.end:
        statement = statement.where(month <= filters.end)
    return statement, month, role


def _rows(session: Session, statement: Select[Any]) -> list[Any]:
    # Core rows on the session's connection: the ORM's result processing would cost about
    # as much as the query itself.
    return list(session.connection().execute(statement).all())


@dataclass(frozen=True)
class ScoreCells:
    """The score sums behind every score figure, in the three shapes the figures use."""

    scores: Sums  # month, indicator, subject, competitor_id: trend, profile, gaps
    own_by_segment: Sums  # month, segment, indicator: segment falls
    own_by_touchpoint: Sums  # month, touchpoint_id, indicator: heat map, touchpoint falls


SCORES = ["month", "indicator", "subject", "competitor_id"]
OWN_BY_SEGMENT = ["month", "segment", "indicator"]
OWN_BY_TOUCHPOINT = ["month", "touchpoint_id", "indicator"]
SCORE_KEYS = ["month", "segment", "touchpoint_id", "indicator", "subject", "competitor_id"]


def _grouped(session: Session, model: Any, keys: list[str], filters: Filters, own: bool = False) -> Sums:
    """Sums of a narrower roll-up grouped by ``keys`` in the database (a few hundred rows)."""
    columns = [getattr(model, name) for name in keys]
    statement = _where_cells(
        select(*columns, *(func.sum(getattr(model, name)) for name in SUM_COLUMNS)),
        model,
        filters,
        dims=False,
    ).group_by(*columns)
    if own:
        statement = statement.where(model.subject == "own")
    return Sums.from_rows(_rows(session, statement), keys)


def score_cells(session: Session, filters: Filters) -> ScoreCells:
    """Sums of indicator scores for the filters, from the narrowest source that can answer."""
    if filters.uses_narrow_rollups:
        return ScoreCells(
            _grouped(session, ScoreSegmentRollup, SCORES, filters),
            _grouped(session, ScoreSegmentRollup, OWN_BY_SEGMENT, filters, own=True),
            _grouped(session, OwnTouchpointRollup, OWN_BY_TOUCHPOINT, filters),
        )
    if filters.uses_raw_rows:
        base, month, _ = _raw_base(session, filters)
        competitor = case(
            (IndicatorScore.subject == "leader", func.coalesce(Response.leader_competitor_id, 0)), else_=0
        )
        keys = (
            month,
            Account.segment,
            Response.touchpoint_id,
            IndicatorScore.indicator,
            IndicatorScore.subject,
            competitor,
        )
        wide = (
            base.with_only_columns(*keys, *score_sums())
            .join(IndicatorScore, IndicatorScore.response_id == Response.id)
            .group_by(*keys)
        )
    else:
        wide = _where_cells(
            select(
                ScoreRollup.month,
                ScoreRollup.segment,
                ScoreRollup.touchpoint_id,
                ScoreRollup.indicator,
                ScoreRollup.subject,
                ScoreRollup.competitor_id,
                *(func.sum(getattr(ScoreRollup, name)) for name in SUM_COLUMNS),
            ),
            ScoreRollup,
            filters,
        ).group_by(  # the order of ix_score_rollup_by_month, so that no sort is needed
            ScoreRollup.month,
            ScoreRollup.indicator,
            ScoreRollup.subject,
            ScoreRollup.competitor_id,
            ScoreRollup.segment,
            ScoreRollup.touchpoint_id,
        )
    cells = Sums.from_rows(_rows(session, wide), SCORE_KEYS)
    own = cells.where(cells.keys["subject"] == "own")
    return ScoreCells(cells.group(SCORES), own.group(OWN_BY_SEGMENT), own.group(OWN_BY_TOUCHPOINT))


@dataclass(frozen=True)
class ItemCounts:
    """How often each answer (0-10) was given to each item, by month."""

    month: np.ndarray
    item_code: np.ndarray
    counts: np.ndarray  # one row per month and item, one column per answer 0..10


def item_counts(session: Session, filters: Filters) -> ItemCounts:
    """How often each answer was given to each item, by month."""
    if filters.uses_raw_rows:
        base, month, _ = _raw_base(session, filters)
        counters = [func.sum(case((Answer.value == point, 1), else_=0)) for point in range(len(COUNTERS))]
        statement = (
            base.with_only_columns(month, Answer.item_code, *counters)
            .join(Answer, Answer.response_id == Response.id)
            .group_by(month, Answer.item_code)
        )
    else:
        model: Any = ItemSegmentRollup if filters.uses_narrow_rollups else ItemRollup
        sums = [func.sum(getattr(model, name)) for name in COUNTERS]
        statement = _where_cells(
            select(model.month, model.item_code, *sums), model, filters, dims=model is ItemRollup
        ).group_by(model.month, model.item_code)
    rows = _rows(session, statement)
    return ItemCounts(
        month=np.array([row[0] for row in rows], dtype=object),
        item_code=np.array([row[1] for row in rows], dtype=object),
        counts=np.array([row[2:] for row in rows], dtype=np.int64).reshape(len(rows), len(COUNTERS)),
    )


PAIR_COLUMNS = ["item_a", "item_b", "n", "sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb"]


def pair_sums(session: Session, filters: Filters, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Sums over responses answering both items of each pair (for pairwise covariances),
    as arrays named like ``PAIR_COLUMNS``.

    The pair roll-up is kept by month and segment only; touchpoint and role filters are
    applied by reading raw answers when an account is chosen, and otherwise not at all.
    """
    if filters.uses_raw_rows:
        base, _, _ = _raw_base(session, filters)
        first, second = Answer.__table__.alias("first"), Answer.__table__.alias("second")  # type: ignore[attr-defined]
        wanted = [and_(first.c.item_code == a, second.c.item_code == b) for a, b in pairs]
        statement = (
            base.with_only_columns(*pair_sum_columns(first, second))
            .join(first, first.c.response_id == Response.id)
            .join(second, second.c.response_id == Response.id)
            .where(or_(*wanted))
            .group_by(first.c.item_code, second.c.item_code)
        )
    else:
        sums = [func.sum(getattr(PairRollup, name)) for name in PAIR_COLUMNS[2:]]
        statement = _where_cells(
            select(PairRollup.item_a, PairRollup.item_b, *sums), PairRollup, filters, dims=False
        ).group_by(PairRollup.item_a, PairRollup.item_b)
    columns = list(zip(*_rows(session, statement), strict=True)) or [()] * len(PAIR_COLUMNS)
    types = [object, object, np.int64] + [np.float64] * 5
    return {
        name: np.array(values, dtype=kind)
        for name, values, kind in zip(PAIR_COLUMNS, columns, types, strict=True)
    }


def covariance(pairs: dict[str, np.ndarray], items: list[str]) -> np.ndarray:
    """Pairwise-complete sample covariances (ddof 1) of ``items`` from the pair sums."""
    position = {item: index for index, item in enumerate(items)}
    first = np.array([position.get(item, -1) for item in pairs["item_a"]], dtype=np.int64)
    second = np.array([position.get(item, -1) for item in pairs["item_b"]], dtype=np.int64)
    rows = (first >= 0) & (second >= 0) & (pairs["n"] > 1)
    n = pairs["n"][rows].astype(float)
    values = (pairs["sum_ab"][rows] - pairs["sum_a"][rows] * pairs["sum_b"][rows] / n) / (n - 1)
    matrix = np.full((len(items), len(items)), np.nan)
    matrix[first[rows], second[rows]] = values
    matrix[second[rows], first[rows]] = values
    return matrix


def periods_of(months: np.ndarray, grain: Grain) -> np.ndarray:
    """``YYYY-MM`` labels to months or quarters (``YYYY-Qn``), as ``period_of`` does."""
    if grain == "month" or not len(months):
        return months
    distinct, inverse = np.unique(months, return_inverse=True)
    labels = [f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}" for month in distinct]
    return np.array(labels)[inverse]


def trend(cells: Sums, grain: Grain, min_n: int) -> pd.DataFrame:
    """Per period, indicator, subject and named leader (competitor 0 is us or an unlisted one)."""
    if not len(cells):
        return pd.DataFrame(
            columns=["period", "indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
        )
    by_period = cells.with_key("period", periods_of(cells.keys["month"], grain))
    # Sorted by period already: period is the first key.
    return summary(by_period, ["period", "indicator", "subject", "competitor_id"], min_n)


def profile(cells: Sums, min_n: int) -> pd.DataFrame:
    """Each indicator over the whole filtered period, for us and each named leader."""
    if not len(cells):
        return pd.DataFrame(
            columns=["indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
        )
    return summary(cells, ["indicator", "subject", "competitor_id"], min_n)


def heat_map(own: Sums, min_n: int) -> pd.DataFrame:
    """Touchpoint x indicator mean (0-100) of our own scores; small cells left empty."""
    if not len(own):
        return pd.DataFrame(columns=["touchpoint_id", "indicator", "n", "mean"])
    grouped = own.group(["touchpoint_id", "indicator"])
    figures = describe(grouped, min_n)
    return pd.DataFrame(
        {
            "touchpoint_id": grouped.keys["touchpoint_id"],
            "indicator": grouped.keys["indicator"],
            "n": figures["n"],
            "mean": np.where(figures["suppressed"], np.nan, figures["mean"]),
        }
    )


def movers(cells: Sums | pd.DataFrame, by: str, grain: Grain, min_n: int) -> pd.DataFrame:
    """Where each indicator moved most between the last two periods, per ``by`` group
    (segment or touchpoint), largest falls first; groups with too few responses are left out.

    ``cells``: score sums with month, ``by`` and indicator keys; of a subject key, if any,
    only our own scores count."""
    columns = [by, "indicator", "before", "after", "change", "n_before", "n_after", "period"]
    own = Sums.from_frame(cells) if isinstance(cells, pd.DataFrame) else cells
    if "subject" in own.keys:
        own = own.where(own.keys["subject"] == "own")
    if not len(own):
        return pd.DataFrame(columns=columns)
    period = periods_of(own.keys["month"], grain)
    periods = np.unique(period)
    if len(periods) < 2:
        return pd.DataFrame(columns=columns)
    after = str(periods[-1])
    recent = own.with_key("period", period).where(np.isin(period, periods[-2:]))
    grouped = recent.group(["period", by, "indicator"])
    figures = describe(grouped, min_n)
    shown = ~figures["suppressed"]
    key = list(zip(grouped.keys[by][shown].tolist(), grouped.keys["indicator"][shown].tolist(), strict=True))
    mean, n, is_after = figures["mean"][shown], figures["n"][shown], grouped.keys["period"][shown] == after
    later = {k: i for i, k in enumerate(key) if is_after[i]}
    # Groups shown in both periods, in (by, indicator) order, as a pivot would give them.
    pairs = [(i, later[k]) for i, k in enumerate(key) if not is_after[i] and k in later]
    if not pairs:
        return pd.DataFrame(columns=columns)
    earlier_at, later_at = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    change = mean[later_at] - mean[earlier_at]
    # Largest falls first: numpy's argsort with the kind pandas' sort_values uses.
    order = np.argsort(change, kind="quicksort")
    earlier_at, later_at = earlier_at[order], later_at[order]
    return pd.DataFrame(
        {
            by: grouped.keys[by][shown][earlier_at],
            "indicator": grouped.keys["indicator"][shown][earlier_at],
            "before": mean[earlier_at],
            "after": mean[later_at],
            "change": change[order],
            "n_before": n[earlier_at],
            "n_after": n[later_at],
            "period": np.full(len(order), after),
        }
    )


def account_movers(session: Session, filters: Filters, min_n: int) -> pd.DataFrame:
    """Like ``movers`` per account. Read from raw rows of the last two periods only, so it is
    computed on request rather than with the rest of the dashboard."""
    months = session.exec(
        _where_cells(select(ScoreRollup.month).distinct(), ScoreRollup, filters).order_by(
            ScoreRollup.month.desc()
        )
    ).all()
    if not months:
        return pd.DataFrame(
            columns=["account_id", "indicator", "before", "after", "change", "n_before", "n_after"]
        )
    periods = sorted(set(period_of(pd.Series(months), filters.grain)))[-2:]
    first_month = min(m for m in months if period_of(pd.Series([m]), filters.grain).iloc[0] in periods)
    narrowed = Filters(**{**filters.__dict__, "start": max(first_month, filters.start or first_month)})
    base, month, _ = _raw_base(session, narrowed)
    keys = (month, Response.account_id, IndicatorScore.indicator)
    statement = (
        base.with_only_columns(
            *keys,
            *score_sums(),
        )
        .join(IndicatorScore, IndicatorScore.response_id == Response.id)
        .where(IndicatorScore.subject == "own")
        .group_by(*keys)
    )
    cells = Sums.from_rows(_rows(session, statement), ["month", "account_id", "indicator"])
    return movers(cells, "account_id", filters.grain, min_n).drop(columns="period")


def distribution(counts: ItemCounts, items: list[str], low: int, high: int) -> pd.DataFrame:
    """Share of each answer per item over the period (rows: items, columns: scale points)."""
    given = set(counts.item_code.tolist())
    shown = [item for item in items if item in given]
    row = {item: index for index, item in enumerate(shown)}
    at = np.array([row.get(code, -1) for code in counts.item_code], dtype=np.int64)
    totals = np.zeros((len(shown), high - low + 1), dtype=np.int64)
    np.add.at(totals, at[at >= 0], counts.counts[at >= 0, low : high + 1])
    n = totals.sum(axis=1)
    with np.errstate(invalid="ignore"):
        shares = totals / np.where(n > 0, n, np.nan)[:, None] * 100
    frame = pd.DataFrame(shares, index=pd.Index(shown, name="item_code"), columns=list(range(low, high + 1)))
    frame["n"] = n
    return frame


def nps_by_period(counts: ItemCounts, grain: Grain, min_n: int) -> pd.DataFrame:
    """Promoters, passives, detractors and NPS per period, with an adjusted-Wald 95% interval."""
    columns = ["period", "promoters", "passives", "detractors", "n", "nps", "low", "high"]
    rows = counts.item_code == "NPS"
    if not rows.any():
        return pd.DataFrame(columns=columns)
    periods, inverse = np.unique(periods_of(counts.month[rows].astype(str), grain), return_inverse=True)
    totals = np.zeros((len(periods), len(COUNTERS)), dtype=np.int64)
    np.add.at(totals, inverse, counts.counts[rows])
    promoters, passives = totals[:, 9] + totals[:, 10], totals[:, 7] + totals[:, 8]
    detractors = totals[:, :7].sum(axis=1)
    n = promoters + passives + detractors
    kept = n >= min_n
    promoters, passives, detractors, n = promoters[kept], passives[kept], detractors[kept], n[kept]
    bounds = [nps_interval(*values) for values in zip(promoters, detractors, n, strict=True)]
    return pd.DataFrame(
        {
            "period": periods[kept],
            "promoters": promoters,
            "passives": passives,
            "detractors": detractors,
            "n": n,
            "nps": 100 * (promoters - detractors) / n,
            "low": np.array([low for low, _ in bounds], dtype=np.float64),
            "high": np.array([high for _, high in bounds], dtype=np.float64),
        }
    )


def nps_interval(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """Adjusted-Wald 95% interval for NPS: add 3/4 to promoters and detractors, 3 to n."""
    n_adj = n + 3
    p_pro, p_det = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    nps = p_pro - p_det
    variance = (p_pro + p_det - nps**2) / n_adj
    margin = 1.959964 * np.sqrt(variance)
    return float(100 * max(-1.0, nps - margin)), float(100 * min(1.0, nps + margin))


def benchmarks(session: Session, filters: Filters) -> pd.DataFrame:
    """Imported figures whose period overlaps the filtered months, on 0-100."""
    statement = select(Benchmark)
    if filters.start:
        statement = statement.where(Benchmark.period_end >= date.fromisoformat(f"{filters.start}-01"))
    if filters.end:
        year, month = (int(part) for part in filters.end.split("-"))
        statement = statement.where(Benchmark.period_start <= date(year, month, 28))
    rows = [
        {
            "kind": b.kind,
            "name": b.name,
            "indicator": b.indicator,
            "period": b.period,
            "period_start": b.period_start,
            "period_end": b.period_end,
            "value_100": b.value_100,
            "sd_100": None if b.sd is None else b.sd * 100 / (b.scale_max - b.scale_min),
            "n": b.n,
            "source": b.source,
        }
        for b in session.exec(statement).all()
    ]
    columns = [
        "kind",
        "name",
        "indicator",
        "period",
        "period_start",
        "period_end",
        "value_100",
        "sd_100",
        "n",
        "source",
    ]
    return pd.DataFrame(rows, columns=columns)


def with_periods(figures: pd.DataFrame, grain: Grain) -> pd.DataFrame:
    """Add the first and last chart period each figure covers."""

    def label(day: date) -> str:
        return f"{day:%Y-%m}" if grain == "month" else f"{day.year}-Q{(day.month - 1) // 3 + 1}"

    return figures.assign(
        first_period=figures["period_start"].map(label), last_period=figures["period_end"].map(label)
    )


def data_version(session: Session) -> tuple[int, int, str]:
    """Changes whenever a response or a benchmark figure arrives: the cache key of the page."""
    latest = session.exec(select(func.max(Response.id))).one() or 0
    figures = session.exec(select(func.count(), func.max(Benchmark.imported_at)).select_from(Benchmark)).one()
    return int(latest), int(figures[0]), str(figures[1])


def filter_options(session: Session) -> dict[str, Any]:
    """What the filters can offer: months with data, segments, touchpoints, roles, accounts."""
    # From the small roll-up: min and max together make SQLite scan a table whole.
    months = session.exec(
        select(func.min(ScoreSegmentRollup.month), func.max(ScoreSegmentRollup.month))
    ).one()
    return {
        "first_month": months[0],
        "last_month": months[1],
        "segments": sorted({s for s in session.exec(select(Account.segment).distinct()).all() if s}),
        "touchpoints": dict(
            session.exec(select(Touchpoint.id, Touchpoint.name).order_by(Touchpoint.stage)).all()
        ),
        # From contacts, not the roll-up: a distinct over the roll-up scans it whole.
        "roles": sorted({role for role in session.exec(select(Contact.role).distinct()).all() if role}),
        "accounts": dict(session.exec(select(Account.id, Account.name).order_by(Account.name)).all()),
        "competitors": dict(session.exec(select(Competitor.id, Competitor.name)).all()),
    }


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard page draws, for one set of filters."""

    responses: int
    trend: pd.DataFrame
    profile: pd.DataFrame
    heat_map: pd.DataFrame
    segment_movers: pd.DataFrame
    touchpoint_movers: pd.DataFrame
    distribution: pd.DataFrame
    nps: pd.DataFrame
    benchmarks: pd.DataFrame
    gaps: list[Gap]
    reliability: pd.DataFrame


def compute(session: Session, filters: Filters, instrument: Instrument, min_n: int) -> DashboardData:
    """Run every query and computation of the dashboard once."""
    labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
    cells = score_cells(session, filters)
    counts = item_counts(session, filters)
    overall = profile(cells.scores, min_n)
    names = dict(session.exec(select(Competitor.id, Competitor.name)).all())
    leaders = overall[(overall["subject"] == "leader") & (overall["competitor_id"] > 0)]
    leaders = leaders.assign(name=leaders["competitor_id"].map(names))
    figures = with_periods(benchmarks(session, filters), filters.grain)
    # Compare with each study's most recent figure only.
    latest = figures.sort_values("period_end").groupby(["name", "indicator"], as_index=False).tail(1)
    own = overall[overall["subject"] == "own"]
    items = [
        item.code
        for indicator in instrument.indicators
        for item in instrument.indicator_items(indicator.code)
    ]
    scale = instrument.agree_scale
    return DashboardData(
        responses=int(counts.counts[counts.item_code == "NPS"].sum()),
        trend=trend(cells.scores, filters.grain, min_n),
        profile=overall,
        heat_map=heat_map(cells.own_by_touchpoint, min_n),
        segment_movers=movers(cells.own_by_segment, "segment", filters.grain, min_n),
        touchpoint_movers=movers(cells.own_by_touchpoint, "touchpoint_id", filters.grain, min_n),
        distribution=distribution(counts, items, scale.min, scale.max),
        nps=nps_by_period(counts, filters.grain, min_n),
        benchmarks=figures,
        gaps=gaps(own, leaders, latest, labels, min_n),
        reliability=reliability_table(session, filters, instrument, min_n),
    )


def reliability_table(session: Session, filters: Filters, instrument: Instrument, min_n: int) -> pd.DataFrame:
    """Cronbach's alpha with its 95% interval per indicator, from pairwise covariances
    of reverse-keyed answers (as R psych ``alpha()`` computes raw alpha)."""
    pairs = indicator_pairs(instrument)
    sums = pair_sums(session, filters, pairs)
    rows = []
    for indicator in instrument.indicators:
        items = instrument.indicator_items(indicator.code)
        codes = [item.code for item in items]
        # Reverse keying flips the sign of a covariance between a reversed and a plain item.
        signs = np.array([-1.0 if item.reverse else 1.0 for item in items])
        matrix = covariance(sums, codes) * np.outer(signs, signs)
        diagonal = (sums["item_a"] == sums["item_b"]) & np.isin(sums["item_a"], codes)
        n = int(sums["n"][diagonal].max()) if diagonal.any() else 0
        if n < max(min_n, 3) or np.isnan(matrix).any():
            continue
        try:
            result = alpha_from_covariance(pd.DataFrame(matrix, index=codes, columns=codes), n)
        except ReliabilityInputError:
            continue  # e.g. an item everyone answered alike: no alpha to report
        best_item, best_alpha = max(
            result.alpha_if_dropped.items(), key=lambda pair: pair[1], default=(None, None)
        )
        rows.append(
            {
                "indicator": indicator.code,
                "alpha": result.alpha,
                "low": result.ci95[0],
                "high": result.ci95[1],
                "n": n,
                "items": len(codes),
                "drop_to_raise": best_item if best_alpha is not None and best_alpha > result.alpha else None,
                "alpha_without": best_alpha if best_alpha is not None and best_alpha > result.alpha else None,
            }
        )
    return pd.DataFrame(
        rows, columns=["indicator", "alpha", "low", "high", "n", "items", "drop_to_raise", "alpha_without"]
    )
