"""Bringing a database to a usable state: schema, reference data and, once, demo data."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import select

from models.db import session_scope, upgrade_schema
from models.tables import FollowUp, Response, ScoreSegmentRollup
from survey.demo.data import DemoSummary, is_empty, seed_demo
from survey.exports import packs
from survey.followup import queue as followup
from survey.instrument.touchpoints import ensure_touchpoints
from survey.reporting import aggregates


def prepare_database(engine: Engine | None = None) -> None:
    """Upgrade the schema and add missing reference data; safe to run any number of times."""
    upgrade_schema(engine)
    with session_scope(engine) as session:
        ensure_touchpoints(session)
        # Responses stored before the roll-ups and follow-ups existed (or bulk-loaded) are
        # summed and assessed once here.
        if session.exec(select(Response.id).limit(1)).first() is not None:
            if session.exec(select(ScoreSegmentRollup.n).limit(1)).first() is None:
                aggregates.rebuild(session)
            if session.exec(select(FollowUp.id).limit(1)).first() is None:
                followup.flag_all(session)
            packs.fill_missing(session)


def seed_demo_if_empty(engine: Engine | None = None) -> DemoSummary | None:
    """Demo data for a first start, so the charts mean something; None when there is data."""
    with session_scope(engine) as session:
        if not is_empty(session):
            return None
        return seed_demo(session, now=datetime.now(UTC))


def apply_retention(engine: Engine | None, months: int, now: datetime) -> int:
    """Purge comments past the retention period (0 keeps them); run at every app start."""
    if months < 1:
        return 0
    from survey.people.privacy import purge_comments

    with session_scope(engine) as session:
        return purge_comments(session, months=months, now=now, actor="system")
