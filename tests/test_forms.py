"""Pulse and check-up: which form an invitation gets, what a pulse asks, how it is scored."""

from datetime import timedelta
from itertools import combinations
from math import comb

import pytest
from sqlmodel import select

from models.tables import Answer, IndicatorScore, Invitation, Response, Touchpoint
from survey.collecting.responses import AnswerError, submit
from survey.instrument.definition import load_instrument
from survey.instrument.forms import PULSE_MAX_STATEMENTS, design_counts, pulse_page, pulse_statements
from survey.instrument.scoring import score_indicators
from tests.factories import full_answers, make_invitation


@pytest.fixture
def pulses_after_a_check_up(monkeypatch):
    monkeypatch.setenv("PULSE_CHECKUP_DAYS", "90")


def test_every_pulse_asks_each_indicator_and_at_most_eight_statements():
    instrument = load_instrument()
    indicator_of = {item.code: item.indicator for item in instrument.items if item.indicator}
    for slot in range(200):
        asked = pulse_statements(instrument, slot)
        assert 6 <= len(asked) <= PULSE_MAX_STATEMENTS
        assert {indicator_of[code] for code in asked} == {i.code for i in instrument.indicators}
        assert pulse_page(instrument, slot)[-3:] == ("NPS", "MOMENT", "COMMENT")


def test_the_rotation_asks_every_statement_of_an_indicator_equally_often_and_every_pair_together():
    instrument = load_instrument()
    # One full rotation: 3 groups of extended indicators x the pairs and singles of every size.
    slots = range(3 * 60 * 2)
    items, pairs = design_counts(instrument, slots)
    for indicator in instrument.indicators:
        codes = [item.code for item in instrument.indicator_items(indicator.code)]
        assert len({items[code] for code in codes}) == 1, indicator.code
        expected_pairs = len(slots) // 3 // comb(len(codes), 2)
        for pair in combinations(codes, 2):
            assert pairs[pair] == expected_pairs, (indicator.code, pair)


def test_the_median_pulse_asks_eight_statements():
    instrument = load_instrument()
    sizes = sorted(len(pulse_statements(instrument, slot)) for slot in range(300))
    assert sizes[len(sizes) // 2] == 8


def test_a_first_invitation_is_a_check_up_and_the_next_ones_pulses(session, now, pulses_after_a_check_up):
    first, _ = make_invitation(session, now - timedelta(days=80))
    second, _ = make_invitation(session, now - timedelta(days=60))
    third, _ = make_invitation(session, now - timedelta(days=20))
    fourth, _ = make_invitation(session, now)
    forms = [session.get(Invitation, r.invitation_id) for r in (first, second, third, fourth)]
    # All within 90 days of the first check-up: pulses, in rotation order.
    assert [(i.form, i.design_slot) for i in forms] == [
        ("checkup", None),
        ("pulse", 0),
        ("pulse", 1),
        ("pulse", 2),
    ]


def test_a_check_up_is_due_again_after_the_period(session, now, pulses_after_a_check_up):
    make_invitation(session, now - timedelta(days=200))
    pulse, _ = make_invitation(session, now - timedelta(days=150))
    due, _ = make_invitation(session, now - timedelta(days=100))
    assert session.get(Invitation, pulse.invitation_id).form == "pulse"
    assert session.get(Invitation, due.invitation_id).form == "checkup"


def test_a_touchpoint_marked_for_check_ups_always_gets_one(session, now, pulses_after_a_check_up):
    renewal = session.exec(select(Touchpoint).where(Touchpoint.code == "renewal")).one()
    renewal.form_rule = "checkup"
    session.add(renewal)
    session.commit()
    make_invitation(session, now - timedelta(days=1))
    result, _ = make_invitation(session, now, touchpoint="renewal")
    assert session.get(Invitation, result.invitation_id).form == "checkup"


def test_a_pulse_scores_each_indicator_from_the_statements_it_asked(session, now, pulses_after_a_check_up):
    make_invitation(session, now - timedelta(days=1))
    result, _ = make_invitation(session, now)
    invitation = session.get(Invitation, result.invitation_id)
    instrument = load_instrument()
    asked = pulse_statements(instrument, invitation.design_slot)
    answers = {code: full_answers()[code] for code in asked} | {"NPS": 8, "MOMENT": "as_expected"}
    response_id = submit(session, invitation_id=invitation.id, answers=answers, locale="en", now=now)
    session.commit()

    response = session.get(Response, response_id)
    assert response.form == "pulse"
    assert response.instrument_fingerprint == instrument.fingerprint
    assert len(response.instrument_fingerprint) == 64
    stored = {a.item_code for a in session.exec(select(Answer).where(Answer.response_id == response_id))}
    assert stored == set(asked) | {"NPS"}
    scores = {
        s.indicator: s
        for s in session.exec(select(IndicatorScore).where(IndicatorScore.response_id == response_id))
    }
    assert set(scores) == {i.code for i in instrument.indicators}
    expected = {r.indicator: r.score for r in score_indicators(instrument, answers, asked)}
    for indicator, score in scores.items():
        assert score.score == pytest.approx(expected[indicator])
        assert score.score_100 == pytest.approx(100 * (expected[indicator] - 1) / 6)
        assert score.items_answered == sum(
            1 for code in asked if instrument.item(code).indicator == indicator
        )


def test_a_pulse_refuses_answers_to_statements_it_did_not_ask(session, now, pulses_after_a_check_up):
    make_invitation(session, now - timedelta(days=1))
    result, _ = make_invitation(session, now)
    with pytest.raises(AnswerError) as refused:
        submit(session, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=now)
    assert any(p.message == "not a question of this survey" for p in refused.value.problems)
    session.rollback()
    assert session.exec(select(Response)).all() == []


def test_pulse_scoring_counts_the_answered_among_the_asked():
    instrument = load_instrument()
    # Trust asked through TRU1 and TRU2 (reverse): 6 and 3 -> 6 and 5, mean 5.5
    scores = {r.indicator: r for r in score_indicators(instrument, {"TRU1": 6, "TRU2": 3}, {"TRU1", "TRU2"})}
    assert scores["trust"].score == 5.5
    # one of two asked answered is below the 2/3 rule: no score
    assert "trust" not in {r.indicator for r in score_indicators(instrument, {"TRU1": 6}, {"TRU1", "TRU2"})}


def test_the_fingerprint_ignores_wording_but_not_layout():
    instrument = load_instrument()
    reworded = instrument.model_copy(
        update={
            "items": tuple(
                item.model_copy(update={"text": {**item.text, "en": "Changed."}}) for item in instrument.items
            )
        }
    )
    assert reworded.fingerprint == instrument.fingerprint
    flipped = instrument.model_copy(
        update={
            "items": tuple(
                item.model_copy(update={"reverse": not item.reverse}) if item.code == "SAT1" else item
                for item in instrument.items
            )
        }
    )
    assert flipped.fingerprint != instrument.fingerprint
