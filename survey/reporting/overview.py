"""The overview's figures, from the same aggregates, cache and functions as the dashboard.

The cards compare the last ``WINDOW_MONTHS`` calendar months (the current one included) with
the same number of months before; the trend is monthly. Every figure is the dashboard's own
computation on the reader's scope (``dashboard.summary``, ``dashboard.trend``,
``dashboard.nps_of``), so a month reads the same, with the same interval, on both pages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from models.tables import Account, IndicatorScore, Response, Touchpoint
from survey.people.access import EVERYTHING, Scope, restrict_filters
from survey.reporting import cache, dashboard, moments
from survey.reporting.filters import Filters, months_back
from survey.reporting.intervals import Change, NpsFigure, nps_interval
from survey.reporting.moments import PERIOD
from survey.reporting.people import People

WINDOW_MONTHS = 3


@dataclass(frozen=True)
class IndicatorSummary:
    indicator: str
    score_100: float | None  # None when suppressed
    low: float | None  # cluster-robust across accounts, as on the dashboard
    high: float | None
    n: int
    previous_100: float | None
    previous_n: int | None  # None when the months before are too small to show
    n_eff: float | None = None  # the independent answers the interval rests on
    # 95% interval of the change against the months before (``dashboard.change_from``).
    change_interval: tuple[float, float] | None = None

    @property
    def change(self) -> float | None:
        if self.score_100 is None or self.previous_100 is None:
            return None
        return self.score_100 - self.previous_100


@dataclass(frozen=True)
class OverviewData:
    version: int
    window: tuple[str, str]  # first and last month of the cards' window
    previous: tuple[str, str]  # the months they are compared with
    indicators: dict[str, IndicatorSummary]
    nps: NpsFigure
    trend: pd.DataFrame  # month, indicator, n, mean, sd, low, high (0-100); small months left out
    # Whether the NPS (and its counts) may be shown: from ``min_n`` answers and people.
    nps_shown: bool = False


def overview(session: Session, *, now: datetime, min_n: int, scope: Scope = EVERYTHING) -> OverviewData:
    """Indicator cards, NPS and the monthly trend of our own scores, for the reader's scope."""
    end = f"{now:%Y-%m}"
    start = months_back(end, WINDOW_MONTHS - 1)
    previous = (months_back(start, WINDOW_MONTHS), months_back(start, 1))
    filters = restrict_filters(Filters(grain="month", end=end), scope)
    empty = OverviewData(0, (start, end), previous, {}, nps_interval(0, 0, 0), pd.DataFrame())
    if filters is None:
        return empty
    version = dashboard.shown_version(session, filters)
    if version is None:
        return empty
    filters = replace(filters, version=version)
    # Our own scores only: the leaders' and the touchpoint figures are not shown here. The
    # cards' windows are the two sides of their change; the reads run at once.
    changes, nps_counts, monthly = cache.read_together(
        session,
        [
            lambda s: dashboard.scores(
                s, "own", ["indicator"], replace(filters, start=previous[0]), after=start
            ),
            lambda s: dashboard.recommendation(s, [], replace(filters, start=start)),
            lambda s: dashboard.scores(s, "own", [PERIOD, "indicator"], filters, grain="month"),
        ],
    )
    people = People(session, filters, min_n)

    def window(number: int, months: tuple[str, str]) -> pd.DataFrame:
        return dashboard.summary(
            moments.side(changes, number),
            ["indicator"],
            min_n,
            keep_small=True,
            people=people.within(*months),
        ).set_index("indicator")

    recent, before = window(1, (start, end)), window(0, previous)
    change_of = {
        str(code): dashboard.change_from(changes, at) for at, code in enumerate(changes.keys["indicator"])
    }
    indicators = {}
    for code, row in recent.iterrows():
        shown = not row["suppressed"]
        earlier = before.loc[code] if code in before.index else None
        compared = shown and earlier is not None and not earlier["suppressed"]
        indicators[str(code)] = IndicatorSummary(
            indicator=str(code),
            score_100=float(row["mean"]) if shown else None,
            low=float(row["low"]) if shown else None,
            high=float(row["high"]) if shown else None,
            n=int(row["n"]),
            previous_100=float(earlier["mean"]) if compared and earlier is not None else None,
            previous_n=int(earlier["n"]) if compared and earlier is not None else None,
            n_eff=float(row["n_eff"]) if shown else None,
            change_interval=_interval(change_of.get(str(code))) if compared else None,
        )
    nps = dashboard.nps_of(nps_counts)
    nps_shown = nps.n >= min_n and people.on("answers").within(start, end)(
        {"item_code": dashboard.NPS_ITEM}, nps.n
    )

    def totals(months: np.ndarray) -> np.ndarray:
        """The cards' two windows are the totals of their months; other months stand alone."""
        labels = months.astype(object).copy()
        labels[(months >= start) & (months <= end)] = "window"
        labels[(months >= previous[0]) & (months <= previous[1])] = "previous"
        return labels

    trend = dashboard.trend(None, min_n, monthly, people=people, totals=totals)
    trend = trend.rename(columns={"period": "month"}).drop(columns=["subject", "competitor_id"])
    return OverviewData(
        version, (start, end), previous, indicators, nps, trend.reset_index(drop=True), nps_shown
    )


def _interval(change: Change | None) -> tuple[float, float] | None:
    return None if change is None else (change.low, change.high)


def latest_responses(session: Session, *, limit: int = 20, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """The newest submissions with their account, touchpoint, NPS and mean 0-100 score. The
    newest ``limit`` responses are picked first, on their own (by the submission-time index),
    and only their rows and scores are read. (Picked in the same statement, as a subquery, the
    limit is a bound value SQLite plans without: it joined every response in scope to the
    subquery instead, a third of a second on a million responses.)"""
    newest = session.exec(
        select(Response.id)
        .where(scope.condition(Response.account_id))
        .order_by(col(Response.submitted_at).desc(), col(Response.id).desc())
        .limit(limit)
    ).all()
    statement = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            Response.id,
            Response.submitted_at,
            Account.name,
            Touchpoint.name,
            Response.nps,
            Response.nps_category,
            func.avg(IndicatorScore.score_100),
        )
        .where(col(Response.id).in_(newest))
        .join(Account, Account.id == Response.account_id)
        .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(
            IndicatorScore,
            and_(col(IndicatorScore.response_id) == Response.id, col(IndicatorScore.subject) == "own"),
        )
        .group_by(Response.id, Response.submitted_at, Account.name, Touchpoint.name)
        .order_by(col(Response.submitted_at).desc(), col(Response.id).desc())
    )
    columns = ["response", "submitted", "account", "touchpoint", "nps", "nps_category", "score_100"]
    return pd.DataFrame(session.exec(statement).all(), columns=columns)
