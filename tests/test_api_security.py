"""The HTTP API as an attacker meets it: bodies are never read before the key is checked nor
past the cap, wrong keys are counted in the database and audited, keys only do what their
scopes allow, odd input is a 4xx, and text a mail cannot carry is refused before anything
is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.db import make_engine
from models.tables import Account, AuditEvent, Contact, Interaction, Invitation
from survey.api.routes import MAX_BODY, routes
from survey.people.apikeys import READ_RESPONSES, WRITE_INTERACTIONS, create_key
from survey.people.limits import API_KEY_FAILURES

NOW = datetime.now(UTC)
BODY: dict[str, Any] = {
    "crm_interaction_id": "SF-0001",
    "account": {"external_id": "ACC-7", "name": "Acme Tools"},
    "contact": {"email": "anna@acme.example", "name": "Anna Berg", "role": "decision_maker"},
    "touchpoint": "delivery",
    "occurred_at": NOW.isoformat(),
}


def app_on(engine) -> Starlette:
    app = Starlette(routes=routes)
    app.state.engine = engine
    return app


@pytest.fixture
def app(engine) -> Starlette:
    return app_on(engine)


@pytest.fixture
def api(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def key_with(session: Session, *scopes: str, name: str = "CRM") -> dict[str, str]:
    key = create_key(session, name, now=NOW, scopes=scopes)
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def stored(session: Session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(
        session.exec(select(func.count()).select_from(table)).one()
        for table in (Account, Contact, Interaction, Invitation)
    )


def refusals(session: Session) -> int:
    session.expire_all()
    statement = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "api_key_refused")
    return session.exec(statement).one()


# --- Bodies: limited before they are read, and not read at all without a key ---------------------


def post_streamed(
    app: Starlette, headers: dict[str, str], chunks: int, chunk_size: int = 1 << 20
) -> tuple[int, int]:
    """POST ``chunks`` pieces of ``chunk_size`` bytes without a Content-Length, straight through
    ASGI; returns the status and how many pieces the server pulled."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "method": "POST", "path": "/api/v1/interactions", "raw_path": b"/api/v1/interactions",
        "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
        "client": ("203.0.113.9", 5000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, pulled


def test_an_unauthenticated_body_is_not_read_at_all(app, session):
    status, pulled = post_streamed(app, {}, chunks=300)
    assert status == 401
    assert pulled == 0


def test_a_body_past_the_cap_is_given_up_on_at_the_cap(app, session):
    headers = key_with(session, WRITE_INTERACTIONS)
    status, pulled = post_streamed(app, headers, chunks=300)
    assert status == 413
    assert pulled == 1  # one 1 MiB piece is past the 64 KiB cap: nothing more is read
    assert stored(session) == (0, 0, 0, 0)


def test_a_declared_length_past_the_cap_is_refused_before_the_key(api, session):
    answer = api.post(
        "/api/v1/interactions", content=b"{}", headers={"Content-Length": str(300 * 1024 * 1024)}
    )
    assert answer.status_code == 413
    assert refusals(session) == 0  # refused before anything else: not even a key lookup


def test_a_body_just_under_the_cap_is_parsed(api, session):
    headers = key_with(session, WRITE_INTERACTIONS)
    padded = BODY | {"touchpoint": "delivery" + " " * (MAX_BODY - 400)}
    assert api.post("/api/v1/interactions", json=padded, headers=headers).status_code in (201, 422)


# --- Wrong keys: counted across replicas, audited, then refused for a while ------------------------


def test_wrong_keys_lock_the_address_on_every_replica_and_are_audited(engine, db_url, session):
    second_engine = make_engine(db_url)  # another process behind the load balancer
    replicas = [TestClient(app_on(engine)), TestClient(app_on(second_engine))]
    good = key_with(session, READ_RESPONSES)
    for attempt in range(API_KEY_FAILURES):
        answer = replicas[attempt % 2].get(
            "/api/v1/responses", headers={"Authorization": f"Bearer rp_{attempt}"}
        )
        assert answer.status_code == 401
    for replica in replicas:
        locked = replica.get("/api/v1/responses", headers=good)
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1
    assert refusals(session) == API_KEY_FAILURES
    second_engine.dispose()


# --- Scopes -------------------------------------------------------------------------------------


def test_a_write_key_reads_no_responses_and_a_read_key_invites_no_one(api, session):
    writer = key_with(session, WRITE_INTERACTIONS, name="CRM")
    reader = key_with(session, READ_RESPONSES, name="BI")
    assert api.get("/api/v1/responses", headers=writer).status_code == 403
    refused = api.post("/api/v1/interactions", json=BODY, headers=reader)
    assert refused.status_code == 403
    assert "write:interactions" in refused.json()["error"]
    assert stored(session) == (0, 0, 0, 0)
    assert api.post("/api/v1/interactions", json=BODY, headers=writer).status_code == 201
    assert api.get("/api/v1/responses", headers=reader).status_code == 200


# --- Text that goes into a mail header --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Acme\r\nBcc: x@evil.example", "Acme\nTools", "Ac\x85me", "Ac\u2028me", "Ac\x00me"]
)
def test_a_line_break_in_an_account_name_is_a_422_and_the_id_stays_free(api, session, name):
    headers = key_with(session, WRITE_INTERACTIONS)
    answer = api.post("/api/v1/interactions", json=BODY | {"account": {"name": name}}, headers=headers)
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["account.name"]
    assert stored(session) == (0, 0, 0, 0)
    again = api.post("/api/v1/interactions", json=BODY, headers=headers)
    assert again.status_code == 201
    assert again.json()["link"]


@pytest.mark.parametrize(
    "email",
    [
        "victim,second@evil.example",
        "a@b.example, c@d.example",
        "<a@b.example>",
        "a@b.example\r\nBcc: c@d.example",
    ],
)
def test_an_email_must_be_one_address(api, session, email):
    headers = key_with(session, WRITE_INTERACTIONS)
    contact = BODY["contact"] | {"email": email}
    answer = api.post("/api/v1/interactions", json=BODY | {"contact": contact}, headers=headers)
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["contact.email"]
    assert stored(session) == (0, 0, 0, 0)


def test_a_mail_that_cannot_be_built_leaves_nothing_stored(api, session, monkeypatch):
    headers = key_with(session, WRITE_INTERACTIONS)

    def broken(*_: Any, **__: Any) -> None:
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setattr("survey.sending.delivery.compose", broken)
    assert api.post("/api/v1/interactions", json=BODY, headers=headers).status_code == 500
    assert stored(session) == (0, 0, 0, 0)


def test_the_mail_goes_to_exactly_one_recipient(api, session, tmp_path: Path):
    headers = key_with(session, WRITE_INTERACTIONS)
    assert api.post("/api/v1/interactions", json=BODY, headers=headers).status_code == 201
    [eml] = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes())
    assert message.get_all("To") == ["anna@acme.example"]
    assert "\n" not in message["Subject"]


# --- Odd input is a clear 4xx, never a 500 -----------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "1999-12-31T23:00:00Z"])
def test_implausible_interaction_times_are_refused(api, session, when):
    headers = key_with(session, WRITE_INTERACTIONS)
    answer = api.post("/api/v1/interactions", json=BODY | {"occurred_at": when}, headers=headers)
    assert answer.status_code == 422
    assert [p["field"] for p in answer.json()["problems"]] == ["occurred_at"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("cursor=" + "1" * 30, 400),
        ("cursor=" + __import__("base64").urlsafe_b64encode(b"r1:" + b"9" * 30).decode(), 400),
        ("account=%C2%B2", 422),
        ("account=abc", 422),
        ("start=0001-01", 400),
        ("end=9999-12", 400),
        ("limit=0", 422),
        ("limit=99999999999999999999", 422),
        ("acount=7", 422),
    ],
)
def test_odd_queries_are_refused_with_a_reason(api, session, query, status):
    headers = key_with(session, READ_RESPONSES)
    answer = api.get(f"/api/v1/responses?{query}", headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]


def test_a_crm_file_with_a_line_break_in_a_name_is_refused_by_row_and_stores_nothing(session):
    from survey.imports.crm import guess_mapping, parse
    from survey.imports.tabular import TableImportError, header_of

    data = (
        "crm_interaction_id,account_name,contact_email,touchpoint,occurred_at\n"
        f"C-1,Acme Tools,anna@acme.example,delivery,{NOW:%Y-%m-%d}\n"
        f'C-2,"Bolt\r\nWorks",bo@bolt.example,delivery,{NOW:%Y-%m-%d}\n'
        f"C-3,Cyan\u2028Co,victim,second@cyan.example,delivery,{NOW:%Y-%m-%d}\n"
    ).encode()
    with pytest.raises(TableImportError) as refused:
        parse(session, data, guess_mapping(header_of(data)))
    problems = [(p.row, p.column) for p in refused.value.problems]
    assert (3, "account_name") in problems
    assert (4, "row") in problems or (4, "account_name") in problems
    session.rollback()
    assert stored(session) == (0, 0, 0, 0)
