"""The account page, through AppTest."""

import base64
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, Contact
from survey.collecting.responses import submit
from survey.instrument.definition import load_instrument
from tests.factories import drawn_figures, full_answers, make_invitation, team_app

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
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
        if "shape" in array:  # a table, such as a hover's data
            flat = flat.reshape([int(size) for size in str(array["shape"]).split(",")])
        return flat.tolist()
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
    assert shown["As the customer sees it"] == "3 · Value added"  # both answered level 3
    assert shown["As the account manager sees it"] == "not set"
    assert "No quarter has 5 or more responses from 5 or more different people" in at.info[0].value


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
    figure = drawn_figures(at)[0]
    trust = next(trace for trace in figure["data"] if trace["name"] == "Trust")
    assert [trace["name"] for trace in figure["data"]][:2] == ["Satisfaction", "Trust"]
    assert trust["x"][0] == "2025-Q2"
    n, low, high, n_eff = values(trust["customdata"])[0]
    assert n == n_eff == 5  # five people, once each
    # Everyone answered alike: the interval has no width, and is drawn as error bars.
    assert (low, high) == pytest.approx((50.0, 50.0))
    assert values(trust["error_y"]["array"])[0] == pytest.approx(0.0)
    assert values(trust["y"])[0] == pytest.approx(50.0)


# --- People, value-level history and the action log -------------------------------------------


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has ``column``."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def test_people_in_the_account_show_each_contacts_strength(db, acme):
    at = open_page(db)
    people = table_with(at, "Strength (0-100)")
    assert list(people["Name"]) == ["Ana Lima", "Cy Young", "Ben [Okafor](http://evil.example)"]
    assert list(people["Status"]) == ["steady", "never answered", "steady"]
    assert people["Strength (0-100)"].iloc[1] is None or pd.isna(people["Strength (0-100)"].iloc[1])


def test_the_managers_level_is_kept_with_its_author_in_the_history(db, acme):
    at = open_page(db)
    for level in (2, 4):
        at.selectbox(key=f"manager_level_{acme}").set_value(level)
        at.button(key=f"save_manager_level_{acme}").click().run()
    history = table_with(at, "Account manager's level")
    assert list(history["Account manager's level"]) == [
        "4 · Total cost of ownership",
        "2 · Features & benefits",
    ]
    assert list(history["By"]) == ["admin", "admin"]


def test_an_action_is_logged_from_the_account_page(db, acme):
    at = open_page(db)
    assert "No actions logged for this account yet." in [i.value for i in at.info]
    at.selectbox(key="action_kind").set_value("business_review")
    at.text_area(key="action_note").input("QBR: <b>renewal</b> plans")
    at.button[[b.label for b in at.button].index("Log action")].click().run()
    assert not at.exception
    assert "Recorded: Business review" in at.success[0].value
    table = table_with(at, "Action")
    assert list(table["Action"]) == ["Business review"]
    assert list(table["Note"]) == ["QBR: <b>renewal</b> plans"]
    assert list(table["Owner"]) == ["admin"]


def test_a_bad_action_is_named_and_records_nothing(db, acme):
    from models.tables import AccountAction

    at = open_page(db)
    at.text_input(key="action_owner").input("   ")
    at.button[[b.label for b in at.button].index("Log action")].click().run()
    assert "the owner is empty. Nothing was recorded." in at.error[0].value
    assert db.exec(select(AccountAction)).all() == []


def test_an_analyst_cannot_log_actions(db, acme):
    at = team_app(db, role="analyst").run()
    at.switch_page("pages/account.py").run()
    assert "Log action" not in [b.label for b in at.button]
