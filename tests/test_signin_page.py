"""Signing in and out through the app, as a person would (AppTest)."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import AuditEvent, Response
from survey.people.users import set_active
from tests.factories import APP_PATH, PASSWORD, full_answers, make_user, respond, team_app


def text(at: AppTest) -> str:
    parts = [
        *at.markdown,
        *at.caption,
        *at.title,
        *at.subheader,
        *at.error,
        *at.warning,
        *at.info,
        *at.success,
        *at.code,
    ]
    return "\n".join(str(p.value) for p in parts)


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def test_the_first_start_explains_how_to_create_the_admin(db):
    at = AppTest.from_file(APP_PATH, default_timeout=30).run()
    assert not at.exception
    assert "python -m survey user add YOUR-NAME --role admin" in text(at)
    assert "no default password" in text(at)
    assert not at.text_input  # no form to guess at


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_overview(db):
    make_user(db, "maria", "manager")
    at = AppTest.from_file(APP_PATH, default_timeout=30).run()
    at = sign_in(at, "maria", "not my password")
    assert "Wrong user name or password." in text(at)
    assert "Overview" not in text(at)
    at = sign_in(at, "maria", PASSWORD)
    assert not at.exception
    assert "Signed in as maria" in text(at)
    at.switch_page("pages/overview.py").run()
    assert at.title[0].value == "Overview"
    assert "maria" in text(at)
    audited = db.exec(select(AuditEvent.action).where(AuditEvent.actor == "maria")).all()
    assert audited == ["sign_in_failed", "sign_in"]


def test_repeated_wrong_passwords_lock_the_user_out(db):
    make_user(db, "maria", "manager")
    at = AppTest.from_file(APP_PATH, default_timeout=30).run()
    for _ in range(5):
        at = sign_in(at, "maria", "guess guess guess")
    assert "Too many failed sign-ins: try again in 1 minute" in text(at)
    at = sign_in(at, "maria", PASSWORD)
    assert "Too many failed sign-ins" in text(at)
    assert "Overview" not in text(at)


def test_an_unknown_name_locks_exactly_like_a_real_one(db):
    make_user(db, "maria", "manager")
    shown = {}
    for name in ("maria", "nobody"):
        at = AppTest.from_file(APP_PATH, default_timeout=30).run()
        messages = []
        for _ in range(6):
            at = sign_in(at, name, "guess guess guess")
            messages.append(at.error[0].value)
        shown[name] = messages
    assert shown["maria"] == shown["nobody"]
    assert "try again in" in shown["nobody"][-1]


def test_an_idle_session_ends_with_a_notice(db):
    at = team_app(db, role="manager")
    at.session_state["last_seen"] = datetime.now(UTC) - timedelta(minutes=31)
    at.run()
    assert "signed out after 30 minutes without activity" in text(at)
    assert "Overview" not in text(at)


def test_disabling_a_user_ends_their_open_session(db):
    at = team_app(db, role="analyst").run()
    assert at.title[0].value == "Overview"
    set_active(db, "analyst", False, actor="admin")
    db.commit()
    at.run()
    assert "disabled" in text(at)
    assert "Overview" not in text(at)


def test_signing_out_returns_to_the_sign_in_page(db):
    at = team_app(db, role="manager").run()
    at.button(key="sign_out").click().run()
    assert "Sign in" in text(at)
    assert "Overview" not in text(at)
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "sign_out")).first() is not None


def test_the_app_start_purges_comments_past_their_retention(db, monkeypatch):
    respond(db, datetime.now(UTC) - timedelta(days=400), email="old@acme.example")
    respond(db, datetime.now(UTC) - timedelta(days=10), email="new@acme.example")
    monkeypatch.setenv("PULSE_COMMENT_RETENTION_MONTHS", "12")
    AppTest.from_file(APP_PATH, default_timeout=30).run()
    db.expire_all()
    assert sorted(db.exec(select(Response.comment)).all(), key=str) == [full_answers()["COMMENT"], None]
    assert db.exec(select(AuditEvent.actor).where(AuditEvent.action == "comments_purged")).all() == ["system"]
