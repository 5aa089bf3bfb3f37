"""Hostile and malformed input at the entry points: a clear refusal, never a crash, and a
database left byte for byte as it was (SQLite dumps compared)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.db import make_engine
from survey.api.routes import routes
from survey.collecting.invitations import LinkState, check_link
from survey.collecting.responses import AnswerError, submit
from survey.people.apikeys import SCOPES, create_key
from tests.factories import full_answers, make_invitation

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)


def dump(url: str) -> list[str]:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        # A call with a valid key notes the key's last use: the one write a refused call makes.
        return [line for line in connection.iterdump() if not line.startswith('INSERT INTO "api_key"')]
    finally:
        connection.close()


@pytest.fixture
def api(sqlite_url):
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        key = create_key(session, "fuzz", now=NOW, scopes=SCOPES)
        session.commit()
    app = Starlette(routes=routes)
    app.state.engine = engine
    return TestClient(app), {"Authorization": f"Bearer {key}"}, sqlite_url


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["crm_interaction_id", "account", "contact", "touchpoint",
                                             "occurred_at", "extra"]), json_values))  # fmt: skip
def test_webhook_bodies_are_refused_with_named_fields_and_change_nothing(api, body):
    client, headers, url = api
    before = dump(url)
    answer = client.post("/api/v1/interactions", json=body, headers=headers)
    assert answer.status_code in (201, 422), answer.text
    if answer.status_code == 422:
        assert all(problem["field"] for problem in answer.json()["problems"])
        assert dump(url) == before


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_raw_bytes_at_the_webhook_never_crash_it(api, raw):
    client, headers, url = api
    before = dump(url)
    answer = client.post("/api/v1/interactions", content=raw, headers=headers)
    assert answer.status_code in (413, 422)
    assert dump(url) == before


@FUZZ
@given(token=st.text(max_size=120))
def test_forged_or_truncated_tokens_are_refused_without_writing(sqlite_url, token):
    engine = make_engine(sqlite_url)
    before = dump(sqlite_url)
    with Session(engine) as session:
        assert check_link(session, token, NOW).state != LinkState.VALID
    assert dump(sqlite_url) == before


ITEMS = ["SAT1", "TRU2", "NPS", "VALUE_LEVEL", "MOMENT", "COMMENT", "LEADER"]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(ITEMS), json_values, min_size=1))
def test_answers_outside_the_scale_are_refused_and_store_nothing(sqlite_url, changes):
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        result, _ = make_invitation(session, NOW, email=f"f{abs(hash(str(changes))) % 10**9}@acme.example")
        before = dump(sqlite_url)
        answers = full_answers() | changes
        refused = None
        try:
            submit(session, invitation_id=result.invitation_id, answers=answers, locale="en", now=NOW)
        except AnswerError as error:
            refused = error
            session.rollback()
        if refused is None:
            session.commit()
            return
    assert all(problem.code for problem in refused.problems)
    assert dump(sqlite_url) == before
