"""The export page, through AppTest (the download's bytes cannot be read back there)."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, AuditEvent
from tests.factories import respond, team_app


def open_page(db, role: str = "analyst", username: str | None = None) -> AppTest:
    at = team_app(db, role=role, username=username, timeout=60).run()
    return at.switch_page("pages/export.py").run()


def matching(at: AppTest) -> str:
    return next(c.value for c in at.caption if "responses match" in c.value)


def three_responses(db) -> None:
    now = datetime.now(UTC)
    for number in range(3):
        respond(db, now - timedelta(days=number), account=("Acme Tools", "Bolt Works")[number % 2],
                email=f"p{number}@x.example")  # fmt: skip


def test_the_page_says_when_there_is_nothing_to_export(db):
    at = open_page(db)
    assert not at.exception
    assert "No responses yet" in at.info[0].value


def test_the_page_prepares_a_file_of_the_filtered_responses_and_audits_it(db):
    three_responses(db)
    at = open_page(db)
    assert not at.exception
    assert "3 responses match" in matching(at)
    acme = db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    at.multiselect(key="accounts").set_value([acme]).run()
    assert "2 responses match" in matching(at)
    at.radio(key="format").set_value("sav").run()
    at.button(key="prepare").click().run()
    assert not at.exception
    assert at.success[0].value == "2 rows ready."
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert (event.actor, event.detail) == ("analyst", "2 rows as sav")


def test_a_managers_export_holds_only_their_accounts(db):
    three_responses(db)
    bolt = db.exec(select(Account).where(Account.name == "Bolt Works")).one()
    bolt.owner = "maria"
    db.add(bolt)
    db.commit()
    at = open_page(db, role="manager", username="maria")
    assert at.multiselect(key="accounts").options == ["Bolt Works"]
    assert "1 responses match" in matching(at)
