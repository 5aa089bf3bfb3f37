"""Invitation statuses and response rates, as the Invitations page shows them."""

from datetime import timedelta

from sqlmodel import select

from models.tables import Account
from survey.collecting.invitations import mark_opened
from survey.collecting.responses import save_draft, submit
from survey.people.access import owner_scope
from survey.sending.delivery import send_invitation
from survey.sending.mailer import MailSettings
from survey.sending.status import report
from tests.factories import full_answers, make_invitation, team_app


def test_each_invitation_shows_the_furthest_step_it_reached(session, now, monkeypatch):
    mail = MailSettings.from_env()
    make_invitation(session, now, email="created@acme.example")
    sent, _ = make_invitation(session, now, email="sent@acme.example")
    send_invitation(session, sent.invitation_id, sent.link, now=now, mail=mail)
    opened, _ = make_invitation(session, now, email="opened@acme.example")
    mark_opened(session, opened.invitation_id, now)
    started, _ = make_invitation(session, now, email="started@acme.example")
    save_draft(
        session, invitation_id=started.invitation_id, answers={"SAT1": 4}, step=0, locale="en", now=now
    )
    done, _ = make_invitation(
        session, now - timedelta(hours=30), email="done@acme.example", touchpoint="renewal"
    )
    submit(session, invitation_id=done.invitation_id, answers=full_answers(), locale="en", now=now)
    make_invitation(session, now - timedelta(days=30), email="expired@acme.example")
    monkeypatch.setenv("PULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PULSE_SMTP_PORT", "9")
    failed, _ = make_invitation(session, now, email="failed@acme.example")
    send_invitation(session, failed.invitation_id, failed.link, now=now, mail=MailSettings.from_env())
    session.commit()

    data = report(session, now=now)
    statuses = dict(zip(data.invitations["contact"], data.invitations["status"], strict=True))
    assert statuses == {
        "created@acme.example": "created",
        "sent@acme.example": "sent",
        "opened@acme.example": "opened",
        "started@acme.example": "started",
        "done@acme.example": "completed",
        "expired@acme.example": "expired",
        "failed@acme.example": "failed",
    }
    assert data.median_hours_to_response == 30
    rates = data.by_touchpoint.set_index("touchpoint")["response rate"]
    assert rates["Renewal"] == 1
    assert rates["Delivery"] == 0


def test_a_manager_sees_only_their_invitations(session, now):
    make_invitation(session, now, account="Acme Tools", email="a@acme.example")
    make_invitation(session, now, account="Globex", email="g@globex.example")
    acme = session.exec(select(Account).where(Account.name == "Acme Tools")).one()
    acme.owner = "maria"
    session.add(acme)
    session.commit()
    data = report(session, now=now, scope=owner_scope(session, "maria"))
    assert list(data.invitations["account"]) == ["Acme Tools"]
    assert list(data.by_manager["manager"]) == ["maria"]


def test_the_invitations_page_shows_counts_and_rates(db, clock):
    make_invitation(db, clock, email="a@acme.example")
    at = team_app(db, role="admin").run()
    at.switch_page("pages/invitations.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Created"] == "1"
    assert at.dataframe


def test_the_funnel_counts_sent_clicked_and_completed_by_form_and_touchpoint(session, now, monkeypatch):
    monkeypatch.setenv("PULSE_CHECKUP_DAYS", "90")
    mail = MailSettings.from_env()
    # Three contacts: each first invitation is a check-up, each second a pulse.
    for number in range(3):
        email = f"c{number}@acme.example"
        for when in (now - timedelta(days=3), now - timedelta(days=1)):
            result, _ = make_invitation(session, when, email=email)
            send_invitation(session, result.invitation_id, result.link, now=when, mail=mail)
            if number < 2:
                mark_opened(session, result.invitation_id, when)  # clicked
            if number == 0:
                invitation_form = report(session, now=now).invitations.iloc[0]["form"]
                answers = full_answers() if invitation_form == "Check-up" else {"NPS": 9}
                submit(session, invitation_id=result.invitation_id, answers=answers, locale="en", now=when)
    make_invitation(session, now, email="unsent@acme.example", touchpoint="renewal")  # created, never sent
    session.commit()

    funnel = report(session, now=now).funnel.set_index(["form", "touchpoint"])
    assert funnel.loc[("Check-up", "Delivery"), ["sent", "clicked", "completed"]].tolist() == [3, 2, 1]
    assert funnel.loc[("Pulse", "Delivery"), ["sent", "clicked", "completed"]].tolist() == [3, 2, 1]
    assert funnel.loc[("Check-up", "Delivery"), "click rate"] == 2 / 3
    assert funnel.loc[("Check-up", "Renewal"), ["sent", "clicked", "completed"]].tolist() == [0, 0, 0]
