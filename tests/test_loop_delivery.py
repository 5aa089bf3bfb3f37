"""The loop's delivery end to end, on SQLite and PostgreSQL: a real SMTP server on loopback
(aiosmtpd), a webhook receiver that verifies every signature, and the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Account, DeliveryAttempt, FollowUp, OutboxEvent
from survey.collecting.responses import AlreadySubmitted, submit
from survey.loop import outbox
from survey.loop.preferences import save
from survey.loop.worker import deliver_due, run_forever, run_once
from survey.sending.mailer import MailSettings
from tests.factories import answers_at, make_invitation, make_user
from tests.loop_support import Receiver, smtp_inbox
from tests.test_sending import Inbox, free_port, parts

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def manager(session, username="maria", email="maria@pulse.example", weekly=False, **modes):
    user = make_user(session, username, "manager", email=email)
    chosen = {"detractor": "immediately", "moment": "immediately", "drop": "immediately"} | modes
    save(session, user.username, language="en", modes=chosen, weekly_digest=weekly)
    session.commit()
    return user


def detractor_invitation(session, *, email="ana@acme.example", account="Acme Tools", owner="maria"):
    result, _ = make_invitation(session, NOW - timedelta(hours=1), email=email, account=account, owner=owner)
    return result


def answer(session, invitation_id, *, nps=3, anonymous=False, when=NOW):
    response_id = submit(
        session,
        invitation_id=invitation_id,
        answers=answers_at(NPS=nps, COMMENT="The delivery came <b>late</b> & nobody called."),
        locale="en",
        now=when,
        anonymous=anonymous,
    )
    session.commit()
    return response_id


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


def alerts_in(inbox: Inbox) -> list:
    return [m for m in inbox.messages if str(m["Subject"]).startswith("Follow-up #")]


def test_a_detractor_alerts_the_owner_once_within_a_minute_and_calls_the_webhook_once(engine, session, inbox):
    manager(session)
    with Receiver() as receiver:
        receiver.subscribe(session, "followup.created,response.created", NOW)
        invitation = detractor_invitation(session)
        submitted = time.monotonic()
        response_id = answer(session, invitation.invitation_id)
        # The worker as the app runs it: a thread, on its own clock (started at the submit).
        stop = threading.Event()
        started = time.monotonic()
        clock = lambda: NOW + timedelta(seconds=time.monotonic() - started)  # noqa: E731
        worker = threading.Thread(
            target=run_forever, args=(engine, stop), kwargs={"poll": 0.2, "clock": clock}
        )
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (not alerts_in(inbox) or len(receiver.calls) < 2):
                time.sleep(0.1)
            arrived = time.monotonic() - submitted
            # Replaying the submit stores nothing and sends nothing.
            with pytest.raises(AlreadySubmitted):
                answer(session, invitation.invitation_id, when=NOW + timedelta(seconds=5))
            time.sleep(1.5)
        finally:
            stop.set()
            worker.join(10)
    assert arrived < 60
    [alert] = alerts_in(inbox)
    follow_up = session.exec(select(FollowUp).where(FollowUp.response_id == response_id)).one()
    assert alert["To"] == "maria@pulse.example"
    assert alert["Subject"] == f"Follow-up #{follow_up.id}: Acme Tools needs you (detractor)"
    text, html = parts(alert)
    assert "Contact: ana@acme.example" in text
    assert "Touchpoint: Delivery" in text
    assert "Why: Recommendation 3/10" in text
    assert "The delivery came <b>late</b> & nobody called." in text
    assert "came &lt;b&gt;late&lt;/b&gt; &amp; nobody" in html  # the comment is never markup
    assert f"/followup?followup={follow_up.id}" in text
    [created] = receiver.of_type("followup.created")
    assert created["payload"]["data"]["follow_up_id"] == follow_up.id
    assert created["payload"]["data"]["reasons"] == ["detractor"]
    assert len(receiver.of_type("response.created")) == 1
    assert receiver.refused == 0
    assert len(session.exec(select(FollowUp)).all()) == 1


def test_an_anonymous_detractor_alert_names_no_contact(engine, session, inbox):
    manager(session)
    invitation = detractor_invitation(session)
    answer(session, invitation.invitation_id, anonymous=True)
    run_once(engine, now=NOW)
    [alert] = alerts_in(inbox)
    text, html = parts(alert)
    assert "ana@acme.example" not in text + html
    assert "asked to stay anonymous" in text


def test_an_owner_who_chose_the_digest_or_off_gets_no_immediate_alert(engine, session, inbox):
    manager(session, detractor="digest")
    manager(session, "jonas", "jonas@pulse.example", detractor="off")
    answer(session, detractor_invitation(session).invitation_id)
    answer(
        session,
        detractor_invitation(session, email="bo@beta.example", account="Beta", owner="jonas").invitation_id,
    )
    run_once(engine, now=NOW)
    assert alerts_in(inbox) == []
    # The digest mode gets it next morning, in the daily digest; "off" never.
    run_once(engine, now=NOW + timedelta(hours=22))
    [digest] = [m for m in inbox.messages if "Daily follow-up digest" in str(m["Subject"])]
    assert digest["To"] == "maria@pulse.example"
    assert "Acme Tools" in parts(digest)[0]
    assert "Beta" not in parts(digest)[0]
    run_once(engine, now=NOW + timedelta(hours=23))
    assert len([m for m in inbox.messages if "Daily" in str(m["Subject"])]) == 1


def test_with_the_mail_server_down_for_two_minutes_the_alert_arrives_after_it_returns(
    engine, session, monkeypatch
):
    port = free_port()
    monkeypatch.setenv("PULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PULSE_SMTP_PORT", str(port))
    monkeypatch.setenv("PULSE_SMTP_STARTTLS", "0")
    manager(session)
    answer(session, detractor_invitation(session).invitation_id)
    for seconds in (0, 30, 90):  # down: each try fails and the next waits longer
        [outcome] = [
            o for o in run_once(engine, now=NOW + timedelta(seconds=seconds)) if o.topic == "followup.alert"
        ]
        assert outcome.status == "retry"
        assert "Connection" in outcome.detail
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()  # back after two minutes
    try:
        assert run_once(engine, now=NOW + timedelta(seconds=150)) == []  # the next try is not due yet
        [outcome] = run_once(engine, now=NOW + timedelta(seconds=210))
        assert outcome.status == "sent"
    finally:
        controller.stop()
    [alert] = alerts_in(received)
    assert "Acme Tools" in alert["Subject"]
    event = session.exec(select(OutboxEvent).where(OutboxEvent.topic == "followup.alert")).one()
    session.refresh(event)
    assert (event.status, event.attempts) == ("sent", 4)
    attempts = session.exec(select(DeliveryAttempt.ok).where(DeliveryAttempt.event_id == event.id)).all()
    assert sorted(attempts) == [False, False, False, True]


def test_two_workers_on_one_database_deliver_each_event_exactly_once(db_url, session, inbox):
    events = 120
    with Receiver(delay=0.005) as receiver:
        endpoint_id = receiver.subscribe(session, "followup.created", NOW)
        for number in range(events):
            assert outbox.enqueue(
                session,
                channel="webhook",
                topic="followup.created",
                target=str(endpoint_id),
                payload={"id": f"msg_{number}", "body": {"type": "followup.created", "data": {"n": number}}},
                now=NOW,
            )
        session.commit()
        # Two workers with their own engines, as two replicas would have.
        engines = [make_engine(db_url), make_engine(db_url)]
        results: dict[int, list] = {0: [], 1: []}

        def work(index: int) -> None:
            for _ in range(40):
                done = deliver_due(engines[index], now=NOW, worker=f"replica-{index}", limit=7)
                results[index] += done
                if not done:
                    with Session(engines[index]) as own:
                        if not outbox.counts(own)["pending"]:
                            return

        threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for each in engines:
            each.dispose()
    assert receiver.refused == 0
    assert len(receiver.calls) == events
    assert set(receiver.ids().values()) == {1}  # every event once, none twice
    assert results[0]
    assert results[1]
    delivered = [o.event_id for o in results[0] + results[1] if o.status == "sent"]
    assert sorted(delivered) == sorted(set(delivered))
    assert len(delivered) == events


def test_a_failing_endpoint_never_slows_the_submit_and_is_retried_with_backoff(engine, session):
    with Receiver(status=500) as receiver:
        receiver.subscribe(session, "response.created", NOW)
        invitation = detractor_invitation(session)
        started = time.monotonic()
        answer(session, invitation.invitation_id)
        assert time.monotonic() - started < 2
        [first] = deliver_due(engine, now=NOW)
        assert (first.status, first.detail) == ("retry", "HTTP 500: ")
        assert deliver_due(engine, now=NOW + timedelta(seconds=10)) == []
        [second] = deliver_due(engine, now=NOW + timedelta(seconds=31))
        assert second.status == "retry"
        receiver.status = 204
        [third] = deliver_due(engine, now=NOW + timedelta(seconds=92))
        assert third.status == "sent"
    assert len(receiver.ids()) == 1  # the same webhook-id on every try
    assert len(receiver.calls) == 3


def test_a_removed_endpoint_gets_nothing_more(engine, session):
    from survey.loop.webhooks import remove_endpoint

    with Receiver() as receiver:
        endpoint_id = receiver.subscribe(session, "response.created", NOW)
        answer(session, detractor_invitation(session).invitation_id)
        remove_endpoint(session, endpoint_id)
        session.commit()
        assert deliver_due(engine, now=NOW) == []
    assert receiver.calls == []
    assert session.exec(select(OutboxEvent.status).where(OutboxEvent.channel == "webhook")).all() == [
        "cancelled"
    ]


def test_mail_settings_are_read_when_delivering(engine, session, inbox):
    manager(session)
    answer(session, detractor_invitation(session).invitation_id)
    outcomes = deliver_due(engine, now=NOW, mail=MailSettings.from_env())
    assert [o.status for o in outcomes if o.channel == "email"] == ["sent"]


def test_an_account_name_with_a_line_break_still_alerts_on_one_subject_line(engine, session, inbox):
    manager(session)
    invitation = detractor_invitation(session, account="Acme")
    # Names are checked where they enter now; an account stored before that may still hold one.
    account = session.exec(select(Account).where(Account.name == "Acme")).one()
    account.name = "Acme\r\nBcc: everyone@example.com"
    session.add(account)
    session.commit()
    answer(session, invitation.invitation_id)
    run_once(engine, now=NOW)
    [alert] = alerts_in(inbox)
    assert alert["Subject"].endswith("Acme Bcc: everyone@example.com needs you (detractor)")
    assert alert["Bcc"] is None


class ChatHook:
    """An incoming-webhook URL like Slack's or Teams': records the JSON it gets."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_chat_channels_hear_about_follow_ups_on_the_accounts_they_follow(engine, session):
    from survey.loop.chat import add_channel

    slack, teams = ChatHook(), ChatHook()
    try:
        add_channel(session, "everyone", slack.url, "slack", now=NOW)
        add_channel(session, "jonas's team", teams.url, "teams", owner="jonas", now=NOW)
        session.commit()
        answer(session, detractor_invitation(session, account="Acme <Tools> & Co").invitation_id)
        answer(
            session,
            detractor_invitation(
                session, email="bo@beta.example", account="Beta", owner="jonas"
            ).invitation_id,
        )
        run_once(engine, now=NOW)
    finally:
        slack.close()
        teams.close()
    texts = sorted(message["text"] for message in slack.received)
    assert len(texts) == 2
    assert "Acme &lt;Tools&gt; &amp; Co (detractor)" in texts[0]  # Slack markup is escaped
    [card] = teams.received
    assert card["type"] == "message"
    block = card["attachments"][0]["content"]["body"][0]["text"]
    assert "on Beta (detractor)" in block


def test_an_event_claimed_by_a_worker_that_died_is_delivered_by_another_after_the_lease(engine, session):
    from survey.loop.worker import LEASE, claim

    with Receiver() as receiver:
        receiver.subscribe(session, "response.created", NOW)
        answer(session, detractor_invitation(session).invitation_id)
        [claimed] = claim(session, worker="dead-replica", now=NOW)  # claimed, then the process died
        session.commit()
        assert deliver_due(engine, now=NOW + timedelta(minutes=1), worker="live-replica") == []
        [outcome] = deliver_due(engine, now=NOW + LEASE + timedelta(seconds=1), worker="live-replica")
        assert (outcome.event_id, outcome.status) == (claimed, "sent")
        assert deliver_due(engine, now=NOW + 2 * LEASE, worker="live-replica") == []
    assert len(receiver.calls) == 1
