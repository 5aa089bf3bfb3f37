"""Digests and escalations, on SQLite and PostgreSQL, delivered to a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from models.settings import get_settings
from models.tables import FollowUp, OutboxEvent, User
from survey.collecting.responses import submit
from survey.followup.queue import close, queue
from survey.loop.digests import weekly
from survey.loop.preferences import save
from survey.loop.worker import run_once
from tests.factories import answers_at, make_invitation, make_user
from tests.loop_support import smtp_inbox
from tests.test_sending import Inbox, parts

# A Friday; the week's digest is due from Monday 16 November, 07:00 UTC.
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


def user(session, name, role, email, *, weekly_digest=True, language="en"):
    made = make_user(session, name, role, email=email)
    modes = {"detractor": "off", "moment": "off", "drop": "off"}
    save(session, made.username, language=language, modes=modes, weekly_digest=weekly_digest)
    session.commit()
    return session.exec(select(User).where(User.username == name)).one()


def answer(session, *, account, owner, email, nps, when):
    result, _ = make_invitation(session, when - timedelta(hours=2), account=account, email=email, owner=owner)
    submit(session, invitation_id=result.invitation_id, answers=answers_at(NPS=nps), locale="en", now=when)
    session.commit()


def test_the_weekly_digest_of_a_manager_mentions_none_of_another_managers_accounts(engine, session, inbox):
    maria = user(session, "maria", "manager", "maria@pulse.example")
    user(session, "jonas", "manager", "jonas@pulse.example", language="de")
    user(session, "root", "admin", "root@pulse.example")
    for number in range(6):
        answer(
            session,
            account="Acme Tools",
            owner="maria",
            email=f"a{number}@acme.example",
            nps=4,
            when=NOW - timedelta(days=2),
        )
        answer(
            session,
            account="Zenith Freight",
            owner="jonas",
            email=f"z{number}@zenith.example",
            nps=9,
            when=NOW - timedelta(days=3),
        )
    answer(
        session,
        account="Quiet Mills",
        owner="jonas",
        email="q@quiet.example",
        nps=8,
        when=NOW - timedelta(days=200),
    )

    run_once(engine, now=NOW)
    digests = {str(m["To"]): m for m in inbox.messages if "Relationship Pulse" in str(m["Subject"])}
    assert set(digests) == {"maria@pulse.example", "jonas@pulse.example", "root@pulse.example"}
    maria_text, maria_html = parts(digests["maria@pulse.example"])
    assert "Acme Tools" in maria_text
    for other in ("Zenith Freight", "Quiet Mills"):
        assert other not in maria_text
        assert other not in maria_html
    assert "New detractors this week" in maria_text
    assert "Follow-ups: 6 open, 6 of them overdue."  # due 24 hours after each answer in maria_text
    assert "your 1 accounts" in digests["maria@pulse.example"]["Subject"]
    jonas_text = parts(digests["jonas@pulse.example"])[0]
    assert "Woche bis 20.11.2026" in jonas_text  # in the user's language
    assert "Quiet Mills" in jonas_text  # not heard from in 90 days
    assert "Acme Tools" not in jonas_text
    root_text = parts(digests["root@pulse.example"])[0]
    assert "Acme Tools" in root_text
    assert "Quiet Mills" in root_text
    # Once a week, however often the worker looks.
    run_once(engine, now=NOW + timedelta(hours=5))
    assert len([m for m in inbox.messages if "Relationship Pulse" in str(m["Subject"])]) == 3
    # The indicators come with their change, its interval and n.
    notice = weekly(session, maria, now=NOW, min_n=5, base_url="http://testserver")
    [indicators] = [t for t in notice.tables if t.heading == "Indicators"]
    assert indicators.columns == ["Indicator", "Last 90 days", "Change", "95% interval", "n"]
    assert [row[4] for row in indicators.rows] == ["6"] * 6


def test_an_overdue_follow_up_escalates_once(engine, session, inbox, monkeypatch):
    user(session, "maria", "manager", "maria@pulse.example", weekly_digest=False)
    user(session, "root", "admin", "root@pulse.example", weekly_digest=False)
    # Two accounts: two flagged contacts of one account would also open the account's own follow-up.
    answer(session, account="Acme Tools", owner="maria", email="a@acme.example", nps=2, when=NOW)
    answer(session, account="Globex", owner="maria", email="b@globex.example", nps=3, when=NOW)
    follow_ups = session.exec(select(FollowUp).order_by(FollowUp.id)).all()
    assert [f.due_at for f in follow_ups] == [NOW + timedelta(hours=24)] * 2
    close(session, follow_ups[1].id, "Called them", NOW + timedelta(hours=2))
    session.commit()

    run_once(engine, now=NOW + timedelta(hours=23))
    assert [m for m in inbox.messages if "overdue" in str(m["Subject"])] == []
    assert queue(session, status=None, overdue_at=NOW + timedelta(hours=23)) == []

    run_once(engine, now=NOW + timedelta(hours=25))
    [escalation] = [m for m in inbox.messages if "overdue" in str(m["Subject"])]
    assert escalation["To"] == "root@pulse.example"
    assert escalation["Subject"] == "1 follow-up(s) overdue"
    text = parts(escalation)[0]
    assert f"#{follow_ups[0].id}" in text
    assert f"#{follow_ups[1].id}" not in text
    [overdue] = queue(session, status=None, overdue_at=NOW + timedelta(hours=25))
    assert overdue.follow_up_id == follow_ups[0].id
    assert overdue.overdue

    for hours in (26, 48, 24 * 7):
        run_once(engine, now=NOW + timedelta(hours=hours))
    assert len([m for m in inbox.messages if "overdue" in str(m["Subject"])]) == 1


def test_a_backlog_of_overdue_follow_ups_escalates_in_one_pass_listing_the_longest_overdue(
    engine, session, inbox, monkeypatch
):
    """More overdue follow-ups than a statement may bind ids (a chunk, made small here): one mail
    names them all by count and lists the longest overdue; the next pass sends nothing more."""
    from survey.loop import schedule

    monkeypatch.setattr(schedule, "ID_CHUNK", 2)
    monkeypatch.setattr(schedule, "ESCALATION_LIST_MAX", 2)
    user(session, "root", "admin", "root@pulse.example", weekly_digest=False)
    for number in range(5):  # the first answered is the longest overdue
        when = NOW + timedelta(minutes=number)
        answer(
            session,
            account=f"Account {number}",
            owner="maria",
            email=f"c{number}@x.example",
            nps=2,
            when=when,
        )
    follow_ups = session.exec(select(FollowUp).order_by(FollowUp.due_at)).all()
    assert len(follow_ups) == 5
    run_once(engine, now=NOW + timedelta(hours=30))
    [escalation] = [m for m in inbox.messages if "overdue" in str(m["Subject"])]
    assert escalation["Subject"] == "5 follow-up(s) overdue"
    text = parts(escalation)[0]
    assert [f"#{f.id}" in text for f in follow_ups] == [True, True, False, False, False]
    assert "+ 3" in text
    run_once(engine, now=NOW + timedelta(hours=31))
    assert len([m for m in inbox.messages if "overdue" in str(m["Subject"])]) == 1


def test_escalations_go_to_the_named_team_lead(engine, session, inbox, monkeypatch):
    monkeypatch.setenv("PULSE_ESCALATE_TO", "lead")
    user(session, "lead", "manager", "lead@pulse.example", weekly_digest=False)
    user(session, "root", "admin", "root@pulse.example", weekly_digest=False)
    answer(session, account="Acme Tools", owner="maria", email="a@acme.example", nps=2, when=NOW)
    run_once(engine, now=NOW + timedelta(hours=30))
    [escalation] = [m for m in inbox.messages if "overdue" in str(m["Subject"])]
    assert escalation["To"] == "lead@pulse.example"


def test_service_levels_are_configurable_and_checked(monkeypatch):
    from survey.followup.sla import DEFAULT_HOURS, SlaError, due_at, parse_hours

    assert parse_hours("detractor=4, drop=100") == DEFAULT_HOURS | {"detractor": 4, "drop": 100}
    assert due_at(NOW, "moment,drop", {"detractor": 4, "moment": 48, "drop": 100}) == NOW + timedelta(
        hours=48
    )
    for bad, named in (
        ("late=4", "unknown reason 'late'"),
        ("moment=soon", "whole number"),
        ("drop=0", "at least 1"),
    ):
        with pytest.raises(SlaError, match=named):
            parse_hours(bad)
    monkeypatch.setenv("PULSE_SLA_HOURS", "detractor=2")
    assert get_settings().sla_hours == "detractor=2"


def test_nothing_to_report_is_recorded_once_and_never_sent(engine, session, inbox):
    maria = make_user(session, "maria", "manager", email="maria@pulse.example")
    modes = {"detractor": "digest", "moment": "digest", "drop": "digest"}
    save(session, maria.username, language="en", modes=modes, weekly_digest=False)
    session.commit()
    run_once(engine, now=NOW)
    run_once(engine, now=NOW + timedelta(minutes=1))
    assert inbox.messages == []
    [marker] = session.exec(select(OutboxEvent)).all()
    assert (marker.topic, marker.status, marker.last_error) == (
        "digest.daily",
        "cancelled",
        "nothing new to report",
    )
