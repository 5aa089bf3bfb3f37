"""The export page, through AppTest (the download's bytes cannot be read back there)."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account
from tests.factories import respond

APP = "../app.py"


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page("pages/export.py").run()


def test_the_page_says_when_there_is_nothing_to_export(db):
    at = open_page()
    assert not at.exception
    assert "No responses yet" in at.info[0].value


def test_the_page_prepares_a_file_of_the_filtered_responses(db):
    now = datetime.now(UTC)
    for number in range(3):
        respond(db, now - timedelta(days=number), account=("Acme Tools", "Bolt Works")[number % 2],
                email=f"p{number}@x.example")  # fmt: skip
    at = open_page()
    assert not at.exception
    assert "3 responses match" in at.caption[0].value
    acme = db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    at.multiselect(key="accounts").set_value([acme]).run()
    assert "2 responses match" in at.caption[0].value
    at.radio(key="format").set_value("sav").run()
    at.button(key="prepare").click().run()
    assert not at.exception
    assert at.success[0].value == "2 rows ready."
