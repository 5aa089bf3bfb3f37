"""Pages of responses for the API: the same rows as the files, pulled incrementally with a cursor."""

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from models.tables import Account, Response
from survey.exports.api import PAGE_MAX, decode_cursor, encode_cursor, responses_page
from survey.exports.rows import ExportError
from survey.people.access import owner_scope
from survey.reporting.filters import Filters
from tests.factories import full_answers, respond


@pytest.fixture
def answered(session, now):
    ids = [
        respond(
            session,
            now - timedelta(days=number),
            account=("Acme Tools", "Bolt Works")[number % 2],
            email=f"p{number}@example.com",
        )
        for number in range(5)
    ]
    for account in session.exec(select(Account)).all():
        account.owner = "alex" if account.name == "Acme Tools" else "priya"
        session.add(account)
    session.commit()
    return ids


def pull_all(session, cursor=None, **kwargs):
    rows, pages = [], 0
    while True:
        page = responses_page(session, cursor=cursor, limit=2, **kwargs)
        rows += page.rows
        cursor, pages = page.next_cursor, pages + 1
        if not page.has_more:
            return rows, cursor, pages


def test_pages_hold_every_response_once_in_order(session, answered):
    rows, _, pages = pull_all(session)
    assert [row["response_id"] for row in rows] == sorted(answered)
    assert pages == 3
    first = rows[0]
    assert first["SAT1"] == full_answers()["SAT1"]
    assert first["satisfaction_score"] == pytest.approx(6.0)
    assert first["COMMENT"] == full_answers()["COMMENT"]  # JSON is data, not a spreadsheet
    json.dumps(rows)  # every value is JSON-ready: dates as ISO text
    assert rows[0]["submitted_at"].endswith("+00:00")


def test_a_later_pull_with_the_cursor_gets_only_new_responses(session, answered, now):
    _, cursor, _ = pull_all(session)
    again = responses_page(session, cursor=cursor)
    assert (again.rows, again.next_cursor, again.has_more) == ([], cursor, False)
    new = respond(session, now + timedelta(hours=1), email="late@example.com")
    later = responses_page(session, cursor=cursor)
    assert [row["response_id"] for row in later.rows] == [new]


def test_the_api_obeys_scope_filters_and_anonymity(session, answered):
    alex = owner_scope(session, "alex")
    rows, _, _ = pull_all(session, scope=alex)
    assert {row["account"] for row in rows} == {"Acme Tools"}
    rows, _, _ = pull_all(session, scope=owner_scope(session, "priya"))
    assert {row["account"] for row in rows} == {"Bolt Works"}
    bolt = session.exec(select(Account.id).where(Account.name == "Bolt Works")).one()
    rows, _, _ = pull_all(session, scope=alex, filters=Filters(account_ids=(bolt,)))
    assert rows == []  # a filter never widens the scope
    hidden = session.get(Response, answered[0])
    hidden.anonymous = True
    session.add(hidden)
    session.commit()
    row = responses_page(session, limit=1).rows[0]
    assert (row["contact_id"], row["contact_name"], row["contact_email"]) == (None, None, None)


def test_bad_cursors_and_limits_are_named(session, answered):
    assert decode_cursor(encode_cursor(41)) == 41
    assert decode_cursor(None) == 0
    for bad in ("not-a-cursor", encode_cursor(1)[:-2] + "!!", "cjE6LTE"):
        with pytest.raises(ExportError, match="cursor is not one this API handed out"):
            responses_page(session, cursor=bad)
    for limit in (0, PAGE_MAX + 1):
        with pytest.raises(ExportError, match=f"limit must be between 1 and {PAGE_MAX}"):
            responses_page(session, limit=limit)
