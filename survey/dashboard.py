"""What the dashboard shows, computed from the roll-ups.

Every function takes the same ``Filters``. Without an account filter the figures come from
the roll-up tables (a few thousand rows whatever the number of responses); with one, the
same shapes are computed from that account's raw rows, which are few.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
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
    PairRollup,
    Response,
    ScoreRollup,
    Touchpoint,
)
from survey.analytics import month_of
from survey.gaps import Gap, gaps
from survey.instrument import Instrument
from survey.reliability import ReliabilityInputError, alpha_from_covariance
from survey.rollups import COUNTERS, UNKNOWN_ROLE, indicator_pairs, pair_sum_columns, score_sums

Grain = Literal["month", "quarter"]
SCORE_COLUMNS = [
    "month",
    "segment",
    "touchpoint_id",
    "indicator",
    "subject",
    "competitor_id",
    "n",
    "total",
    "total_sq",
]


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


def to_100(score: pd.Series | float) -> Any:
    return (score - 1) * 100 / 6


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
    if filters.account_ids:
        statement = statement.where(Response.account_id.in_(filters.account_ids))
    if filters.segments:
        statement = statement.where(Account.segment.in_(filters.segments))
    if filters.touchpoint_ids:
        statement = statement.where(Response.touchpoint_id.in_(filters.touchpoint_ids))
    if filters.roles:
        statement = statement.where(role.in_(filters.roles))
    if filters.start:
        statement = statement.where(month >= filters.start)
    if filters.end:
        statement = statement.where(month <= filters.end)
    return statement, month, role


def _frame(session: Session, statement: Select[Any], columns: list[str]) -> pd.DataFrame:
    # Plain tuples: pandas inspects Row objects one attribute at a time, which is slow.
    return pd.DataFrame([tuple(row) for row in session.exec(statement).all()], columns=columns)


def score_cells(session: Session, filters: Filters) -> pd.DataFrame:
    """Sums of indicator scores by month, segment, touchpoint, indicator, subject and named leader."""
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
        statement = (
            base.with_only_columns(
                *keys,
                *score_sums(),
            )
            .join(IndicatorScore, IndicatorScore.response_id == Response.id)
            .group_by(*keys)
        )
    else:
        keys = (
            ScoreRollup.month,
            ScoreRollup.segment,
            ScoreRollup.touchpoint_id,
            ScoreRollup.indicator,
            ScoreRollup.subject,
            ScoreRollup.competitor_id,
        )
        statement = _where_cells(
            select(
                *keys, func.sum(ScoreRollup.n), func.sum(ScoreRollup.total), func.sum(ScoreRollup.total_sq)
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
    return _frame(session, statement, SCORE_COLUMNS).astype({"n": int, "total": float, "total_sq": float})


def item_counts(session: Session, filters: Filters) -> pd.DataFrame:
    """How often each answer was given to each item (columns c0..c10), by month."""
    if filters.uses_raw_rows:
        base, month, _ = _raw_base(session, filters)
        counters = [func.sum(case((Answer.value == point, 1), else_=0)) for point in range(len(COUNTERS))]
        statement = (
            base.with_only_columns(month, Answer.item_code, *counters)
            .join(Answer, Answer.response_id == Response.id)
            .group_by(month, Answer.item_code)
        )
    else:
        sums = [func.sum(getattr(ItemRollup, name)) for name in COUNTERS]
        statement = _where_cells(
            select(ItemRollup.month, ItemRollup.item_code, *sums), ItemRollup, filters
        ).group_by(ItemRollup.month, ItemRollup.item_code)
    return _frame(session, statement, ["month", "item_code", *COUNTERS]).astype(dict.fromkeys(COUNTERS, int))


PAIR_COLUMNS = ["item_a", "item_b", "n", "sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb"]


def pair_sums(session: Session, filters: Filters, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Sums over responses answering both items of each pair (for pairwise covariances).

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
    return _frame(session, statement, PAIR_COLUMNS).astype(
        {name: float for name in PAIR_COLUMNS[3:]} | {"n": int}
    )


def covariance(pairs: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """Pairwise-complete sample covariances (ddof 1) from the pair sums."""
    position = {item: index for index, item in enumerate(items)}
    rows = pairs[pairs["item_a"].isin(position) & pairs["item_b"].isin(position) & (pairs["n"] > 1)]
    n = rows["n"].to_numpy(dtype=float)
    values = (rows["sum_ab"].to_numpy() - rows["sum_a"].to_numpy() * rows["sum_b"].to_numpy() / n) / (n - 1)
    first, second = rows["item_a"].map(position).to_numpy(), rows["item_b"].map(position).to_numpy()
    matrix = np.full((len(items), len(items)), np.nan)
    matrix[first, second] = values
    matrix[second, first] = values
    return pd.DataFrame(matrix, index=items, columns=items)


def summarise(frame: pd.DataFrame, by: list[str], min_n: int) -> pd.DataFrame:
    """Mean, sd, n and a t-based 95% interval per group, on 0-100; small groups suppressed."""
    grouped = frame.groupby(by, as_index=False)[["n", "total", "total_sq"]].sum()
    n = grouped["n"].astype(float)
    mean = grouped["total"] / n
    variance = ((grouped["total_sq"] - n * mean**2) / (n - 1)).where(n > 1).clip(lower=0)
    sd = np.sqrt(variance)
    half = stats.t.ppf(0.975, (n - 1).clip(lower=1)) * sd / np.sqrt(n)
    grouped["mean"], grouped["sd"] = to_100(mean), sd * 100 / 6
    grouped["low"], grouped["high"] = to_100(mean - half), to_100(mean + half)
    grouped["suppressed"] = grouped["n"] < min_n
    return grouped.drop(columns=["total", "total_sq"])


def trend(cells: pd.DataFrame, grain: Grain, min_n: int) -> pd.DataFrame:
    """Per period, indicator, subject and named leader (competitor 0 is us or an unlisted one)."""
    if cells.empty:
        return pd.DataFrame(
            columns=["period", "indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
        )
    frame = cells.assign(period=period_of(cells["month"], grain))
    summary = summarise(frame, ["period", "indicator", "subject", "competitor_id"], min_n)
    return (
        summary[~summary["suppressed"]]
        .drop(columns="suppressed")
        .sort_values("period")
        .reset_index(drop=True)
    )


def profile(cells: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Each indicator over the whole filtered period, for us and each named leader."""
    if cells.empty:
        return pd.DataFrame(
            columns=["indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
        )
    summary = summarise(cells, ["indicator", "subject", "competitor_id"], min_n)
    return summary[~summary["suppressed"]].drop(columns="suppressed").reset_index(drop=True)


def heat_map(cells: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Touchpoint x indicator mean (0-100) of our own scores; small cells left empty."""
    own = cells[cells["subject"] == "own"]
    if own.empty:
        return pd.DataFrame(columns=["touchpoint_id", "indicator", "n", "mean"])
    summary = summarise(own, ["touchpoint_id", "indicator"], min_n)
    summary.loc[summary["suppressed"], "mean"] = np.nan
    return summary[["touchpoint_id", "indicator", "n", "mean"]]


def movers(cells: pd.DataFrame, by: str, grain: Grain, min_n: int) -> pd.DataFrame:
    """Where each indicator moved most between the last two periods, per ``by`` group
    (segment or touchpoint), largest falls first; groups with too few responses are left out."""
    columns = [by, "indicator", "before", "after", "change", "n_before", "n_after", "period"]
    own = cells[cells["subject"] == "own"]
    if own.empty:
        return pd.DataFrame(columns=columns)
    own = own.assign(period=period_of(own["month"], grain))
    periods = sorted(own["period"].unique())
    if len(periods) < 2:
        return pd.DataFrame(columns=columns)
    summary = summarise(own[own["period"].isin(periods[-2:])], ["period", by, "indicator"], min_n)
    summary = summary[~summary["suppressed"]]
    wide = summary.pivot_table(index=[by, "indicator"], columns="period", values=["mean", "n"]).dropna()
    before, after = periods[-2], periods[-1]
    if wide.empty or ("mean", before) not in wide.columns or ("mean", after) not in wide.columns:
        return pd.DataFrame(columns=columns)
    result = pd.DataFrame(
        {
            "before": wide[("mean", before)],
            "after": wide[("mean", after)],
            "n_before": wide[("n", before)].astype(int),
            "n_after": wide[("n", after)].astype(int),
        }
    ).reset_index()
    result["change"] = result["after"] - result["before"]
    result["period"] = after
    return result.sort_values("change").reset_index(drop=True)[columns]


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
    frame = _frame(session, statement, ["month", "account_id", "indicator", "n", "total", "total_sq"])
    return movers(frame.assign(subject="own"), "account_id", filters.grain, min_n).drop(columns="period")


def distribution(counts: pd.DataFrame, items: list[str], low: int, high: int) -> pd.DataFrame:
    """Share of each answer per item over the period (rows: items, columns: scale points)."""
    points = [f"c{point}" for point in range(low, high + 1)]
    totals = counts[counts["item_code"].isin(items)].groupby("item_code")[points].sum()
    totals = totals.reindex([item for item in items if item in totals.index])
    n = totals.sum(axis=1)
    shares = totals.div(n.where(n > 0), axis=0) * 100
    shares.columns = list(range(low, high + 1))
    shares["n"] = n
    return shares


def nps_by_period(counts: pd.DataFrame, grain: Grain, min_n: int) -> pd.DataFrame:
    """Promoters, passives, detractors and NPS per period, with an adjusted-Wald 95% interval."""
    nps = counts[counts["item_code"] == "NPS"]
    columns = ["period", "promoters", "passives", "detractors", "n", "nps", "low", "high"]
    if nps.empty:
        return pd.DataFrame(columns=columns)
    frame = (
        nps.assign(period=period_of(nps["month"], grain))
        .groupby("period", as_index=False)[list(COUNTERS)]
        .sum()
    )
    frame["promoters"] = frame["c9"] + frame["c10"]
    frame["passives"] = frame["c7"] + frame["c8"]
    frame["detractors"] = frame[[f"c{p}" for p in range(7)]].sum(axis=1)
    frame["n"] = frame["promoters"] + frame["passives"] + frame["detractors"]
    frame = frame[frame["n"] >= min_n].copy()
    frame["nps"] = 100 * (frame["promoters"] - frame["detractors"]) / frame["n"]
    bounds = [nps_interval(r.promoters, r.detractors, r.n) for r in frame.itertuples()]
    frame["low"] = [low for low, _ in bounds]
    frame["high"] = [high for _, high in bounds]
    return frame[columns].reset_index(drop=True)


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
    months = session.exec(select(func.min(ScoreRollup.month), func.max(ScoreRollup.month))).one()
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
    overall = profile(cells, min_n)
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
    nps_counts = counts[counts["item_code"] == "NPS"]
    return DashboardData(
        responses=int(nps_counts[list(COUNTERS)].to_numpy().sum()) if not nps_counts.empty else 0,
        trend=trend(cells, filters.grain, min_n),
        profile=overall,
        heat_map=heat_map(cells, min_n),
        segment_movers=movers(cells, "segment", filters.grain, min_n),
        touchpoint_movers=movers(cells, "touchpoint_id", filters.grain, min_n),
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
        matrix = covariance(sums, codes)
        # Reverse keying flips the sign of a covariance between a reversed and a plain item.
        signs = pd.Series([-1.0 if item.reverse else 1.0 for item in items], index=codes)
        matrix = matrix * np.outer(signs, signs)
        diagonal = sums[(sums["item_a"] == sums["item_b"]) & sums["item_a"].isin(codes)]
        n = int(diagonal["n"].max()) if not diagonal.empty else 0
        if n < max(min_n, 3) or matrix.isna().to_numpy().any():
            continue
        try:
            result = alpha_from_covariance(matrix, n)
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
