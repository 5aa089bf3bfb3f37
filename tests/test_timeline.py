"""One account's timeline: events in order, durations between journey steps, channels."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlmodel import Session, select

from models.tables import Account, Interaction, Touchpoint
from survey.accounts.timeline import (
    EACH_EVENT_LIMIT,
    EVENT_COLUMNS,
    TimelineError,
    account_timeline,
    events_by_period,
    journey_durations,
    period_grain,
)
from survey.charts.behaviour import timeline_chart
from survey.people.access import Scope
from tests.factories import answers_at, respond

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def add(session: Session, account_id: int, code: str, days: float, channel: str) -> None:
    touchpoint = session.exec(select(Touchpoint).where(Touchpoint.code == code)).one()
    session.add(
        Interaction(
            account_id=account_id,
            touchpoint_id=touchpoint.id,
            occurred_at=START + timedelta(days=days),
            channel=channel,
        )
    )


@pytest.fixture
def journey(session: Session) -> int:
    account = Account(name="Acme Tools")
    other = Account(name="Globex")
    session.add_all([account, other])
    session.flush()
    for code, days, channel in [
        ("service", -10, "phone"),  # before the sale: not the first service *after* it
        ("marketing", 0, "email"),
        ("sales", 6, "video call"),
        ("purchase", 20, "on site"),
        ("service", 50, "phone"),
        ("service", 80, "phone"),
    ]:
        add(session, account.id, code, days, channel)
    add(session, other.id, "purchase", 1, "email")
    session.commit()
    return account.id


def test_durations_between_the_steps_of_the_journey(session, journey):
    timeline = account_timeline(session, journey)
    assert timeline.interactions == 6
    assert timeline.marketing_to_sale_days == pytest.approx(20)
    assert timeline.sale_to_service_days == pytest.approx(30)
    assert timeline.mean_days_between == pytest.approx(90 / 5)  # from day -10 to day 80
    assert list(timeline.channels["channel"]) == ["phone", "email", "on site", "video call"]
    assert timeline.channels["share"].iloc[0] == pytest.approx(0.5)


def test_without_marketing_the_first_purchase_is_the_sale():
    day = lambda n: START + timedelta(days=n)  # noqa: E731
    assert journey_durations([(day(0), "purchase"), (day(3), "service")]) == (None, day(0), day(3))
    assert journey_durations([(day(0), "marketing")]) == (day(0), None, None)


def test_survey_results_join_the_interactions_on_the_time_line(session, journey):
    when = START + timedelta(days=51)
    respond(session, when, answers_at(dict.fromkeys(
        ["satisfaction", "trust", "control_mutuality", "commitment", "mindset", "word_of_mouth"], 7)),
        account="Acme Tools", touchpoint="service")  # fmt: skip
    timeline = account_timeline(session, journey)
    surveys = timeline.events[timeline.events["kind"] == "survey"]
    assert timeline.surveys == 1
    assert surveys["score_100"].iloc[0] == pytest.approx(100)
    assert surveys["touchpoint"].iloc[0] == "Service call"
    assert list(timeline.events["when"]) == sorted(timeline.events["when"])
    figure = timeline_chart(timeline, "Acme Tools")
    assert figure.layout.title.text == "What happened and how Acme Tools felt, step by step"
    # Journey order from the top: marketing first, service below purchase.
    assert list(figure.layout.yaxis.categoryarray)[::-1][:2] == ["Marketing", "Sales"]
    assert figure.data[0].name == "Interaction"
    assert len(figure.data[1].x) == 1


def test_an_account_out_of_scope_is_refused(session, journey):
    with pytest.raises(TimelineError, match="not among the accounts you may see"):
        account_timeline(session, journey, scope=Scope.of_accounts([]))


def events_frame(rows: list[tuple[float, str, str, float | None]]) -> pd.DataFrame:
    """Events as ``account_timeline`` returns them, from (day, kind, touchpoint, score)."""
    return pd.DataFrame(
        [
            (START + timedelta(days=day), kind, touchpoint, 1, "email", None, score, None)
            for day, kind, touchpoint, score in rows
        ],
        columns=EVENT_COLUMNS,
    )


def test_events_by_week_count_interactions_and_average_surveys_with_a_t_interval():
    scores = [40.0, 55.0, 70.0, 90.0]
    events = events_frame(
        [(0, "interaction", "Service call", None), (6.5, "interaction", "Service call", None)]
        + [(1 + index, "survey", "Service call", score) for index, score in enumerate(scores)]
        + [(7, "interaction", "Service call", None), (8, "survey", "Purchase", 20.0)]
    )
    table = events_by_period(events, "week")
    # START is a Monday: days 0 to 6.5 fall in its week, days 7 and 8 in the next.
    first = table[(table["period"] == pd.Timestamp("2026-03-02")) & (table["touchpoint"] == "Service call")]
    assert first[["interactions", "surveys"]].iloc[0].tolist() == [2, 4]
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert first["mean"].iloc[0] == pytest.approx(np.mean(scores))
    assert (first["low"].iloc[0], first["high"].iloc[0]) == (pytest.approx(low), pytest.approx(high))
    later = table[table["period"] == pd.Timestamp("2026-03-09")].set_index("touchpoint")
    assert later.loc["Service call", "interactions"] == 1
    assert later.loc["Service call", "surveys"] == 0
    # One survey result has a mean and no interval.
    assert later.loc["Purchase", "mean"] == pytest.approx(20.0)
    assert np.isnan(later.loc["Purchase", "low"])


def test_a_long_history_is_drawn_by_month():
    events = events_frame([(0, "interaction", "Sales", None), (800, "interaction", "Sales", None)])
    assert period_grain(events) == "month"
    assert period_grain(events.head(1)) == "week"


def test_thousands_of_events_are_drawn_one_mark_per_week_and_touchpoint(session, journey):
    many = EACH_EVENT_LIMIT + 200
    rows = [
        (index * 0.25, "interaction", ("Sales", "Service call")[index % 2], None) for index in range(many)
    ]
    rows += [(index * 1.0, "survey", "Service call", 50.0 + index % 20) for index in range(100)]
    timeline = replace(account_timeline(session, journey), events=events_frame(rows))
    figure = timeline_chart(timeline, "Acme Tools")
    assert figure.layout.title.text == "What happened and how Acme Tools felt, week by week"
    interactions, surveys = figure.data
    assert sum(interactions.marker.size) == many  # every interaction counted once
    weeks = len({(START + timedelta(days=day)).isocalendar()[:2] for day, *_ in rows[:many]})
    assert len(interactions.x) <= 2 * weeks
    assert sum(point[3] for point in surveys.customdata) == 100
    assert "95% CI" in surveys.hovertemplate
    assert "n = " in surveys.hovertemplate
    # Few events are still drawn one by one.
    assert figure_of(timeline, 20).layout.title.text.endswith("step by step")


def figure_of(timeline, events: int):
    return timeline_chart(replace(timeline, events=timeline.events.head(events)), "Acme Tools")
