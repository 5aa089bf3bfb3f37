"""The account page, through AppTest."""

import base64
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, Contact
from survey.collecting.responses import submit
from survey.instrument.definition import load_instrument
from tests.factories import full_answers, make_invitation, team_app

APP = "../app.py"


def answers(trust: int) -> dict:
    result = full_answers()
    for item in load_instrument().indicator_items("trust"):
        result[item.code] = 8 - trust if item.reverse else trust
    return result


def respond(db, when: datetime, email: str, trust: int, account: str = "Acme Tools") -> None:
    result, _ = make_invitation(db, when, account=account, email=email)
    submit(db, invitation_id=result.invitation_id, answers=answers(trust), locale="en", now=when)
    db.commit()


def set_contact(db, email: str, name: str, role: str, influence: float) -> None:
    contact = db.exec(select(Contact).where(Contact.email == email)).one()
    contact.name, contact.role, contact.buying_influence = name, role, influence
    db.add(contact)
    db.commit()


@pytest.fixture
def acme(db) -> int:
    when = datetime.now(UTC) - timedelta(days=3)
    respond(db, when, "ana@acme.example", trust=6)
    respond(db, when - timedelta(hours=1), "ben@acme.example", trust=2)
    make_invitation(db, when, email="cy@acme.example")
    respond(db, when, "gus@globex.example", trust=1, account="Globex")
    set_contact(db, "ana@acme.example", "Ana Lima", "decision_maker", 0.9)
    set_contact(db, "ben@acme.example", "Ben [Okafor](http://evil.example)", "user", 0.3)
    set_contact(db, "cy@acme.example", "Cy Young", "influencer", 0.5)
    return db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()


def open_page(db) -> AppTest:
    at = team_app(db, timeout=30).run()
    at.switch_page("pages/account.py").run()
    assert not at.exception
    return at


def values(array) -> list:
    """Plotly sends numeric arrays either as lists or as base64 typed arrays."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_no_accounts_yet(db):
    at = open_page(db)
    assert "No accounts yet" in at.info[0].value


def test_the_page_shows_contacts_coverage_and_weighted_scores(db, acme):
    at = open_page(db)
    assert at.selectbox(key="account").value == acme  # the first account by name
    contacts = at.dataframe[1].value
    assert list(contacts["Name"]) == ["Ana Lima", "Cy Young", "Ben [Okafor](http://evil.example)"]
    assert list(contacts["Role"]) == ["decision maker", "influencer", "user"]
    assert list(contacts["Buying influence"]) == [0.9, 0.5, 0.3]
    assert list(contacts["Answered"]) == [True, False, True]
    shown = metrics(at)
    assert shown["Contacts who answered"] == "67%"
    assert shown["Buying influence covered"] == "71%"  # 1.2 of 1.7
    # (0.9·6 + 0.3·2) / 1.2 = 5.0 on 1-7 -> 67 on 0-100.
    assert shown["Trust"] == "67"
    assert shown["Days since last interaction"] == "3"
    assert shown["As the customer sees it"] == "3.0 · Value added"  # both answered level 3
    assert shown["As the account manager sees it"] == "not set"
    assert "No quarter has 5 or more responses" in at.info[0].value


def test_another_account_can_be_picked(db, acme):
    at = open_page(db)
    globex = db.exec(select(Account.id).where(Account.name == "Globex")).one()
    at.selectbox(key="account").set_value(globex).run()
    assert list(at.dataframe[1].value["Email"]) == ["gus@globex.example"]
    assert metrics(at)["Trust"] == "0"


def test_saving_the_manager_level_persists(db, acme):
    at = open_page(db)
    at.selectbox(key=f"manager_level_{acme}").set_value(4)
    at.button(key=f"save_manager_level_{acme}").click().run()
    assert not at.exception
    assert "Total cost of ownership" in at.success[0].value
    assert metrics(at)["As the account manager sees it"] == "4 · Total cost of ownership"
    db.expire_all()
    assert db.get(Account, acme).manager_value_level == 4


def test_the_trend_chart_shows_quarters_with_enough_responses(db, acme):
    # Five answers in 2025-Q2; this quarter's two answers (acme) are too few and are left out.
    when = datetime(2025, 5, 10, 12, tzinfo=UTC)
    for number in range(5):
        respond(db, when + timedelta(days=number), f"p{number}@acme.example", trust=4)
    at = open_page(db)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    trust = next(trace for trace in figure["data"] if trace["name"] == "Trust")
    assert [trace["name"] for trace in figure["data"]][:2] == ["Satisfaction", "Trust"]
    assert trust["x"][0] == "2025-Q2"
    n, low, high = trust["customdata"][0]
    assert n == 5
    # Everyone answered alike: the interval has no width, and is drawn as error bars.
    assert (low, high) == pytest.approx((50.0, 50.0))
    assert values(trust["error_y"]["array"])[0] == pytest.approx(0.0)
    assert values(trust["y"])[0] == pytest.approx(50.0)
