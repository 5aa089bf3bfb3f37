"""Roll-ups kept at submission must equal roll-ups rebuilt from the raw tables."""

from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import select

from models.tables import Competitor, ItemRollup, PairRollup, ScoreRollup
from survey.reporting import rollups
from tests.factories import full_answers, respond

ROLL_UPS = (ScoreRollup, ItemRollup, PairRollup, *rollups.NARROW)


def snapshot(session) -> dict[str, set]:
    def rows(model):
        return {
            tuple(round(v, 9) if isinstance(v, float) else v for v in row)
            for row in session.exec(select(*model.__table__.columns)).all()
        }

    return {model.__name__: rows(model) for model in ROLL_UPS}


@pytest.fixture
def varied(session, now):
    """Nine responses over several months, two touchpoints, four contacts, with and without a leader."""
    competitor = Competitor(name="Brightline Partners")
    session.add(competitor)
    session.commit()
    variants = [
        full_answers(),
        full_answers()
        | {"SAT1": 1, "TRU5": None, "MIN1": None, "LEADER": competitor.id, "LEADER_OTHER": None},
        full_answers() | {"LEADER": "none", "CL_SAT": None, "CL_TRU": None, "NPS": 3},
    ]
    for number, answers in enumerate(variants * 3):
        when = now - timedelta(days=40 * number)
        respond(
            session,
            when,
            answers,
            email=f"c{number % 4}@acme.example",
            touchpoint=("sales", "service")[number % 2],
        )


def test_incremental_roll_ups_equal_a_rebuild(session, varied):
    incremental = snapshot(session)
    assert len(incremental["ScoreRollup"]) > 10

    rollups.rebuild(session)
    session.commit()
    assert snapshot(session) == incremental


def test_score_roll_up_sums_one_response(session, now):
    respond(session, now)
    trust = session.exec(
        select(ScoreRollup).where(ScoreRollup.indicator == "trust", ScoreRollup.subject == "own")
    ).one()
    assert (trust.month, trust.role, trust.n, trust.total, trust.total_sq) == (
        "2026-11",
        "user",
        1,
        5.0,
        25.0,
    )
    pair = session.exec(
        select(PairRollup).where(PairRollup.item_a == "SAT1", PairRollup.item_b == "SAT4")
    ).one()
    assert (pair.n, pair.sum_a, pair.sum_b, pair.sum_ab) == (1, 6, 2, 12)


@pytest.mark.parametrize("narrow", list(rollups.NARROW), ids=lambda model: model.__tablename__)
def test_each_narrower_roll_up_is_the_wide_one_summed(session, varied, narrow):
    wide, keys, condition = rollups.NARROW[narrow]
    sums = list(rollups.COUNTERS if wide is ItemRollup else rollups.SCORE_SUMS)
    statement = select(*wide.__table__.columns)
    if condition is not None:
        statement = statement.where(condition)
    expected = pd.DataFrame(session.exec(statement).all()).groupby(list(keys), as_index=False)[sums].sum()
    stored = pd.DataFrame(session.exec(select(*narrow.__table__.columns)).all())
    assert len(stored) == len(expected) > 5
    pd.testing.assert_frame_equal(
        stored.sort_values(list(keys)).reset_index(drop=True)[[*keys, *sums]],
        expected,
        check_dtype=False,
        rtol=1e-12,
    )
