"""`make run` closes the loop with no extra command: the server started as `make run` starts it
delivers an owner's alert through a real SMTP server, and answers the one-click unsubscribe."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models.db import make_engine
from models.tables import OptOut
from survey.collecting.responses import submit
from survey.loop.preferences import save
from survey.sending.delivery import send_invitation
from survey.sending.mailer import MailSettings
from tests.browser_support import running_app
from tests.factories import answers_at, make_invitation, make_user
from tests.loop_support import smtp_inbox


def test_the_running_app_mails_the_owner_within_a_minute_and_honours_one_click_unsubscribe(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PULSE_WORKER_POLL_SECONDS", "0.5")
    with smtp_inbox(monkeypatch) as inbox, running_app(tmp_path) as (base_url, env):
        monkeypatch.setenv("PULSE_BASE_URL", base_url)
        engine = make_engine(env["DATABASE_URL"])
        with Session(engine, expire_on_commit=False) as session:
            make_user(session, "maria", "manager", email="maria@pulse.example")
            modes = dict.fromkeys(("detractor", "moment", "drop"), "immediately")
            save(session, "maria", language="en", modes=modes, weekly_digest=False)
            now = datetime.now(UTC)
            result, _ = make_invitation(session, now - timedelta(minutes=5), owner="maria")
            send_invitation(session, result.invitation_id, result.link, now=now, mail=MailSettings.from_env())
            submit(
                session, invitation_id=result.invitation_id, answers=answers_at(NPS=2), locale="en", now=now
            )
            session.commit()
            submitted = time.monotonic()
            while time.monotonic() - submitted < 60 and not any(
                m["To"] == "maria@pulse.example" for m in inbox.messages
            ):
                time.sleep(0.2)
            [alert] = [m for m in inbox.messages if m["To"] == "maria@pulse.example"]
            assert alert["Subject"].endswith("Acme Tools needs you (detractor)")
            assert time.monotonic() - submitted < 60

            [invitation] = [m for m in inbox.messages if m["To"] == "ana@acme.example"]
            link = invitation["List-Unsubscribe"].strip("<>")
            assert link.startswith(base_url)
            request = urllib.request.Request(link, data=b"List-Unsubscribe=One-Click", method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
            assert session.get(OptOut, "ana@acme.example").source == "one-click"
        engine.dispose()
