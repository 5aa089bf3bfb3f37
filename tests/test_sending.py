"""Invitation emails through a real SMTP server on loopback (aiosmtpd), the outbox, the one
reminder and expiry."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Contact, Delivery, Draft, Invitation
from survey.api.routes import routes
from survey.cli.main import main
from survey.collecting.invitations import LinkState, check_link, invite
from survey.collecting.responses import save_draft, submit
from survey.instrument.touchpoints import add_touchpoint
from survey.loop.worker import run_once
from survey.people.apikeys import create_key
from survey.sending.delivery import expire, send_due_invitations, send_invitation, send_reminders
from survey.sending.mailer import MailSettings
from tests.factories import BASE_URL, full_answers, make_invitation
from tests.test_api import BODY

BODY_TIME = datetime(2026, 11, 20, 10, tzinfo=UTC)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("PULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PULSE_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("PULSE_SMTP_STARTTLS", "0")
    monkeypatch.setenv("PULSE_SMTP_FROM", "Acme Account Team <team@pulse.example>")
    yield received
    controller.stop()


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def link_in(text: str) -> str:
    return next(word for word in text.split() if word.startswith(BASE_URL))


def test_an_invitation_arrives_in_the_contacts_language_with_a_working_link(session, now, inbox):
    result, _ = make_invitation(session, now, contact_name="Anna <b>Berg</b>", language="de")
    sent = send_invitation(session, result.invitation_id, result.link, now=now, mail=MailSettings.from_env())
    assert sent.status == "sent"
    [message] = inbox.messages
    assert message["To"] == "ana@acme.example"
    assert message["Subject"].startswith("Acme Tools: Wie war Delivery am 20.11.2026")
    text, html = parts(message)
    assert "Guten Tag Anna <b>Berg</b>," in text
    assert "Anna &lt;b&gt;Berg&lt;/b&gt;" in html  # names from a CRM are never markup
    assert link_in(text) == result.link
    assert f'href="{result.link}"' in html
    assert check_link(session, result.link.split("?t=")[1], now).state == LinkState.VALID
    assert session.get(Invitation, result.invitation_id).sent_at == now


def test_without_smtp_the_message_goes_to_the_outbox(session, now, tmp_path):
    result, _ = make_invitation(session, now)
    assert (
        send_invitation(
            session, result.invitation_id, result.link, now=now, mail=MailSettings.from_env()
        ).status
        == "outbox"
    )
    [written] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert link_in(parts(message)[0]) == result.link


def test_an_unreachable_server_marks_the_invitation_failed(session, now, monkeypatch):
    monkeypatch.setenv("PULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PULSE_SMTP_PORT", str(free_port()))
    result, _ = make_invitation(session, now)
    sent = send_invitation(session, result.invitation_id, result.link, now=now, mail=MailSettings.from_env())
    assert sent.status == "failed"
    assert "Connection" in session.get(Delivery, result.invitation_id).detail
    assert session.get(Invitation, result.invitation_id).sent_at is None


def test_one_reminder_goes_once_and_both_links_work(session, now, inbox):
    mail = MailSettings.from_env()
    pending, _ = make_invitation(session, now - timedelta(days=6), email="pending@acme.example")
    answered, _ = make_invitation(session, now - timedelta(days=6), email="done@acme.example")
    fresh, _ = make_invitation(session, now - timedelta(days=1), email="fresh@acme.example")
    for result, when in ((pending, 6), (answered, 6), (fresh, 1)):
        send_invitation(session, result.invitation_id, result.link, now=now - timedelta(days=when), mail=mail)
    submit(session, invitation_id=answered.invitation_id, answers=full_answers(), locale="en", now=now)
    session.commit()
    inbox.messages.clear()

    reminded = send_reminders(session, now=now, after_days=5, base_url=BASE_URL, mail=mail)
    assert [(r.to, r.status) for r in reminded] == [("pending@acme.example", "sent")]
    assert (
        send_reminders(session, now=now + timedelta(hours=1), after_days=5, base_url=BASE_URL, mail=mail)
        == []
    )
    [message] = inbox.messages
    assert message["Subject"].startswith("Reminder")
    reminder_link = link_in(parts(message)[0])
    assert reminder_link != pending.link
    for link in (reminder_link, pending.link):
        check = check_link(session, link.split("?t=")[1], now)
        assert check.state == LinkState.VALID
        assert check.context.invitation_id == pending.invitation_id


def test_expire_drops_unfinished_answers_of_expired_links_once(session, now):
    old, _ = make_invitation(session, now - timedelta(days=20), valid_days=14)
    live, _ = make_invitation(session, now, email="live@acme.example")
    for result, when in ((old, now - timedelta(days=19)), (live, now)):
        save_draft(
            session, invitation_id=result.invitation_id, answers={"SAT1": 5}, step=0, locale="en", now=when
        )
    session.commit()
    assert expire(session, now=now) == 1
    assert expire(session, now=now) == 0
    assert session.exec(select(Draft.invitation_id)).all() == [live.invitation_id]


def test_the_webhook_mails_the_invitation_and_a_replay_mails_nothing(engine, session, inbox):
    app = Starlette(routes=routes)
    app.state.engine = engine
    api = TestClient(app)
    key = create_key(session, "CRM", now=BODY_TIME, scopes=["write:interactions"])
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    first = api.post("/api/v1/interactions", json=BODY, headers=headers)
    assert first.json()["email"] == "sent"
    assert api.post("/api/v1/interactions", json=BODY, headers=headers).status_code == 200
    [message] = inbox.messages
    assert first.json()["link"] in parts(message)[0].split()


def test_the_cron_commands_are_idempotent(app_db, now, inbox, time_machine):
    # The commands read the clock: they run at the same moment the invitation was built from.
    time_machine.move_to(now, tick=False)
    result, _ = make_invitation(app_db, now - timedelta(days=10), email="late@acme.example")
    send_invitation(
        app_db, result.invitation_id, result.link, now=now - timedelta(days=10), mail=MailSettings.from_env()
    )
    runner = CliRunner()
    assert runner.invoke(main, ["send-reminders"]).output.strip().endswith("1 reminder(s)")
    assert runner.invoke(main, ["send-reminders"]).output.strip() == "0 reminder(s)"
    assert "dropped" in runner.invoke(main, ["expire"]).output
    assert len(inbox.messages) == 2
    assert app_db.exec(select(Contact.email)).all() == ["late@acme.example"]


def test_smtp_settings_come_from_secrets_toml_unless_the_environment_says_otherwise(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[smtp]\nhost = "mail.example.com"\nport = 2525\nfrom = "Team <t@example.com>"\nstarttls = false\n'
    )
    settings = MailSettings.from_env(secrets)
    assert (settings.host, settings.port, settings.sender, settings.starttls) == (
        "mail.example.com", 2525, "Team <t@example.com>", False,
    )  # fmt: skip
    monkeypatch.setenv("PULSE_SMTP_HOST", "relay.internal")
    assert MailSettings.from_env(secrets).host == "relay.internal"
    assert MailSettings.from_env(tmp_path / "missing.toml").port == 587


def test_a_touchpoint_with_a_survey_delay_is_surveyed_once_the_delay_has_passed(session, now, inbox):
    add_touchpoint(session, code="training", name="Training", actor="ada", delay_hours=24)
    session.commit()
    mail = MailSettings.from_env()
    result = invite(
        session,
        account_name="Acme Tools",
        contact_email="ana@acme.example",
        touchpoint="training",
        occurred_at=now - timedelta(hours=2),
        now=now,
        base_url=BASE_URL,
        valid_days=14,
    )
    session.commit()
    # Right after the interaction: no link handed out, nothing sent, whoever tries.
    assert result.link == ""
    assert result.scheduled_for == now + timedelta(hours=22)
    assert (
        send_invitation(session, result.invitation_id, result.link, now=now, mail=mail).status == "scheduled"
    )
    assert send_due_invitations(session, now=now + timedelta(hours=21), base_url=BASE_URL, mail=mail) == []
    assert inbox.messages == []
    # 24 hours after the interaction: sent once, with a link that opens the survey.
    due = now + timedelta(hours=22)
    [sent] = send_due_invitations(session, now=due, base_url=BASE_URL, mail=mail)
    assert (sent.invitation_id, sent.status) == (result.invitation_id, "sent")
    assert send_due_invitations(session, now=due + timedelta(hours=1), base_url=BASE_URL, mail=mail) == []
    [message] = inbox.messages
    link = link_in(parts(message)[0])
    assert check_link(session, link.split("?t=", 1)[1], due).state == LinkState.VALID
    invitation = session.get(Invitation, result.invitation_id)
    # The link stays valid as long after it went out as any other.
    assert invitation.sent_at == due
    assert invitation.expires_at == due + timedelta(days=14)


def test_the_api_schedules_a_delayed_touchpoints_survey_and_the_cron_command_sends_it(
    app_db, inbox, time_machine
):
    add_touchpoint(app_db, code="training", name="Training", actor="ada", delay_hours=24)
    app_db.commit()
    app = Starlette(routes=routes)
    app.state.engine = app_db.get_bind()
    api = TestClient(app)
    key = create_key(app_db, "CRM", now=BODY_TIME, scopes=["write:interactions"])
    app_db.commit()
    time_machine.move_to(BODY_TIME, tick=False)
    answer = api.post(
        "/api/v1/interactions",
        json=BODY | {"touchpoint": "training"},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert (answer["email"], answer["link"]) == ("scheduled", None)
    runner = CliRunner()
    assert runner.invoke(main, ["send-scheduled"]).output.strip() == "0 scheduled invitation(s) sent"
    assert inbox.messages == []
    time_machine.move_to(BODY_TIME + timedelta(hours=24), tick=False)
    assert runner.invoke(main, ["send-scheduled"]).output.strip().endswith("1 scheduled invitation(s) sent")
    assert runner.invoke(main, ["send-scheduled"]).output.strip() == "0 scheduled invitation(s) sent"
    [message] = inbox.messages
    assert message["To"] == "anna@acme.example"


def test_the_apps_worker_sends_a_scheduled_invitation_once_due(engine, session, now, inbox):
    add_touchpoint(session, code="training", name="Training", actor="ada", delay_hours=24)
    result = invite(
        session,
        account_name="Acme Tools",
        contact_email="ana@acme.example",
        touchpoint="training",
        now=now,
        base_url=BASE_URL,
        valid_days=14,
    )
    session.commit()
    run_once(engine, now=now + timedelta(hours=23))
    assert inbox.messages == []
    run_once(engine, now=now + timedelta(hours=24))
    run_once(engine, now=now + timedelta(hours=25))
    [message] = inbox.messages
    assert message["To"] == "ana@acme.example"
    session.expire_all()
    assert session.get(Invitation, result.invitation_id).sent_at == now + timedelta(hours=24)
