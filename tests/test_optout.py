"""Opting out (RFC 8058 one-click and the visible link), bounces, and the rules every path
applies: an opted-out contact gets nothing from the import, the API, ``invite``, the page's
form, reminders or a reply; nobody is surveyed twice within the rest period."""

from __future__ import annotations

import email
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Delivery, FollowUp, OptOut
from survey.api.routes import routes as api_routes
from survey.api.unsubscribe import routes as unsubscribe_routes
from survey.cli.main import main
from survey.collecting.responses import submit
from survey.followup.queue import FollowUpError, close
from survey.imports.crm import guess_mapping, import_rows, parse
from survey.people.apikeys import SCOPES, create_key
from survey.sending.bounces import process
from survey.sending.delivery import send_invitation, send_reminders
from survey.sending.mailer import MailSettings
from survey.sending.rules import record_and_invite
from survey.sending.status import report
from tests.factories import BASE_URL, answers_at, make_invitation
from tests.loop_support import smtp_inbox
from tests.test_sending import Inbox, parts

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ADDRESS = "ana@acme.example"


@pytest.fixture(autouse=True)
def _links_point_at_the_test_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_BASE_URL", BASE_URL)


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


def web(engine) -> TestClient:
    app = Starlette(routes=[*api_routes, *unsubscribe_routes])
    app.state.engine = engine
    return TestClient(app)


def invited_and_mailed(session, when=NOW, **kwargs):
    result, _ = make_invitation(session, when, **kwargs)
    send_invitation(session, result.invitation_id, result.link, now=when, mail=MailSettings.from_env())
    return result


def to_address(inbox: Inbox, address: str = ADDRESS) -> list:
    return [m for m in inbox.messages if m["To"] == address]


def test_every_invitation_carries_one_click_unsubscribe_and_a_visible_link(session, inbox):
    invited_and_mailed(session)
    [message] = inbox.messages
    header = message["List-Unsubscribe"]
    assert header.startswith(f"<{BASE_URL}/email/unsubscribe?t=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header.strip("<>")
    text, html = parts(message)
    assert f"Unsubscribe: {link}" in text
    assert f'href="{link}"' in html


def test_a_link_scanner_opening_the_link_unsubscribes_nobody_the_one_click_post_does(engine, session, inbox):
    invited_and_mailed(session)
    link = inbox.messages[0]["List-Unsubscribe"].strip("<>").replace(BASE_URL, "")
    client = web(engine)
    page = client.get(link)
    assert page.status_code == 200
    assert "Stop survey emails?" in page.text
    assert session.get(OptOut, ADDRESS) is None
    done = client.post(link, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    session.expire_all()
    assert session.get(OptOut, ADDRESS).source == "one-click"
    assert client.post(link).status_code == 200  # again: still unsubscribed, nothing more
    bad = client.post("/email/unsubscribe?t=" + "x" * 43)
    assert bad.status_code == 404
    assert "<script" not in client.get("/email/unsubscribe?t=<script>").text


def test_an_opted_out_contact_gets_nothing_from_any_path(engine, session, inbox, monkeypatch):
    first = invited_and_mailed(session, NOW - timedelta(days=6))
    link = inbox.messages[0]["List-Unsubscribe"].strip("<>").replace(BASE_URL, "")
    assert web(engine).post(link, content=b"List-Unsubscribe=One-Click").status_code == 200
    session.expire_all()
    inbox.messages.clear()
    mail = MailSettings.from_env()

    # Reminders: the first invitation is unanswered and old enough, but no reminder goes.
    first_again, _ = make_invitation(
        session, NOW - timedelta(days=6), email="ana@acme.example", account="Beta"
    )
    assert send_reminders(session, now=NOW, after_days=5, base_url=BASE_URL, mail=mail) == []
    # Its own email was not sent either: the address is on the list.
    sent = send_invitation(session, first_again.invitation_id, first_again.link, now=NOW, mail=mail)
    assert sent.status == "skipped"
    assert "opt-out list" in session.get(Delivery, first_again.invitation_id).detail

    # invite and the page's form.
    outcome = record_and_invite(
        session, account_name="Acme Tools", contact_email=ADDRESS, touchpoint="delivery", now=NOW,
        base_url=BASE_URL, valid_days=14, fatigue_days=30,
    )  # fmt: skip
    session.commit()
    assert outcome.invitation is None
    assert outcome.not_invited.startswith("ana@acme.example opted out of survey emails on 20")

    # The CRM import.
    csv_text = (
        "crm_interaction_id,account_name,contact_email,touchpoint,occurred_at\n"
        f"SF-9,Acme Tools,{ADDRESS},delivery,{NOW.date().isoformat()}\n"
    ).encode()
    rows = parse(
        session, csv_text, guess_mapping(csv_text.decode().splitlines()[0].split(",")), filename="crm.csv"
    )
    result = import_rows(session, rows, now=NOW, base_url=BASE_URL, valid_days=14, fatigue_days=30)
    session.commit()
    assert result.invitations == []
    [(_, skipped_email, why)] = result.skipped
    assert skipped_email == ADDRESS
    assert "opted out" in why

    # The API.
    key = create_key(session, "CRM", now=NOW, scopes=SCOPES)
    session.commit()
    body = {
        "crm_interaction_id": "SF-10",
        "account": {"name": "Acme Tools"},
        "contact": {"email": ADDRESS},
        "touchpoint": "delivery",
        "occurred_at": "2026-11-20T09:30:00Z",
    }
    answer = web(engine).post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 201
    assert answer.json()["invitation_id"] is None
    assert "opted out" in answer.json()["not_invited"]

    # "You said, we did" after their earlier feedback.
    answered = NOW - timedelta(days=5)
    submit(session, invitation_id=first.invitation_id, answers=answers_at(NPS=2), locale="en", now=answered)
    session.commit()
    follow_up = session.exec(select(FollowUp)).one()
    with pytest.raises(FollowUpError, match="opted out"):
        close(session, follow_up.id, "Called", NOW, customer_message="We fixed the delivery route.")
    session.rollback()
    assert to_address(inbox) == []


def test_invite_refuses_an_opted_out_contact_and_one_surveyed_within_the_rest_period(app_db, time_machine):
    time_machine.move_to(NOW, tick=False)
    runner = CliRunner()
    first = runner.invoke(
        main, ["invite", "--account", "Acme", "--contact", "bo@acme.example", "--touchpoint", "delivery"]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        main, ["invite", "--account", "Acme", "--contact", "bo@acme.example", "--touchpoint", "service"]
    )
    assert again.exit_code == 1
    assert "was not invited: surveyed on 2026-11-20, within the 30-day rest period" in again.output
    app_db.add(OptOut(email="cy@acme.example", at=NOW, source="link"))
    app_db.commit()
    refused = runner.invoke(
        main, ["invite", "--account", "Acme", "--contact", "cy@acme.example", "--touchpoint", "service"]
    )
    assert refused.exit_code == 1
    assert "cy@acme.example opted out of survey emails on 2026-11-20" in refused.output
    assert "http" not in refused.output


def _bounce(recipient: str) -> email.message.Message:
    """A delivery-status notification (RFC 3464) as Postfix writes it."""
    raw = f"""From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)
To: pulse@pulse.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"

--B0UND
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.example. Your message could not be delivered.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--B0UND--
"""
    return email.message_from_string(raw)


def test_process_bounces_marks_invitations_bounced_and_stops_mailing_the_address(
    session, tmp_path, inbox, now
):
    invited_and_mailed(session, email="gone@acme.example")
    invited_and_mailed(session, email="fine@acme.example")
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(_bounce("gone@acme.example"))
    box.add(_bounce("stranger@elsewhere.example"))
    box.flush()
    result = process(session, tmp_path / "bounces.mbox", now=NOW)
    session.commit()
    assert result.addresses == ["gone@acme.example", "stranger@elsewhere.example"]
    assert result.unknown == ["stranger@elsewhere.example"]
    assert result.invitations == 1
    again = process(session, tmp_path / "bounces.mbox", now=NOW)
    assert again.invitations == 0
    data = report(session, now=NOW)
    assert dict(zip(data.invitations["contact"], data.invitations["status"], strict=True)) == {
        "gone@acme.example": "bounced",
        "fine@acme.example": "sent",
    }
    assert data.bounce_rate == 0.5
    assert data.opt_out_rate == 0.5  # the bounced address is not mailed again
    outcome = record_and_invite(
        session, account_name="Acme Tools", contact_email="gone@acme.example", touchpoint="service",
        now=NOW + timedelta(days=60), base_url=BASE_URL, valid_days=14, fatigue_days=30,
    )  # fmt: skip
    assert "bounced for good" in outcome.not_invited


def test_process_bounces_names_a_path_it_cannot_read(app_db, tmp_path):
    result = CliRunner().invoke(main, ["process-bounces", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(main, ["process-bounces", str(tmp_path / "folder")])
    assert "not a maildir" in result.output
