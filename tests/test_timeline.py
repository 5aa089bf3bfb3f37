"""One account's timeline: events in order, durations between journey steps, channels."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models.tables import Account, Interaction, Touchpoint
from survey.accounts.timeline import TimelineError, account_timeline, journey_durations
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
