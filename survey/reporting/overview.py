"""Aggregates for the overview: computed in the database, never by loading every response.

Confidence intervals use the normal approximation on the aggregated mean and standard
deviation (mean ± 1.96·sd/√n); figures from fewer than ``min_n`` responses are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, select

from models.tables import Account, IndicatorScore, Response, Touchpoint
from survey.people.access import EVERYTHING, Scope

Z95 = 1.959964


def month_of(column: ColumnElement[datetime], dialect: str) -> ColumnElement[str]:
    """``YYYY-MM`` of a timestamp, in the database's own dialect."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    # timestamptz: take the month in UTC, whatever the session's time zone.
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")


@dataclass(frozen=True)
class IndicatorSummary:
    indicator: str
    score_100: float | None  # None when suppressed
    n: int
    previous_100: float | None
    previous_n: int
    # Standard deviations of the 0-100 scores, for the interval of the change.
    sd_100: float | None = None
    previous_sd_100: float | None = None

    @property
    def change(self) -> float | None:
        if self.score_100 is None or self.previous_100 is None:
            return None
        return self.score_100 - self.previous_100

    @property
    def change_interval(self) -> tuple[float, float] | None:
        """95% interval of the change, normal approximation with unpooled variances (as the
        module's other intervals)."""
        change = self.change
        if change is None or self.sd_100 is None or self.previous_sd_100 is None:
            return None
        half = Z95 * math.sqrt(self.sd_100**2 / self.n + self.previous_sd_100**2 / self.previous_n)
        return change - half, change + half


def indicator_summary(
    session: Session, *, now: datetime, days: int, min_n: int, scope: Scope = EVERYTHING
) -> list[IndicatorSummary]:
    """Mean 0-100 score per indicator over the last ``days`` and the ``days`` before."""
    start, previous_start = now - timedelta(days=days), now - timedelta(days=2 * days)
    recent = Response.submitted_at >= start
    older = and_(Response.submitted_at >= previous_start, Response.submitted_at < start)
    statement = (
        select(
            IndicatorScore.indicator,
            func.avg(case((recent, IndicatorScore.score_100))),
            func.count(case((recent, 1))),
            func.avg(case((older, IndicatorScore.score_100))),
            func.count(case((older, 1))),
            func.avg(case((recent, IndicatorScore.score_100 * IndicatorScore.score_100))),
            func.avg(case((older, IndicatorScore.score_100 * IndicatorScore.score_100))),
        )
        .join(Response, Response.id == IndicatorScore.response_id)
        .where(
            IndicatorScore.subject == "own",
            Response.submitted_at >= previous_start,
            scope.condition(Response.account_id),
        )
        .group_by(IndicatorScore.indicator)
    )
    rows = {row[0]: row for row in session.exec(statement).all()}
    summaries = []
    for code, (_, mean, n, previous, previous_n, mean_sq, previous_sq) in rows.items():
        shown = n >= min_n and mean is not None
        previous_shown = previous_n >= min_n and previous is not None
        summaries.append(
            IndicatorSummary(
                indicator=code,
                score_100=float(mean) if shown else None,
                n=int(n),
                previous_100=float(previous) if previous_shown else None,
                previous_n=int(previous_n),
                sd_100=_sd(mean, mean_sq, n) if shown else None,
                previous_sd_100=_sd(previous, previous_sq, previous_n) if previous_shown else None,
            )
        )
    return summaries


def _sd(mean: float, mean_sq: float, n: int) -> float:
    """Sample standard deviation from the mean and the mean of squares of ``n`` values."""
    variance = (float(mean_sq) - float(mean) ** 2) * n / max(n - 1, 1)
    return math.sqrt(max(variance, 0.0))


def monthly_trend(
    session: Session, *, min_n: int, subject: str = "own", scope: Scope = EVERYTHING
) -> pd.DataFrame:
    """Per month and indicator: mean 0-100 score, its 95% interval and n."""
    dialect = session.get_bind().dialect.name
    month = month_of(Response.submitted_at, dialect).label("month")
    statement = (
        select(
            month,
            IndicatorScore.indicator,
            func.count().label("n"),
            func.avg(IndicatorScore.score_100).label("mean"),
            func.avg(IndicatorScore.score_100 * IndicatorScore.score_100).label("mean_sq"),
        )
        .join(Response, Response.id == IndicatorScore.response_id)
        .where(IndicatorScore.subject == subject, scope.condition(Response.account_id))
        .group_by(month, IndicatorScore.indicator)
        .order_by(month)
    )
    frame = pd.DataFrame(
        session.exec(statement).all(), columns=["month", "indicator", "n", "mean", "mean_sq"]
    )
    frame = frame[frame["n"] >= min_n].copy()
    n = frame["n"].astype(float)
    variance = (frame["mean_sq"].astype(float) - frame["mean"].astype(float) ** 2) * n / (n - 1).clip(lower=1)
    half_width = Z95 * variance.clip(lower=0).map(math.sqrt) / n.map(math.sqrt)
    frame["mean"] = frame["mean"].astype(float)
    frame["low"] = frame["mean"] - half_width
    frame["high"] = frame["mean"] + half_width
    return frame.drop(columns="mean_sq").reset_index(drop=True)


@dataclass(frozen=True)
class NpsSummary:
    nps: float | None  # -100..100, None when suppressed
    promoters: int
    passives: int
    detractors: int

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors


def nps_summary(session: Session, *, since: datetime, min_n: int, scope: Scope = EVERYTHING) -> NpsSummary:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6)."""
    statement = (
        select(Response.nps_category, func.count())
        .where(
            Response.submitted_at >= since,
            Response.nps_category.is_not(None),  # type: ignore[union-attr]
            scope.condition(Response.account_id),
        )
        .group_by(Response.nps_category)
    )
    counts = {category: int(count) for category, count in session.exec(statement).all()}
    promoters, passives, detractors = (counts.get(k, 0) for k in ("promoter", "passive", "detractor"))
    total = promoters + passives + detractors
    score = 100.0 * (promoters - detractors) / total if total >= min_n else None
    return NpsSummary(score, promoters, passives, detractors)


def latest_responses(session: Session, *, limit: int = 20, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """The newest submissions with their account, touchpoint, NPS and mean 0-100 score."""
    statement = (
        select(
            Response.id,
            Response.submitted_at,
            Account.name,
            Touchpoint.name,
            Response.nps,
            Response.nps_category,
            func.avg(IndicatorScore.score_100),
        )
        .join(Account, Account.id == Response.account_id)
        .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(
            IndicatorScore, and_(IndicatorScore.response_id == Response.id, IndicatorScore.subject == "own")
        )
        .where(scope.condition(Response.account_id))
        .group_by(Response.id, Response.submitted_at, Account.name, Touchpoint.name)
        .order_by(Response.submitted_at.desc(), Response.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    columns = ["response", "submitted", "account", "touchpoint", "nps", "nps_category", "score_100"]
    return pd.DataFrame(session.exec(statement).all(), columns=columns)
