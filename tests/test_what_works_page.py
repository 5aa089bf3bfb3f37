"""What works, through AppTest: the difference-in-differences per action, worded as association."""

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account
from survey.accounts.actions import record_action
from tests.factories import answers_at, respond, team_app


def book(db) -> None:
    """Two accounts had a business review 150 days ago and their commitment rose from 4 to 6;
    three similar accounts without one stayed at 4 (all in one segment)."""
    now = datetime.now(UTC)
    review = now - timedelta(days=150)
    for name in ("Acme", "Bolt", "Cove", "Dune", "Edge"):
        treated = name in ("Acme", "Bolt")
        respond(db, review - timedelta(days=30), answers_at({"commitment": 4}), account=name,
                email=f"a@{name.lower()}.example")  # fmt: skip
        after = 6 if treated else 4
        respond(db, review + timedelta(days=30), answers_at({"commitment": after}), account=name,
                email=f"b@{name.lower()}.example")  # fmt: skip
        later = answers_at({"commitment": after + (1 if name == "Acme" else 0)})
        respond(db, review + timedelta(days=31), later, account=name, email=f"c@{name.lower()}.example")
    for account in db.exec(select(Account)).all():
        account.segment = "Manufacturing"
        account.owner = "maria" if account.name != "Bolt" else "tom"
        db.add(account)
        if account.name in ("Acme", "Bolt"):
            record_action(db, account_id=account.id, kind="business_review", occurred_on=review.date(),
                          owner="maria", recorded_by="test", now=now)  # fmt: skip
    db.commit()


def open_page(db, role="admin", username=None) -> AppTest:
    at = team_app(db, role=role, username=username).run()
    at.switch_page("pages/what_works.py").run()
    assert not at.exception
    return at


def test_without_logged_actions_the_page_says_how_to_log_them(db):
    respond(db, datetime.now(UTC))
    at = open_page(db)
    assert "No action has 91 days of answers" in at.info[0].value


def test_the_review_effect_is_shown_with_interval_and_n_as_an_association(db):
    book(db)
    at = open_page(db)
    assert "association, not proof" in at.warning[0].value
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "After a business review" in figure["layout"]["title"]["text"]
    rows = next(f.value for f in at.dataframe if "Accounts (n)" in f.value.columns)
    commitment = rows[(rows["Action"] == "Business review") & (rows["Indicator"] == "Commitment")].iloc[0]
    # Acme rose 4 -> 6.5 (+41.7 points), Bolt 4 -> 6 (+33.3); the controls did not move.
    assert commitment["Difference (points)"] == 37.5
    assert commitment["Accounts (n)"] == 2
    # Six effects have an interval: the one over all of them is wider than the uncorrected one.
    assert commitment["Low, all comparisons"] < commitment["Uncorrected 95% low"]
    assert commitment["High, all comparisons"] > commitment["Uncorrected 95% high"]
    assert commitment["p (Holm)"] >= commitment["p (uncorrected)"]
    assert any("Corrected over the 6 effects with an interval" in c.value for c in at.caption)
    assert [trace["name"] for trace in figure["data"]] == [
        "interval over all 6 comparisons (Bonferroni)",
        "95% interval, uncorrected",
    ]
    sentences = [t.value for t in at.text]
    assert any(s.startswith("Commitment:") or s.startswith("Commitment rose") for s in sentences)


def test_a_manager_sees_only_the_actions_of_their_accounts(db):
    book(db)
    at = open_page(db, role="manager", username="maria")
    rows = next(f.value for f in at.dataframe if "Accounts (n)" in f.value.columns)
    commitment = rows[(rows["Action"] == "Business review") & (rows["Indicator"] == "Commitment")].iloc[0]
    assert commitment["Accounts (n)"] == 1  # Bolt is tom's
    assert any("one account so far" in t.value for t in at.text)
