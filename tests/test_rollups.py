"""Roll-ups kept at submission must equal roll-ups rebuilt from the raw tables."""

from datetime import timedelta

from sqlmodel import select

from models.tables import Competitor, ItemRollup, PairRollup, ScoreRollup
from survey import rollups
from tests.factories import full_answers, respond


def snapshot(session) -> dict[str, set]:
    def rows(model):
        return {
            tuple(round(v, 9) if isinstance(v, float) else v for v in row)
            for row in session.exec(select(*model.__table__.columns)).all()
        }

    return {model.__name__: rows(model) for model in (ScoreRollup, ItemRollup, PairRollup)}


def test_incremental_roll_ups_equal_a_rebuild(session, now):
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
