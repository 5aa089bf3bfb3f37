"""The webhook under concurrent CRM clients: the load benchmark's webhook case, small, against
the real server, and the races it exposed, in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Account, Interaction, Invitation
from survey.api.routes import routes
from survey.collecting.invitations import record_interaction
from survey.operations.drills import fresh_sqlite, servers, webhook
from survey.people.apikeys import create_key


def test_the_webhook_case_stores_every_crm_id_once_with_one_invitation(tmp_path: Path):
    engine = fresh_sqlite(tmp_path, "webhook.db")
    with servers(f"sqlite:///{tmp_path / 'webhook.db'}", 1, tmp_path) as bases:
        outcome = webhook(engine, bases, "webhook", clients=8, rounds=2)
    engine.dispose()
    assert (outcome.sent, outcome.stored, outcome.duplicates, outcome.errors, outcome.lost) == (8, 8, 0, 0, 0)
    assert outcome.problems == []
    assert list(tmp_path.glob("outbox-*/*.eml"))


@pytest.fixture
def api(engine) -> TestClient:
    app = Starlette(routes=routes)
    app.state.engine = engine
    return TestClient(app)


def at_once(api: TestClient, key: str, bodies: list[dict]) -> list[tuple[int, dict]]:
    start = threading.Barrier(len(bodies))
    answers: list[tuple[int, dict]] = []

    def post(body: dict) -> None:
        start.wait()
        answer = api.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {key}"})
        answers.append((answer.status_code, answer.json() if answer.status_code < 500 else {}))

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def body(crm_id: str, email: str) -> dict:
    return {
        "crm_interaction_id": crm_id,
        "account": {"external_id": "ACC-NEW", "name": "Newco"},
        "contact": {"email": email},
        "touchpoint": "delivery",
        "occurred_at": "2026-11-20T09:30:00Z",
    }


def test_interactions_creating_the_same_new_account_at_once_are_all_stored(api, session):
    key = create_key(session, "CRM", now=datetime.now(UTC), scopes=["write:interactions"])
    session.commit()
    answers = at_once(api, key, [body(f"SF-{n}", f"c{n}@newco.example") for n in range(8)])
    assert sorted(status for status, _ in answers) == [201] * 8
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Account)).one() == 1
    assert session.exec(select(func.count()).select_from(Interaction)).one() == 8
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 8


def test_a_contact_with_interactions_arriving_at_once_is_invited_once(api, session):
    key = create_key(session, "CRM", now=datetime.now(UTC), scopes=["write:interactions"])
    session.commit()
    record_interaction(
        session,
        account_name="Newco",
        account_external_id="ACC-NEW",
        contact_email="anna@newco.example",
        touchpoint="delivery",
        now=datetime.now(UTC),
    )
    session.commit()
    answers = at_once(api, key, [body(f"SF-{n}", "anna@newco.example") for n in range(6)])
    assert sorted(status for status, _ in answers) == [201] * 6
    assert sorted(answer["status"] for _, answer in answers) == ["created"] + ["recorded"] * 5
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 1
