"""The app's responses as the factor models read them, on SQLite and PostgreSQL."""

import math
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import update
from sqlmodel import select

from models.tables import Account, Response
from survey.collecting.responses import submit
from survey.instrument.definition import load_instrument
from survey.people.access import Scope
from survey.quality.report import comparison_checks
from survey.quality.responses import (
    item_frame,
    refit_round,
    refit_step,
    response_months,
    six_factor_structure,
)
from tests.factories import full_answers, make_invitation, respond

STRUCTURE = six_factor_structure(load_instrument())


def test_six_indicators_with_their_statements():
    assert STRUCTURE.names == [
        "satisfaction",
        "trust",
        "control_mutuality",
        "commitment",
        "mindset",
        "word_of_mouth",
    ]
    assert STRUCTURE.items_of("word_of_mouth") == ("WOM1", "WOM2", "WOM3", "WOM4")
    assert len(STRUCTURE.items) == 24  # NPS and the leader ratings are not statements of an indicator


def test_answers_are_reverse_keyed_and_carry_language_version_and_segment(session):
    respond(session, datetime(2026, 3, 5, tzinfo=UTC), full_answers() | {"TRU5": None}, email="a@x.example")
    result, _ = make_invitation(
        session, datetime(2026, 6, 2, tzinfo=UTC), account="Nordwind AG", email="e@n.example"
    )
    submit(
        session,
        invitation_id=result.invitation_id,
        answers=full_answers(),
        locale="de",
        now=datetime(2026, 6, 2, tzinfo=UTC),
    )
    account = session.exec(select(Account).where(Account.name == "Nordwind AG")).one()
    account.segment = "Logistics"
    session.add(account)
    session.commit()

    frame = item_frame(session, STRUCTURE.items)
    assert list(frame["language"]) == ["en", "de"]
    assert list(frame["version"]) == [str(load_instrument().version)] * 2
    assert list(frame["segment"]) == ["", "Logistics"]
    first = frame.iloc[0]
    assert first["SAT1"] == 6  # as answered
    assert first["SAT4"] == 6  # answered 2, reverse-keyed: 8 - 2
    assert first["WOM3"] == 6  # answered 2
    assert math.isnan(first["TRU5"])  # not answered
    assert frame.iloc[1]["TRU5"] == 3

    since = item_frame(session, STRUCTURE.items, since=date(2026, 4, 1))
    assert list(since["language"]) == ["de"]
    acme = session.exec(select(Account).where(Account.name == "Acme Tools")).one()
    scoped = item_frame(session, STRUCTURE.items, scope=Scope.of_accounts([acme.id]))
    assert list(scoped["language"]) == ["en"]
    assert response_months(session) == ["2026-03", "2026-04", "2026-05", "2026-06"]


def test_without_responses_nothing_is_compared(session):
    language, version = comparison_checks(session)
    assert language.status == version.status == "not tested"
    assert language.verdict == "Only one of the languages has answers here: there is nothing to compare."
    assert response_months(session) == []


def test_only_the_newest_responses_are_read(session):
    for day in range(1, 5):
        respond(session, datetime(2026, 5, day, tzinfo=UTC), full_answers(), email=f"p{day}@x.example")
    frame = item_frame(session, STRUCTURE.items, limit=2)
    assert len(frame) == 2
    newest = item_frame(session, STRUCTURE.items)["response_id"].iloc[-2:]
    assert list(frame["response_id"]) == list(newest)
    assert frame[STRUCTURE.items].notna().all().all()  # their answers came along


def test_responses_not_packed_yet_read_as_their_answer_rows_say(session):
    """A response stored some other way than by submit (a bulk load, an older database) has no
    packed record yet: its answers come from its rows, the same as a packed one's."""
    for day in range(1, 4):
        answers = full_answers() | {"SAT4": day, "TRU5": None if day == 2 else 3}
        respond(session, datetime(2026, 5, day, tzinfo=UTC), answers, email=f"p{day}@x.example")
    packed = item_frame(session, STRUCTURE.items)
    session.execute(
        update(Response).where(Response.id != packed["response_id"].iloc[0]).values(export_pack=None)
    )
    session.commit()
    rebuilt = item_frame(session, STRUCTURE.items)
    pd.testing.assert_frame_equal(rebuilt, packed)
    assert list(packed["SAT4"]) == [7, 6, 5]  # reverse-keyed: 8 - answer
    assert math.isnan(packed["TRU5"].iloc[1])


def test_a_fit_is_shared_only_by_responses_less_than_one_refit_step_apart():
    # 300 responses are half again as many as 200: never the same fit.
    assert refit_round(300) != refit_round(200)
    assert refit_round(201) == refit_round(200)
    for newest in range(1, 45_000, 7):
        assert newest - refit_step(newest) < refit_round(newest) <= newest
