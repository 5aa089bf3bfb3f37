"""The Audit log page, through AppTest: an admin reads who did what, newest first, and narrows
the list by action and by user."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from survey.people import audit
from tests.factories import PASSWORD, make_user, team_app


def audit_page(at: AppTest) -> AppTest:
    return at.switch_page("pages/audit.py").run()


def rows(at: AppTest) -> list[tuple[str, str, str]]:
    frame = at.dataframe[0].value
    return list(zip(frame["User"], frame["Action"], frame["Detail"], strict=True))


@pytest.fixture
def history(db) -> None:
    """A morning of events after the admin was created: maria fails, signs in and exports."""
    start = datetime.now(UTC) - timedelta(hours=3)
    make_user(db, "admin", "admin")
    make_user(db, "maria", "manager")
    events = [
        ("maria", "sign_in_failed", "wrong password (from 10.0.0.7)"),
        ("maria", "sign_in", "password"),
        ("maria", "export", "responses.csv"),
        ("tom", "sign_in_failed", "unknown user or no password set (from 10.0.0.9)"),
        ("admin", "sign_in", "password"),
    ]
    for minutes, (actor, action, detail) in enumerate(events):
        audit.record(db, actor, action, detail, at=start + timedelta(minutes=minutes))
    db.commit()


def test_the_log_lists_every_event_newest_first(db, history):
    at = audit_page(team_app(db).run())
    assert not at.exception
    assert at.title[0].value == "Audit log"
    assert rows(at) == [
        ("admin", "sign_in", "password"),
        ("tom", "sign_in_failed", "unknown user or no password set (from 10.0.0.9)"),
        ("maria", "export", "responses.csv"),
        ("maria", "sign_in", "password"),
        ("maria", "sign_in_failed", "wrong password (from 10.0.0.7)"),
        ("test", "user_added", "maria as manager"),
        ("test", "user_added", "admin as admin"),
    ]
    assert at.main.caption[0].value == "The newest 7 events."


def test_a_user_added_on_the_users_page_appears_in_the_log(db):
    at = team_app(db).run()
    at.switch_page("pages/users.py").run()
    at.text_input[0].input("tom")
    next(s for s in at.selectbox if s.label == "Role").set_value("analyst")
    at.text_input[3].input(PASSWORD)
    at = next(b for b in at.button if b.label == "Add user").click().run()
    assert [s.value for s in at.success] == ["Add tom: done."]
    at = audit_page(at)
    assert rows(at)[0] == ("admin", "user_added", "tom as analyst")
    # Stored, not only shown: a session of its own reads it too.
    with Session(db.get_bind()) as fresh:
        [event] = audit.recent(fresh, action="user_added", actor="admin")
        assert event.detail == "tom as analyst"


def test_the_action_filter_shows_only_that_action(db, history):
    at = audit_page(team_app(db).run())
    assert at.selectbox[0].options[:3] == ["All", "sign_in", "sign_in_failed"]
    at.selectbox[0].set_value("sign_in_failed").run()
    assert rows(at) == [
        ("tom", "sign_in_failed", "unknown user or no password set (from 10.0.0.9)"),
        ("maria", "sign_in_failed", "wrong password (from 10.0.0.7)"),
    ]
    assert at.main.caption[0].value == "The newest 2 events."
    at.selectbox[0].set_value(None).run()
    assert len(rows(at)) == 7


def test_the_user_filter_takes_the_exact_name_in_any_case(db, history):
    at = audit_page(team_app(db).run())
    at.text_input[0].input("  Maria ").run()
    assert rows(at) == [
        ("maria", "export", "responses.csv"),
        ("maria", "sign_in", "password"),
        ("maria", "sign_in_failed", "wrong password (from 10.0.0.7)"),
    ]
    # Both filters at once.
    at.selectbox[0].set_value("export").run()
    assert rows(at) == [("maria", "export", "responses.csv")]
    # An exact name: a part of one matches nothing.
    at.text_input[0].input("mar").run()
    assert not at.dataframe
    assert [i.value for i in at.info] == ["No events match."]


def test_the_log_shows_at_most_the_newest_500_events(db):
    make_user(db, "admin", "admin")
    start = datetime.now(UTC) - timedelta(days=2)
    for number in range(505):
        audit.record(db, "maria", "export", f"export {number}", at=start + timedelta(minutes=number))
    db.commit()
    at = audit_page(team_app(db).run())
    shown = rows(at)
    assert len(shown) == 500
    assert (shown[0][2], shown[-1][2]) == ("export 504", "export 5")
    assert at.main.caption[0].value == "The newest 500 events."
