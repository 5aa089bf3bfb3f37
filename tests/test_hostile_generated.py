"""Generated hostile input against the API, the CRM import and the survey draft (hypothesis):
never a 500, never a partial write, never a leak of another scope. SQLite dumps are compared
before and after every refusal."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.db import make_engine
from models.tables import Draft, Invitation
from survey.api.routes import routes
from survey.collecting.responses import AnswerError, check_answer, save_draft
from survey.imports.crm import guess_mapping, import_rows, parse
from survey.imports.tabular import TableImportError, header_of
from survey.instrument.definition import load_instrument
from survey.people.apikeys import READ_RESPONSES, WRITE_INTERACTIONS, create_key
from tests.factories import make_invitation, respond

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NOW = datetime.now(UTC).replace(microsecond=0)
# Text as an attacker would send it: line breaks of every kind, NUL, commas, angle brackets.
hostile_text = st.text(
    alphabet=st.sampled_from([*"ab@.,;<> \"'\r\n\t\x00\x85\u2028\u2029=+-", "é", "ß", "\U0001f600"]),
    max_size=60,
) | st.text(max_size=60)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
UNCHANGED_BY_REFUSALS = (
    'INSERT INTO "api_key"',
    'INSERT INTO "audit_event"',
    'INSERT INTO "failed_attempts"',
)


def dump(url: str) -> list[str]:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return [line for line in connection.iterdump() if not line.startswith(UNCHANGED_BY_REFUSALS)]
    finally:
        connection.close()


@pytest.fixture
def world(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        respond(session, NOW - timedelta(days=2), email="known@acme.example")
        writer = create_key(session, "CRM", now=NOW, scopes=[WRITE_INTERACTIONS])
        session.commit()
        reader = create_key(session, "BI", now=NOW, scopes=[READ_RESPONSES])
        session.commit()
    app = Starlette(routes=routes)
    app.state.engine = engine
    client = TestClient(app, raise_server_exceptions=False)
    return {
        "url": sqlite_url,
        "engine": engine,
        "client": client,
        "writer": {"Authorization": f"Bearer {writer}"},
        "reader": {"Authorization": f"Bearer {reader}"},
        "outbox": tmp_path / "outbox",
    }


@FUZZ
@given(
    account=hostile_text,
    email=hostile_text,
    name=hostile_text,
    crm_id=st.text(min_size=1, max_size=20),
)
def test_hostile_text_at_the_api_is_stored_and_mailed_whole_or_not_at_all(
    world, account, email, name, crm_id
):
    before = dump(world["url"])
    sent_before = set(world["outbox"].glob("*.eml")) if world["outbox"].exists() else set()
    body = {
        "crm_interaction_id": f"H-{crm_id}",
        "account": {"name": account or "x"},
        "contact": {"email": email, "name": name},
        "touchpoint": "delivery",
        "occurred_at": NOW.isoformat(),
    }
    answer = world["client"].post("/api/v1/interactions", json=body, headers=world["writer"])
    assert answer.status_code in (200, 201, 422), answer.text
    if answer.status_code == 422:
        assert all(problem["field"] for problem in answer.json()["problems"])
        assert dump(world["url"]) == before
        return
    if answer.status_code == 201 and answer.json()["link"]:
        [mail] = set(world["outbox"].glob("*.eml")) - sent_before
        message = message_from_bytes(mail.read_bytes())
        assert len(message.get_all("To")) == 1
        assert "," not in message["To"]
        assert "\n" not in str(message["Subject"]).replace("\n ", "")


@FUZZ
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["limit", "cursor", "start", "end", "segment", "account", "x"]), hostile_text
        ),
        max_size=4,
    )
)
def test_generated_queries_never_crash_and_a_write_key_never_reads(world, params):
    client = world["client"]
    read = client.get("/api/v1/responses", params=params, headers=world["reader"])
    assert read.status_code in (200, 400, 422), read.text
    written = client.get("/api/v1/responses", params=params, headers=world["writer"])
    assert written.status_code == 403
    assert "rows" not in written.json()


@FUZZ
@given(body=json_values)
def test_a_read_key_never_writes_whatever_it_posts(world, body):
    before = dump(world["url"])
    answer = world["client"].post("/api/v1/interactions", json=body, headers=world["reader"])
    assert answer.status_code in (403, 413)
    assert dump(world["url"]) == before


CRM_HEADER = [
    "crm_interaction_id",
    "account_name",
    "contact_email",
    "contact_name",
    "touchpoint",
    "occurred_at",
]


@FUZZ
@given(rows=st.lists(st.tuples(hostile_text, hostile_text, hostile_text), min_size=1, max_size=4))
def test_hostile_crm_rows_are_refused_by_row_or_imported_whole(world, rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CRM_HEADER)
    for number, (account, email, name) in enumerate(rows):
        writer.writerow([f"C-{number}", account, email, name, "delivery", NOW.strftime("%Y-%m-%d")])
    data = out.getvalue().encode("utf-8")
    before = dump(world["url"])
    refused: TableImportError | None = None
    with Session(world["engine"], expire_on_commit=False) as session:
        try:
            found = parse(session, data, guess_mapping(header_of(data)))
            result = import_rows(
                session, found, now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30
            )
            session.commit()
        except TableImportError as error:
            session.rollback()
            refused = error
    if refused is not None:
        assert all(problem.row >= 1 and problem.column for problem in refused.problems)
        assert dump(world["url"]) == before
        return
    # Imported: every invitation has its mail built already, with one recipient each.
    for invitation_id, _ in result.invitations:
        assert len(result.messages[invitation_id].get_all("To")) == 1


@pytest.fixture
def invitation(world):
    with Session(world["engine"], expire_on_commit=False) as session:
        result, _ = make_invitation(session, NOW, email="drafts@acme.example")
    return result.invitation_id


ITEMS = [item.code for item in load_instrument().items]


@FUZZ
@given(
    answers=st.dictionaries(st.sampled_from([*ITEMS, "LEADER_OTHER", "EXTRA"]), json_values, max_size=6),
    step=st.integers(-5, 100) | st.booleans(),
    locale=hostile_text,
)
def test_a_draft_keeps_only_answers_the_survey_could_take(world, invitation, answers, step, locale):
    before = dump(world["url"])
    instrument = load_instrument()
    items = {item.code: item for item in instrument.items}
    refused: AnswerError | None = None
    with Session(world["engine"], expire_on_commit=False) as session:
        try:
            save_draft(session, invitation_id=invitation, answers=answers, step=step, locale=locale, now=NOW)
            session.commit()
        except AnswerError as error:
            session.rollback()
            refused = error
        if refused is not None:
            assert all(problem.code for problem in refused.problems)
            assert dump(world["url"]) == before
            return
        draft = session.exec(select(Draft).where(Draft.invitation_id == invitation)).one()
        assert draft.locale in instrument.languages
        assert "EXTRA" not in draft.answers
        for code, value in draft.answers.items():
            if code in items and value is not None:
                assert check_answer(instrument, items[code], value) is None
        assert len(str(draft.answers)) < 5_000


def test_an_eight_megabyte_draft_is_refused_and_saves_nothing(world, invitation):
    before = dump(world["url"])
    with Session(world["engine"], expire_on_commit=False) as session:
        with pytest.raises(AnswerError, match="more than the 2000 allowed"):
            save_draft(
                session,
                invitation_id=invitation,
                answers={"COMMENT": "x" * 8_000_000},
                step=0,
                locale="en",
                now=NOW,
            )
        session.rollback()
        assert session.get(Invitation, invitation).started_at is None
    assert dump(world["url"]) == before


def test_outbox_files_are_readable_by_their_owner_only(world):
    body = {
        "crm_interaction_id": "P-1",
        "account": {"name": "Perm GmbH"},
        "contact": {"email": "p@perm.example"},
        "touchpoint": "delivery",
        "occurred_at": NOW.isoformat(),
    }
    assert world["client"].post("/api/v1/interactions", json=body, headers=world["writer"]).status_code == 201
    [mail] = Path(world["outbox"]).glob("*.eml")
    assert mail.stat().st_mode & 0o077 == 0
    assert Path(world["outbox"]).stat().st_mode & 0o077 == 0
