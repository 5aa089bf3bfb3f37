"""The loyalty, timeline and what-predicts-what pages, through AppTest."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, Interaction, Touchpoint, TransactionMeasure
from survey.accounts.timeline import EACH_EVENT_LIMIT
from tests.factories import answers_at, respond, team_app
from tests.test_predictors import Q2, Q3, commitment_of, measure, sales_after


def open_page(db, page: str) -> AppTest:
    at = team_app(db, timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def behaviour(db) -> None:
    for name, segment, sales, volume in [
        ("Acme Tools", "North", 10, 900.0),
        ("Bolt Works", "North", 8, 800.0),
        ("Cord [Ltd](http://evil.example)", "South", 1, 100.0),
    ]:
        account = Account(name=name, segment=segment)
        db.add(account)
        db.flush()
        db.add(
            TransactionMeasure(
                account_id=account.id, period="2026-Q3", period_start=date(2026, 7, 1),
                period_end=date(2026, 9, 30), sales_transactions=sales, information_requests=sales,
                positive_service_events=sales, referral_sales=0, days_since_purchase=100 - sales,
                days_since_payment=100 - sales, monetary_volume=volume,
            )
        )  # fmt: skip
    db.commit()


def test_loyalty_without_measures_points_to_the_import(db):
    at = open_page(db, "pages/loyalty.py")
    assert "No transactional measures yet" in at.info[0].value


def test_loyalty_lists_likely_loyal_accounts_and_segments_against_the_base(behaviour, db):
    at = open_page(db, "pages/loyalty.py")
    assert metrics(at)["Likely loyal"] == "2 (67%)"
    accounts = at.dataframe[0].value
    assert list(accounts["Account"]) == ["Acme Tools", "Bolt Works", "Cord [Ltd](http://evil.example)"]
    assert list(accounts["Likely loyal"]) == [True, True, False]
    segments = at.dataframe[1].value
    assert list(segments["Segment"]) == ["North", "South", "Whole base"]
    # Each reading carries its interval (or says why there is none) and both n.
    north = segments.set_index("Segment").loc["North"]
    readings = [reading for reading in north.iloc[3:] if reading != "—"]
    assert readings
    assert all(" vs " in reading for reading in readings)
    assert segments.set_index("Segment").loc["Whole base"].iloc[3:].eq("—").all()
    assert "Each segment against the rest of the base" in titles(at)
    at.slider[0].set_value(7).run()  # above average on every measure: referrals are never above
    assert metrics(at)["Likely loyal"] == "0 (0%)"


def test_loyalty_refuses_all_weights_at_zero(behaviour, db):
    at = open_page(db, "pages/loyalty.py")
    for number_input in at.number_input:
        number_input.set_value(0.0)
    at.run()
    assert "At least one weight must be above 0" in at.error[0].value


def test_the_timeline_opens_on_the_account_chosen_on_the_account_page(db):
    when = datetime.now(UTC) - timedelta(days=30)
    respond(db, when, answers_at({"commitment": 6}), account="Acme Tools", touchpoint="marketing")
    respond(
        db, when + timedelta(days=10), account="Acme Tools", touchpoint="purchase", email="b@acme.example"
    )
    respond(db, when + timedelta(days=15), account="Acme Tools", touchpoint="service", email="c@acme.example")
    respond(db, when, account="Globex", email="g@globex.example")
    at = open_page(db, "pages/account.py")
    globex = db.exec(select(Account.id).where(Account.name == "Globex")).one()
    acme = db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    assert at.selectbox(key="account").value == acme
    at.switch_page("pages/timeline.py").run()
    assert not at.exception
    assert at.selectbox(key="timeline_pick").value == acme
    shown = metrics(at)
    assert shown["Interactions · surveys"] == "3 · 3"
    assert shown["First marketing contact to sale"] == "10 days"
    assert shown["Sale to first service event"] == "5 days"
    assert titles(at) == ["What happened and how Acme Tools felt, step by step"]
    at.selectbox(key="timeline_pick").set_value(globex).run()
    assert metrics(at)["First marketing contact to sale"] == "—"


def add_linked(db) -> None:
    for number in range(24):
        name = f"Account {number:02d}"
        respond(db, datetime(2026, 5, 10, tzinfo=UTC), answers_at({"commitment": commitment_of(number)}),
                account=name, email=f"p{number}@x.example")  # fmt: skip
        account = db.exec(select(Account).where(Account.name == name)).one()
        db.add(measure(account.id, Q2, 5, 500.0))
        db.add(measure(account.id, Q3, sales_after(number), 100.0 * sales_after(number)))
    db.commit()


@pytest.fixture
def linked(db) -> None:
    add_linked(db)


def test_predictors_without_pairs_explain_what_is_needed_and_recompute_on_new_data(db):
    at = open_page(db, "pages/predictors.py")
    assert "Nothing to relate yet" in at.info[0].value
    add_linked(db)
    at.run()
    assert not at.info
    assert any(md.value.startswith("- **Commitment**") for md in at.markdown)


def test_predictors_state_the_link_with_n_and_interval(linked, db):
    at = open_page(db, "pages/predictors.py")
    findings = [md.value for md in at.markdown if md.value.startswith("- **")]
    assert findings[0].startswith("- **Commitment**, all accounts: Accounts with commitment above the median")
    assert "n = 24)" in findings[0]
    assert "95% CI" in findings[0]
    table = at.dataframe[0].value
    assert set(table["n"]) == {24}
    [largest] = [md.value for md in at.markdown if md.value.startswith("Largest link")]
    assert largest.startswith(
        "Largest link with sales transactions at a single touchpoint: **Commitment** after **Delivery** (r = "
    )
    assert "n = 24)" in largest
    # It says it is the maximum of many, and how many.
    # It says how many correlations it was picked from (here the only one with enough data).
    assert "It is the only touchpoint × indicator correlation with enough data." in largest
    assert largest.endswith("Read it as association, not cause.")
    grid, forest = titles(at)
    assert grid == "Sales transactions next quarter: r by touchpoint and indicator"
    assert forest.startswith("Sales transactions next quarter against")
    at.segmented_control(key="outcome").set_value("retained").run()
    assert "No indicator shows a clear link" in at.info[0].value  # every account bought again


def test_a_busy_account_s_timeline_is_drawn_week_by_week_and_lists_every_event(db):
    when = datetime.now(UTC) - timedelta(days=200)
    respond(db, when, account="Acme Tools", touchpoint="service")
    acme = db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    service = db.exec(select(Touchpoint.id).where(Touchpoint.code == "service")).one()
    busy = EACH_EVENT_LIMIT + 50
    db.add_all(
        Interaction(
            account_id=acme, touchpoint_id=service, occurred_at=when + timedelta(hours=4 * n), channel="phone"
        )
        for n in range(busy)
    )
    db.commit()
    at = open_page(db, "pages/timeline.py")
    assert titles(at) == ["What happened and how Acme Tools felt, week by week"]
    # The survey adds its interaction and its result to the busy account's interactions.
    assert metrics(at)["Interactions · surveys"] == f"{busy + 1} · 1"
    assert any(f"{busy + 2:,} events" in caption.value for caption in at.caption)
    assert at.dataframe[1].value.shape[0] == busy + 2  # the table still lists each event
