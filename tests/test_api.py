"""The HTTP API as a CRM calls it (Starlette's TestClient, SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Account, Contact, Interaction, Invitation
from survey.api.routes import routes
from survey.collecting.invitations import LinkState, check_link
from survey.people.apikeys import SCOPES, create_key, revoke_key
from tests.factories import respond

BODY = {
    "crm_interaction_id": "SF-0001",
    "account": {"external_id": "ACC-7", "name": "Acme Tools"},
    "contact": {
        "email": "Anna@Acme.example",
        "name": "Anna Berg",
        "role": "decision_maker",
        "language": "de",
    },
    "touchpoint": "delivery",
    "occurred_at": "2026-11-20T09:30:00Z",
}


@pytest.fixture
def api(engine) -> TestClient:
    app = Starlette(routes=routes)
    app.state.engine = engine
    return TestClient(app)


@pytest.fixture
def key(session) -> str:
    created = create_key(session, "Salesforce", now=datetime.now(UTC), scopes=SCOPES)
    session.commit()
    return created


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def counts(session: Session) -> tuple[int, int, int, int]:
    session.expire_all()
    return tuple(
        session.exec(select(func.count()).select_from(table)).one()
        for table in (Account, Contact, Interaction, Invitation)
    )


def test_health_answers_when_the_database_does(api):
    assert api.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer rp_wrong", "Basic abc", "Bearer "])
def test_a_missing_or_wrong_key_gets_401_and_changes_nothing(api, session, key, header):
    headers = {"Authorization": header} if header else {}
    answer = api.post("/api/v1/interactions", json=BODY, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert counts(session) == (0, 0, 0, 0)
    assert api.get("/api/v1/responses", headers=headers).status_code == 401


def test_a_revoked_key_stops_working(api, session, key):
    revoke_key(session, "Salesforce", now=datetime.now(UTC))
    session.commit()
    assert api.post("/api/v1/interactions", json=BODY, headers=auth(key)).status_code == 401


def test_an_interaction_is_recorded_and_its_link_works(api, session, key):
    answer = api.post("/api/v1/interactions", json=BODY, headers=auth(key))
    assert answer.status_code == 201
    created = answer.json()
    token = created["link"].split("?t=", 1)[1]
    assert check_link(session, token, datetime.now(UTC)).state == LinkState.VALID
    interaction = session.get(Interaction, created["interaction_id"])
    assert interaction.external_id == "SF-0001"
    assert interaction.occurred_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    account = session.get(Account, interaction.account_id)
    assert (account.name, account.external_id) == ("Acme Tools", "ACC-7")
    contact = session.get(Contact, interaction.contact_id)
    assert (contact.email, contact.role, contact.language) == ("anna@acme.example", "decision_maker", "de")


def test_a_replayed_crm_id_answers_200_with_the_same_invitation_and_creates_nothing(api, session, key):
    first = api.post("/api/v1/interactions", json=BODY, headers=auth(key)).json()
    before = counts(session)
    again = api.post("/api/v1/interactions", json=BODY | {"touchpoint": "renewal"}, headers=auth(key))
    assert again.status_code == 200
    assert again.json()["invitation_id"] == first["invitation_id"]
    assert again.json()["link"] is None  # shown once: only the link's hash is stored
    assert counts(session) == before


def test_the_crm_id_raced_from_sixteen_clients_is_stored_once(api, session, key):
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda _: api.post("/api/v1/interactions", json=BODY, headers=auth(key)), range(16))
        )
    assert sorted(a.status_code for a in answers) == [200] * 15 + [201]
    assert len({a.json()["invitation_id"] for a in answers}) == 1
    assert counts(session) == (1, 1, 1, 1)


def test_a_renamed_account_is_found_by_its_crm_id(api, session, key):
    api.post("/api/v1/interactions", json=BODY, headers=auth(key))
    renamed = BODY | {
        "crm_interaction_id": "SF-0002",
        "account": {"external_id": "ACC-7", "name": "Acme Tools AG"},
    }
    assert api.post("/api/v1/interactions", json=renamed, headers=auth(key)).status_code == 201
    assert counts(session)[0] == 1


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"crm_interaction_id": ""}, {"crm_interaction_id"}),
        ({"contact": {"email": "not-an-email"}}, {"contact.email"}),
        (
            {"contact": {"email": "a@b.example", "role": "boss", "language": "fr"}},
            {"contact.role", "contact.language"},
        ),
        ({"occurred_at": "yesterday", "touchpoint": ""}, {"occurred_at", "touchpoint"}),
        ({"occurred_at": "2026-11-20T09:30:00"}, {"occurred_at"}),
        ({"touchpoint": "telepathy"}, {"touchpoint"}),
        ({"account": {"name": ""}}, {"account.name"}),
        ({"surprise": 1}, {"surprise"}),
    ],
)
def test_a_bad_body_gets_422_naming_each_bad_field_and_changes_nothing(api, session, key, change, fields):
    answer = api.post("/api/v1/interactions", json=BODY | change, headers=auth(key))
    assert answer.status_code == 422
    assert {p["field"] for p in answer.json()["problems"]} == fields
    assert counts(session) == (0, 0, 0, 0)


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b"x" * 70_000])
def test_a_body_that_is_not_an_object_is_refused(api, session, key, body):
    answer = api.post("/api/v1/interactions", content=body, headers=auth(key))
    assert answer.status_code in (413, 422)
    assert "error" in answer.json()
    assert counts(session) == (0, 0, 0, 0)


def test_responses_are_pulled_page_by_page_and_then_only_new_ones(api, session, key):
    when = datetime(2026, 11, 1, tzinfo=UTC)
    for number in range(3):
        respond(session, when, email=f"p{number}@acme.example")
    first = api.get("/api/v1/responses?limit=2", headers=auth(key)).json()
    assert (len(first["rows"]), first["has_more"]) == (2, True)
    rest = api.get(f"/api/v1/responses?limit=2&cursor={first['next_cursor']}", headers=auth(key)).json()
    assert (len(rest["rows"]), rest["has_more"]) == (1, False)
    respond(session, when, email="late@acme.example")
    new = api.get(f"/api/v1/responses?cursor={rest['next_cursor']}", headers=auth(key)).json()
    assert [row["contact_email"] for row in new["rows"]] == ["late@acme.example"]
    assert api.get("/api/v1/responses?cursor=garbage", headers=auth(key)).status_code == 400
    assert api.get("/api/v1/responses?limit=lots", headers=auth(key)).status_code == 422


def test_a_contact_surveyed_recently_is_recorded_but_not_invited_again(api, session, key):
    api.post("/api/v1/interactions", json=BODY, headers=auth(key))
    second = api.post(
        "/api/v1/interactions", json=BODY | {"crm_interaction_id": "SF-0002"}, headers=auth(key)
    )
    assert second.status_code == 201
    assert (second.json()["invitation_id"], second.json()["link"]) == (None, None)
    assert "rest period" in second.json()["not_invited"]
    assert counts(session) == (1, 1, 2, 1)
    replay = api.post(
        "/api/v1/interactions", json=BODY | {"crm_interaction_id": "SF-0002"}, headers=auth(key)
    )
    assert (replay.status_code, replay.json()["invitation_id"]) == (200, None)
