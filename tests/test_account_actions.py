"""The action log from the domain, the command line and the HTTP API (SQLite and PostgreSQL)."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.db import make_engine
from models.tables import Account, AccountAction, FollowUp
from survey.accounts.actions import ActionError, closed_follow_ups, list_actions, record_action
from survey.api.routes import routes
from survey.followup.queue import close
from survey.people.access import Scope
from survey.people.apikeys import SCOPES, create_key
from tests.factories import full_answers, respond

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def acme(session, now) -> int:
    respond(session, now - timedelta(days=5), full_answers() | {"NPS": 2})
    respond(session, now - timedelta(days=5), account="Globex", email="gus@globex.example")
    return session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()


def add(session, account, now, **changes):
    values = {
        "account_id": account,
        "kind": "business_review",
        "occurred_on": date(2026, 11, 2),
        "owner": "maria",
        "note": "QBR with the plant manager",
        "recorded_by": "maria",
        "now": now,
    } | changes
    return record_action(session, **values)


def count(session) -> int:
    return session.exec(select(func.count()).select_from(AccountAction)).one()


def test_an_action_is_logged_and_listed_newest_first(session, acme, now):
    add(session, acme, now)
    add(session, acme, now, kind="training", occurred_on=date(2026, 11, 10), note="")
    session.commit()
    rows = list_actions(session, account_id=acme)
    assert [(r.label, r.occurred_on, r.owner) for r in rows] == [
        ("Training", date(2026, 11, 10), "maria"),
        ("Business review", date(2026, 11, 2), "maria"),
    ]


def test_an_action_can_answer_a_closed_follow_up_of_the_same_account(session, acme, now):
    follow_up = session.exec(select(FollowUp).where(FollowUp.account_id == acme)).one()
    close(session, follow_up.id, "Met them on site.", now)
    choices = closed_follow_ups(session, acme)
    assert [id_ for id_, _ in choices] == [follow_up.id]
    action = add(session, acme, now, kind="fix_delivered", follow_up_id=follow_up.id)
    assert action.follow_up_id == follow_up.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "party"}, "unknown action type 'party'"),
        ({"occurred_on": date(2026, 12, 1)}, "is in the future"),
        ({"owner": "  "}, "the owner is empty"),
        ({"note": "x" * 2001}, "more than the 2000 allowed"),
        ({"account_id": 999}, "there is no account #999"),
        ({"follow_up_id": 999}, "there is no follow-up #999"),
    ],
)
def test_bad_actions_are_named_and_record_nothing(session, acme, now, changes, message):
    with pytest.raises(ActionError, match=message):
        add(session, acme, now, **changes)
    session.rollback()
    assert count(session) == 0


def test_a_manager_cannot_log_on_another_managers_account(session, acme, now):
    globex = session.exec(select(Account.id).where(Account.name == "Globex")).one()
    maria = Scope.of_accounts([acme])
    with pytest.raises(ActionError, match=f"there is no account #{globex}"):
        add(session, globex, now, scope=maria)
    globex_follow_up = session.exec(select(FollowUp.id).where(FollowUp.account_id == acme)).one()
    with pytest.raises(ActionError, match="belongs to another account"):
        add(session, globex, now, follow_up_id=globex_follow_up)
    assert count(session) == 0
    add(session, acme, now)
    session.commit()
    assert list_actions(session, scope=Scope.of_accounts([globex])) == []


def test_the_api_records_and_lists_actions(engine, session, acme):
    key = create_key(session, "Salesforce", now=datetime.now(UTC), scopes=SCOPES)
    session.commit()
    session.commit()
    app = Starlette(routes=routes)
    app.state.engine = engine
    api = TestClient(app)
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "account": {"name": "Acme Tools"},
        "type": "executive_visit",
        "date": "2026-11-03",
        "owner": "ceo",
    }
    assert api.post("/api/v1/actions", json=body).status_code == 401
    created = api.post("/api/v1/actions", json=body, headers=headers)
    assert created.status_code == 201
    assert created.json() | {"id": 0} == {
        "id": 0,
        "account_id": acme,
        "account": "Acme Tools",
        "type": "executive_visit",
        "date": "2026-11-03",
        "owner": "ceo",
        "note": "",
        "follow_up_id": None,
        "recorded_by": "api",
    }
    bad = api.post("/api/v1/actions", json=body | {"type": "party", "date": "03/11/2026"}, headers=headers)
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"date"}
    unknown = api.post("/api/v1/actions", json=body | {"account": {"name": "Nobody"}}, headers=headers)
    assert unknown.status_code == 422
    assert "no account matches" in unknown.json()["problems"][0]["problem"]
    wrong_type = api.post("/api/v1/actions", json=body | {"type": "party"}, headers=headers)
    assert "unknown action type 'party'" in wrong_type.json()["problems"][0]["problem"]
    listed = api.get(f"/api/v1/actions?account={acme}", headers=headers).json()["actions"]
    assert [a["type"] for a in listed] == ["executive_visit"]
    assert api.get("/api/v1/actions?account=x", headers=headers).status_code == 400
    session.expire_all()
    assert count(session) == 1


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "survey", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_adds_and_lists_actions(sqlite_url, now):
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        respond(session, now, account="Acme Tools")
    added = run("action", "add", "--account", "Acme Tools", "--type", "training", "--date", "2026-11-05",
                "--owner", "maria", "--note", "Portal training", url=sqlite_url)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "recorded action #1: Training at Acme Tools on 2026-11-05" in added.stdout
    bad = run("action", "add", "--account", "Acme Tools", "--type", "training", "--date", "5.11.2026",
              "--owner", "maria", url=sqlite_url)  # fmt: skip
    assert bad.returncode != 0
    assert "is not a day such as 2026-11-20" in bad.stderr
    missing = run("action", "add", "--account", "Nobody", "--type", "training", "--date", "2026-11-05",
                  "--owner", "maria", url=sqlite_url)  # fmt: skip
    assert missing.returncode != 0
    assert "there is no account named 'Nobody'" in missing.stderr
    listed = run("action", "list", "--account", "Acme Tools", url=sqlite_url)
    assert "2026-11-05 Acme Tools: Training by maria — Portal training" in listed.stdout
    checked = run("check-accounts", url=sqlite_url)
    assert checked.returncode == 0
    assert "account follow-up(s) opened" in checked.stdout
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(AccountAction)).one() == 1
    engine.dispose()
