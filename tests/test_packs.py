"""The packed copy of each response: written by submit, filled for older rows, read by
exports, and always the same as the rows it copies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlmodel import Session, select

from models.tables import Response
from survey.exports import packs
from survey.exports.rows import ChunkReader, ExportRequest
from survey.instrument.definition import load_instrument
from tests.factories import answers_at, full_answers, respond

VERSION = load_instrument().version
LAYOUT = packs.layout(VERSION)
OPTIONAL = next(code for code in LAYOUT.items if not load_instrument().item(code).required)
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def response(**changes) -> Response:
    fields = {
        "id": 7, "invitation_id": 1, "interaction_id": 11, "account_id": 3, "contact_id": 5,
        "touchpoint_id": 2, "instrument_version": VERSION, "locale": "de", "started_at": WHEN,
        "submitted_at": WHEN, "duration_seconds": 300, "nps": 9, "leader_competitor_id": None,
        "value_level": 2, "moment": "delighted",
    }  # fmt: skip
    return Response(**(fields | changes))


@settings(max_examples=80, deadline=None)
@given(
    answers=st.dictionaries(st.sampled_from(LAYOUT.items), st.integers(0, 10), max_size=len(LAYOUT.items)),
    scores=st.dictionaries(st.sampled_from(LAYOUT.scores), st.floats(1, 7), max_size=len(LAYOUT.scores)),
    nps=st.none() | st.integers(0, 10),
    moment=st.none() | st.sampled_from(["delighted", "frustrated"]),
)
def test_a_pack_gives_back_the_facts_answers_and_scores_it_was_given(answers, scores, nps, moment):
    rows = [
        {"subject": subject, "indicator": indicator, "score": value, "score_100": 100 * (value - 1) / 6}
        for (subject, indicator), value in scores.items()
    ]
    data = packs.pack(response(nps=nps, moment=moment), WHEN - timedelta(days=2), answers, rows)
    unpacked = packs.unpack([data], [7])
    [(version, positions, [record])] = unpacked.versions
    facts = unpacked.facts[0]
    assert (version, list(positions)) == (VERSION, [0])
    assert facts["nps"] == (packs.NONE if nps is None else nps)
    assert facts["moment"] == (moment or "").encode()
    assert facts["locale"] == b"de"
    assert facts["contact_id"] == 5
    assert facts["leader_competitor_id"] == packs.NONE
    assert facts["submitted_at"] == (WHEN - packs.EPOCH) // timedelta(microseconds=1)
    assert facts["occurred_at"] == facts["submitted_at"] - 2 * 86_400_000_000
    for place, code in enumerate(LAYOUT.items):
        assert record["answers"][place] == answers.get(code, packs.NOT_ANSWERED)
    for place, key in enumerate(LAYOUT.scores):
        if key in scores:
            assert record["low"][place] == scores[key]
            assert record["high"][place] == 100 * (scores[key] - 1) / 6
        else:
            assert np.isnan(record["low"][place])
            assert np.isnan(record["high"][place])


def test_a_pack_of_the_wrong_size_or_an_unknown_version_names_its_response():
    good = packs.pack(response(), WHEN, {}, [])
    with pytest.raises(packs.PackError, match="response 42 "):
        packs.unpack([good, good[:-1]], [41, 42])
    with pytest.raises(packs.PackError, match="version 99 is unknown"):
        packs.unpack([_with_version(good, 99)], [1])


def _with_version(data: bytes, version: int) -> bytes:
    at = packs.FACTS.fields["instrument_version"][1]
    return data[:at] + version.to_bytes(4, "little") + data[at + 4 :]


def stored_packs(session: Session) -> dict[int, bytes | None]:
    return dict(session.exec(select(Response.id, Response.export_pack)).all())


def from_rows(session: Session) -> dict[int, bytes]:
    return packs.from_tables(session, [rid for rid in session.exec(select(Response.id)).all() if rid])


@pytest.fixture
def three(session, now):
    with_leader = full_answers()
    without = answers_at({"trust": 2}, LEADER="none") | {
        f"CL_{code}": None for code in ("SAT", "TRU", "CTL", "COM", "MIN", "WOM")
    }
    skipped = full_answers() | {OPTIONAL: None}
    return [
        respond(session, now - timedelta(days=day), answers=answers, email=f"p{day}@example.com")
        for day, answers in enumerate((with_leader, without, skipped))
    ]


def test_submit_packs_exactly_what_it_writes_to_the_rows(session, three):
    stored = stored_packs(session)
    assert stored == from_rows(session)
    unpacked = packs.unpack([stored[three[2]]], [three[2]])
    assert unpacked.versions[0][2][0]["answers"][LAYOUT.items.index(OPTIONAL)] == packs.NOT_ANSWERED


def test_fill_missing_packs_older_rows_as_submit_would_and_only_once(session, three):
    expected = stored_packs(session)
    session.execute(update(Response).values(export_pack=None))
    session.commit()
    assert packs.missing(session) == 3
    assert packs.fill_missing(session, chunk=2) == 3
    session.commit()
    assert stored_packs(session) == expected
    assert packs.fill_missing(session) == 0


def test_an_export_of_responses_stored_without_packs_reads_the_same_values(session, three):
    def exported():
        reader = ChunkReader(session, ExportRequest(chunk_size=2))
        return [table.to_pylist() for table in reader.chunks()]

    before = exported()
    session.execute(update(Response).where(Response.id == three[1]).values(export_pack=None))
    session.commit()
    assert exported() == before
    assert packs.missing(session) == 1  # reading never writes


def test_no_packs_unpack_to_no_rows():
    """A selection without responses (a form nobody answered) reads as an empty matrix."""
    unpacked = packs.unpack([], np.zeros(0, dtype=np.int64))
    assert len(unpacked.facts) == 0
    assert unpacked.answers(["SAT1", "TRU1"]).shape == (0, 2)
