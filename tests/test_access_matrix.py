"""Who sees what: every team page against every role, and a manager who tries another
manager's accounts through the page or by forging the request."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, FollowUp
from survey.accounts.profile import AccountError, account_view, set_manager_value_level
from survey.followup.queue import FollowUpError, assign, close
from survey.people.access import restrict_filters
from survey.people.users import scope_of
from survey.reporting.filters import Filters
from tests.factories import full_answers, make_user, respond, team_app

TEAM_PAGES = [
    "directory",
    "sending",
    "invitations",
    "overview",
    "followup",
    "account",
    "dashboard",
    "benchmarks",
    "timeline",
    "loyalty",
    "predictors",
    "export",
    "loop",
    "alerts",
    "my_accounts",
    "what_works",
    "comments",
]
ADMIN_PAGES = {
    "users": "Users",
    "privacy": "Privacy",
    "audit": "Audit log",
    "deliveries": "Deliveries",
    "integrations": "Integrations",
    "touchpoints": "Touchpoints",
    "instrument": "Instrument versions",
}


@pytest.fixture
def books(db) -> dict[str, int]:
    """Acme Tools belongs to maria, Globex to tom; each has five detractors."""
    when = datetime.now(UTC) - timedelta(days=5)
    for account in ("Acme Tools", "Globex"):
        for number in range(5):
            respond(
                db,
                when,
                full_answers() | {"NPS": 2},
                account=account,
                email=f"p{number}@{account[:4]}.example",
            )
    ids = {}
    for account in db.exec(select(Account)).all():
        account.owner = "maria" if account.name == "Acme Tools" else "tom"
        db.add(account)
        ids[account.name] = account.id
    db.commit()
    return ids


def text(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.title, *at.subheader, *at.error, *at.warning, *at.info]
    parts += [*at.expander]
    return "\n".join(str(getattr(p, "value", None) or getattr(p, "label", "")) for p in parts)


def open_page(db, role: str, page: str, username: str | None = None) -> AppTest:
    at = team_app(db, role=role, username=username).run()
    return at.switch_page(f"pages/{page}.py").run()


@pytest.mark.parametrize("role", ["admin", "manager", "analyst"])
@pytest.mark.parametrize("page", TEAM_PAGES)
def test_every_role_opens_every_team_page(db, books, role, page):
    at = open_page(db, role, page, username="maria" if role == "manager" else None)
    assert not at.exception
    assert at.title


@pytest.mark.parametrize("role", ["manager", "analyst"])
@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_only_admins_reach_the_administration_pages(db, books, role, page):
    at = team_app(db, role=role).run()
    with pytest.raises(ValueError, match="Known pages"):
        at.switch_page(f"pages/{page}.py")
    # Even run directly (as Streamlit may on a first request), the page shows nothing.
    at.switch_page("pages/overview.py").run()
    at.switch_page(f"pages/{page}.py").run()
    assert [e.value for e in at.error] == ["Only admins can open this page."]
    assert ADMIN_PAGES[page] not in [t.value for t in at.title]
    assert not at.dataframe
    assert not at.selectbox


@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_admins_reach_the_administration_pages(db, page):
    at = open_page(db, "admin", page)
    assert not at.exception
    assert at.title[0].value == ADMIN_PAGES[page]


@pytest.mark.parametrize("page", [*TEAM_PAGES, *ADMIN_PAGES])
def test_a_page_run_on_its_own_without_sign_in_shows_no_data(db, books, page):
    at = open_page(db, "admin", "overview")
    del at.session_state["user"]
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    assert "Sign in to see this page." in text(at)
    assert "Acme Tools" not in text(at)


def test_a_manager_sees_only_their_accounts_on_every_page(db, books):
    overview = open_page(db, "manager", "overview", username="maria")
    assert set(overview.table[0].value["Account"]) == {"Acme Tools"}

    account = open_page(db, "manager", "account", username="maria")
    assert account.selectbox(key="account").options == ["Acme Tools"]

    queue = open_page(db, "manager", "followup", username="maria")
    labels = [e.label for e in queue.expander]
    # Five response follow-ups, and one for the account: five of its contacts were flagged at once.
    assert len(labels) == 6
    assert all("Acme Tools" in label for label in labels)
    assert sum("Several contacts flagged" in label for label in labels) == 1

    timeline = open_page(db, "manager", "timeline", username="maria")
    assert timeline.selectbox(key="timeline_pick").options == ["Acme Tools"]

    dashboard = open_page(db, "manager", "dashboard", username="maria")
    assert dashboard.multiselect(key="accounts").options == ["Acme Tools"]
    assert "5 responses" in text(dashboard)


def test_a_manager_without_accounts_sees_nothing(db, books):
    assert "You own no accounts yet" in text(open_page(db, "manager", "account", username="newbie"))
    assert "Nothing to show" in text(open_page(db, "manager", "dashboard", username="newbie"))
    assert not open_page(db, "manager", "followup", username="newbie").expander


def test_forged_requests_for_another_managers_account_change_nothing(db, books, now):
    maria = scope_of(db, make_user(db, "maria", "manager"))
    globex = books["Globex"]
    tom_follow_up = db.exec(select(FollowUp).where(FollowUp.account_id == globex)).first()
    with pytest.raises(FollowUpError, match="there is no follow-up"):
        assign(db, tom_follow_up.id, "maria", now, scope=maria)
    with pytest.raises(FollowUpError, match="there is no follow-up"):
        close(db, tom_follow_up.id, "done", now, scope=maria)
    with pytest.raises(AccountError, match="there is no account"):
        account_view(db, globex, now, scope=maria)
    with pytest.raises(AccountError, match="there is no account"):
        set_manager_value_level(db, globex, 4, scope=maria)
    db.rollback()
    assert db.get(FollowUp, tom_follow_up.id).status == "open"
    assert db.get(Account, globex).manager_value_level is None
    assert restrict_filters(Filters(account_ids=(globex,)), maria) is None
    assert restrict_filters(Filters(), maria).account_ids == (books["Acme Tools"],)


def test_a_forged_account_choice_on_the_page_shows_nothing_of_it(db, books):
    at = team_app(db, role="manager", username="maria").run()
    at.switch_page("pages/account.py")
    at.session_state["account"] = books["Globex"]
    at.run()
    assert "Globex" not in text(at)


def test_an_analyst_reads_but_cannot_change_anything(db, books):
    queue = open_page(db, "analyst", "followup")
    assert queue.expander
    assert not [b for b in queue.button if b.label in ("Assign", "Close", "Add note")]
    account = open_page(db, "analyst", "account")
    assert account.button(key=f"save_manager_level_{books['Acme Tools']}").disabled
    for page in ("benchmarks", "loyalty"):
        assert not open_page(db, "analyst", page).get("file_uploader")
