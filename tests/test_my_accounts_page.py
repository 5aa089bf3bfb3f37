"""My accounts, through AppTest: ranked worst first, each row saying why, a manager's own only."""

import gc
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, FollowUp, TransactionMeasure
from survey.accounts.health import AccountHealth, account_health, health_frame
from survey.accounts.values import disagreements, disagreements_among
from survey.exports.frames import frame_csv
from survey.people.access import owner_scope
from survey.reporting import cache
from tests.factories import answers_at, respond, team_app

ALL = ("satisfaction", "trust", "control_mutuality", "commitment", "mindset", "word_of_mouth")


def book(db) -> None:
    """Acme (maria's) fell from 7 to 2 on every indicator; Globex (maria's) and Initech (tom's) hold."""
    now = datetime.now(UTC)
    for number in range(4):
        respond(db, now - timedelta(days=200 + number), answers_at(dict.fromkeys(ALL, 7)),
                email=f"old{number}@acme.example")  # fmt: skip
        respond(db, now - timedelta(days=10 + number), answers_at(dict.fromkeys(ALL, 2), NPS=8),
                email=f"new{number}@acme.example")  # fmt: skip
        for account in ("Globex", "Initech"):
            for days in (200, 10):
                respond(db, now - timedelta(days=days + number), answers_at(dict.fromkeys(ALL, 6), NPS=9),
                        account=account, email=f"p{number}.{days}@{account.lower()}.example")  # fmt: skip
    for account in db.exec(select(Account)).all():
        account.owner = "tom" if account.name == "Initech" else "maria"
        db.add(account)
    db.commit()


def open_page(db, role="manager", username="maria") -> AppTest:
    at = team_app(db, role=role, username=username).run()
    at.switch_page("pages/my_accounts.py").run()
    assert not at.exception
    return at


def table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "Health" in frame.value.columns)


def test_a_manager_sees_their_accounts_worst_first_with_the_reason(db):
    book(db)
    at = open_page(db)
    assert at.title[0].value == "My accounts"
    rows = table(at)
    assert list(rows["Account"]) == ["Acme Tools", "Globex"]  # Initech is tom's
    assert rows["Health"].iloc[0] < rows["Health"].iloc[1]
    reasons = rows["What pulls it down"].iloc[0]
    assert "Fell 83 points against its own baseline — beyond its uncertainty" in reasons
    first_card = at.metric[0]
    assert first_card.label == "Acme Tools"
    assert any("Fell 83 points" in m.value for m in at.markdown)


def test_filters_and_sorting_change_the_table(db):
    book(db)
    at = open_page(db)
    at.toggle(key="ma_declining").set_value(True).run()
    assert list(table(at)["Account"]) == ["Acme Tools"]
    at.toggle(key="ma_declining").set_value(False)
    at.text_input(key="ma_search").input("glob").run()
    assert list(table(at)["Account"]) == ["Globex"]
    at.text_input(key="ma_search").input("").run()
    at.selectbox(key="ma_sort").set_value("Account")
    at.toggle(key="ma_desc").set_value(True).run()
    assert list(table(at)["Account"]) == ["Globex", "Acme Tools"]


def test_an_rfm_segment_lists_only_its_accounts(db):
    book(db)
    # Against this base of three: Acme buys most (Champions), Globex between (Loyal), Initech least.
    for name, days, sales, volume in (("Acme Tools", 3, 40, 90_000.0), ("Globex", 30, 10, 20_000.0),
                                      ("Initech", 300, 1, 100.0)):  # fmt: skip
        account = db.exec(select(Account).where(Account.name == name)).one()
        db.add(
            TransactionMeasure(
                account_id=account.id, period="2026-Q1", period_start=date(2026, 1, 1),
                period_end=date(2026, 3, 31), sales_transactions=sales, information_requests=0,
                positive_service_events=0, referral_sales=0, days_since_purchase=days,
                days_since_payment=days, monetary_volume=volume,
            )
        )  # fmt: skip
    db.commit()
    at = open_page(db)
    at.multiselect(key="ma_rfm").set_value(["Loyal"]).run()
    assert list(table(at)["Account"]) == ["Globex"]
    at.multiselect(key="ma_rfm").set_value(["Champions", "Loyal"]).run()
    assert set(table(at)["Account"]) == {"Acme Tools", "Globex"}
    # Initech is Hibernating but tom's: maria sees no account in that segment.
    at.multiselect(key="ma_rfm").set_value(["Hibernating"]).run()
    assert any(i.value == "No account matches these filters." for i in at.info)


def test_the_check_opens_one_decline_follow_up_and_not_twice(db):
    book(db)
    at = open_page(db)
    at.button(key="ma_check").click().run()
    assert "account follow-up(s) opened" in at.success[0].value
    at.button(key="ma_check").click().run()
    assert at.success[0].value == "No new account warnings."
    reasons = db.exec(select(FollowUp.reasons).where(FollowUp.kind == "account")).all()
    assert reasons.count("decline") == 1


def test_an_analyst_sees_every_account_but_runs_no_check(db):
    book(db)
    at = open_page(db, role="analyst", username="ann")
    assert at.title[0].value == "Accounts by health"
    assert set(table(at)["Account"]) == {"Acme Tools", "Globex", "Initech"}
    assert not [b for b in at.button if b.label == "Check for account warnings now"]


def test_the_export_is_the_table_with_formulas_defused(db):
    book(db)
    globex = db.exec(select(Account).where(Account.name == "Globex")).one()
    globex.name = "=cmd|' /C calc'!A0"
    db.add(globex)
    db.commit()
    rows = account_health(db, datetime.now(UTC))
    csv = frame_csv(health_frame(rows)).decode("utf-8-sig")
    assert "'=cmd" in csv
    assert csv.splitlines()[0].startswith("Account,Health,What pulls it down")


def test_a_manager_without_accounts_is_told_so(db):
    at = open_page(db, username="newbie")
    assert "You own no accounts yet." in at.info[0].value


def test_value_level_disagreements_are_listed(db):
    book(db)
    acme = db.exec(select(Account).where(Account.name == "Acme Tools")).one()
    acme.manager_value_level = 0  # the customers answered level 3 (the factory's answers)
    db.add(acme)
    db.commit()
    at = open_page(db)
    gaps = next(f.value for f in at.dataframe if "Gap (levels)" in f.value.columns)
    assert list(gaps["Account"]) == ["Acme Tools"]
    assert list(gaps["Gap (levels)"]) == [-3]
    assert list(gaps["Customer"]) == ["3 · Value added"]


def queries(db, call) -> int:
    """How many statements ``call`` sends to the database."""
    sent = []
    engine = db.get_bind()

    def count(*_args) -> None:
        sent.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_the_page_reads_as_many_queries_for_twenty_accounts_as_for_two(db):
    book(db)
    now = datetime.now(UTC)

    def page() -> None:
        cache.clear()  # both counts from a first open: a kept read takes in new answers in fewer
        scope = owner_scope(db, "maria")
        disagreements_among(db, account_health(db, now, scope))

    for account in db.exec(select(Account)).all():
        account.manager_value_level = 4
        db.add(account)
    db.commit()
    few = queries(db, page)
    assert len(account_health(db, now, owner_scope(db, "maria"))) == 2
    for number in range(18):
        respond(db, now - timedelta(days=5), answers_at(dict.fromkeys(ALL, 5), VALUE_LEVEL=1),
                account=f"Extra {number:02}", email=f"x@extra{number}.example")  # fmt: skip
    for account in db.exec(select(Account).where(Account.name.startswith("Extra"))).all():
        account.owner, account.manager_value_level = "maria", 4
        db.add(account)
    db.commit()
    assert len(account_health(db, now, owner_scope(db, "maria"))) == 20
    assert len(disagreements(db, now, owner_scope(db, "maria"))) >= 18
    assert queries(db, page) == few


def test_disagreements_follow_the_filters(db):
    book(db)
    for account in db.exec(select(Account)).all():
        account.manager_value_level = 0  # every customer answered level 3 (the factory's answers)
        db.add(account)
    db.commit()
    at = open_page(db)
    gaps = next(f.value for f in at.dataframe if "Gap (levels)" in f.value.columns)
    assert list(gaps["Account"]) == ["Acme Tools", "Globex"]  # Initech is tom's
    at.text_input(key="ma_search").input("glob").run()
    gaps = next(f.value for f in at.dataframe if "Gap (levels)" in f.value.columns)
    assert list(gaps["Account"]) == ["Globex"]
    assert list(at.selectbox(key="ma_open").options) == ["Globex"]


def test_a_long_book_shows_its_largest_gaps_and_offers_the_first_accounts_to_open(db):
    now = datetime.now(UTC)
    for number in range(205):
        level = 4 if number < 3 else 2
        respond(db, now - timedelta(days=3), answers_at(dict.fromkeys(ALL, 6), VALUE_LEVEL=level),
                account=f"Book {number:03}", email=f"c@book{number}.example")  # fmt: skip
    for account in db.exec(select(Account)).all():
        account.owner, account.manager_value_level = "maria", 0
        db.add(account)
    db.commit()
    at = open_page(db)
    assert len(table(at)) == 205  # the ranking itself is whole
    gaps = next(f.value for f in at.dataframe if "Gap (levels)" in f.value.columns)
    assert len(gaps) == 200
    assert list(gaps["Account"][:3]) == ["Book 000", "Book 001", "Book 002"]  # four levels apart
    assert any("the 200 largest of 205" in caption.value for caption in at.caption)
    assert [b.proto.label for b in at.get("download_button")][-1] == "Download all 205 (CSV)"
    picker = at.selectbox(key="ma_open")
    assert len(picker.options) == 200
    at.text_input(key="ma_search").input("Book 204").run()
    assert list(at.selectbox(key="ma_open").options) == ["Book 204"]
    at.button(key="ma_go").click().run()
    assert not at.exception
    assert at.session_state["account"] == db.exec(select(Account.id).where(Account.name == "Book 204")).one()


def test_no_ranked_row_outlives_the_open(db):
    """The check's callback keeps the page script's globals for the session's life: the ranking
    must not be among them, or every open session would hold its thousands of rows."""
    book(db)
    at = open_page(db)
    at.text_input(key="ma_search").input("a").run()  # a second run, as a user's next click
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, AccountHealth)] == []
