"""One account's journey as events on a time line (seed 004: interaction points are events
over time): what happened at each touchpoint and how the customer felt about it.

Interactions come from the interaction table; survey results are the responses to them,
each with the mean of its six own indicator scores (0-100) and the recommendation answer.
From the interactions we derive the average time between events, the time from the first
marketing contact to the sale (the first purchase after it) and from that sale to the first
service event, and the channels the customer is reached through most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import pandas as pd
from sqlmodel import Session, col, select

from models.tables import Interaction, Response, Touchpoint
from survey.people.access import Scope
from survey.reporting.aggregates import response_mean
from survey.reporting.intervals import mean_interval

EVERYTHING = Scope.everything()
# Touchpoint codes that mark the steps the durations measure (survey/instrument/touchpoints.py).
MARKETING, SALE, SERVICE = "marketing", "purchase", "service"
EVENT_COLUMNS = ["when", "kind", "touchpoint", "stage", "channel", "value", "score_100", "nps"]
# Up to this many events the chart marks each one; beyond, a mark is a week's (or, over more
# than two years, a month's) events at one touchpoint: thousands of single marks are neither
# readable nor quick to draw.
EACH_EVENT_LIMIT = 600
PERIOD_COLUMNS = ["period", "touchpoint", "interactions", "surveys", "mean", "low", "high"]


class TimelineError(ValueError):
    """The timeline was refused; the message says why. Nothing was read."""


@dataclass(frozen=True)
class Timeline:
    account_id: int
    # when, kind ("interaction" or "survey"), touchpoint (name), stage, channel, value (of a
    # purchase), score_100 (a survey's mean own score), nps; oldest first.
    events: pd.DataFrame
    touchpoints: list[str]  # every touchpoint name in journey order (Touchpoint.stage)
    interactions: int
    surveys: int
    mean_days_between: float | None  # between consecutive interactions
    marketing_to_sale_days: float | None
    sale_to_service_days: float | None
    channels: pd.DataFrame  # channel, interactions, share (0-1); most used first


def period_grain(events: pd.DataFrame) -> str:
    """ "week", or "month" when the events span more than two years."""
    if events.empty:
        return "week"
    span = (events["when"].max() - events["when"].min()).total_seconds() / 86_400
    return "month" if span > 730 else "week"


def events_by_period(events: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Per period (its first day, as a time) and touchpoint: how many interactions and survey
    results, and the survey results' mean score (0-100) with its 95% interval (Student t, as
    every mean: ``intervals.mean_interval``; none from fewer than two results)."""
    if events.empty:
        return pd.DataFrame(columns=PERIOD_COLUMNS)
    when = pd.to_datetime(events["when"], utc=True).dt.tz_localize(None)
    starts = when.dt.to_period("W-SUN" if grain == "week" else "M").dt.start_time
    frame = events.assign(
        period=starts,
        interaction=(events["kind"] == "interaction").astype(int),
        survey=events["score_100"].where(events["kind"] == "survey").astype(float),
    )
    grouped = frame.groupby(["period", "touchpoint"], sort=True)
    table = grouped.agg(
        interactions=("interaction", "sum"),
        surveys=("survey", "count"),
        mean=("survey", "mean"),
        sd=("survey", "std"),
    ).reset_index()
    low, high = mean_interval(table["mean"].to_numpy(), table["sd"].to_numpy(), table["surveys"].to_numpy())
    return table.assign(low=low, high=high)[PERIOD_COLUMNS]


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 86_400


def journey_durations(
    steps: list[tuple[datetime, str]],
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """(first marketing contact, the sale after it, the first service event after that).

    ``steps`` are (time, touchpoint code) in time order. Without a marketing contact the sale
    is the first purchase, so that the sale-to-service time is still known."""
    marketing = next((when for when, code in steps if code == MARKETING), None)
    sale = next(
        (when for when, code in steps if code == SALE and (marketing is None or when >= marketing)), None
    )
    service = next(
        (when for when, code in steps if code == SERVICE and sale is not None and when >= sale), None
    )
    return marketing, sale, service


def account_timeline(
    session: Session, account_id: int, *, scope: Scope = EVERYTHING, now: datetime | None = None
) -> Timeline:
    """Every interaction and survey result of one account, up to ``now``."""
    if not scope.allows(account_id):
        raise TimelineError(f"account #{account_id} is not among the accounts you may see")
    touchpoints = session.exec(select(Touchpoint).order_by(col(Touchpoint.stage), col(Touchpoint.name))).all()
    by_id = {t.id: t for t in touchpoints}
    interaction_rows = session.exec(
        select(Interaction.occurred_at, Interaction.touchpoint_id, Interaction.channel, Interaction.value)
        .where(Interaction.account_id == account_id, *([Interaction.occurred_at <= now] if now else []))
        .order_by(Interaction.occurred_at, Interaction.id)  # type: ignore[arg-type]
    ).all()
    # One row per response with its mean own score (``aggregates.response_mean``); a response
    # without own scores is not a survey result here.
    mean = response_mean()
    survey_rows = session.exec(
        select(Response.submitted_at, Response.touchpoint_id, Response.nps, mean)
        .where(
            Response.account_id == account_id,
            mean.is_not(None),
            *([Response.submitted_at <= now] if now else []),
        )
        .order_by(col(Response.submitted_at), col(Response.id))
    ).all()
    events = [
        (when, "interaction", by_id[tp].name, by_id[tp].stage, channel or "—", value, None, None)
        for when, tp, channel, value in interaction_rows
    ] + [
        (when, "survey", by_id[tp].name, by_id[tp].stage, "survey", None, float(score), nps)
        for when, tp, nps, score in survey_rows
    ]
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS).sort_values("when", kind="stable")
    times = [when for when, *_ in interaction_rows]
    gaps = [_days(a, b) or 0.0 for a, b in pairwise(times)]
    marketing, sale, service = journey_durations(
        [(when, by_id[tp].code) for when, tp, *_ in interaction_rows]
    )
    channels = (
        pd.Series([channel or "—" for _, _, channel, _ in interaction_rows], dtype=str)
        .value_counts()
        .rename_axis("channel")
        .reset_index(name="interactions")
        .sort_values(["interactions", "channel"], ascending=[False, True], ignore_index=True)
    )
    channels["share"] = channels["interactions"] / max(1, len(interaction_rows))
    return Timeline(
        account_id=account_id,
        events=frame.reset_index(drop=True),
        touchpoints=[t.name for t in touchpoints],
        interactions=len(interaction_rows),
        surveys=len(survey_rows),
        mean_days_between=sum(gaps) / len(gaps) if gaps else None,
        marketing_to_sale_days=_days(marketing, sale),
        sale_to_service_days=_days(sale, service),
        channels=channels,
    )
