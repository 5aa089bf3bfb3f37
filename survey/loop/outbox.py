"""The transactional outbox: whatever leaves the app is first an ``OutboxEvent`` row, written in
the caller's transaction beside what caused it. Nothing is sent here; the worker
(``survey.loop.worker``) delivers committed events, so a rolled-back cause sends nothing and
a mail server that is down loses nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from models.tables import OutboxEvent

CHANNELS = ("email", "webhook", "chat")
STATUSES = ("pending", "sent", "failed", "cancelled")
# Waits before each retry; after the last the event is failed for good (about 16 hours in all).
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
)
MAX_ATTEMPTS = len(BACKOFF) + 1


def backoff(attempts: int) -> timedelta | None:
    """How long to wait after ``attempts`` failed tries; ``None`` when it is time to give up."""
    if attempts < 1:
        return timedelta(0)
    return BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else None


def exists(session: Session, dedupe_key: str) -> bool:
    return (
        session.exec(select(OutboxEvent.id).where(OutboxEvent.dedupe_key == dedupe_key)).first() is not None
    )


def enqueue(
    session: Session,
    *,
    channel: str,
    topic: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    skipped_because: str | None = None,
) -> bool:
    """Record an event to deliver, in the caller's transaction. With a ``dedupe_key`` an event
    that exists already is not recorded again (across processes too); returns whether it was."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    values = {
        "channel": channel,
        "topic": topic,
        "target": target[:320],
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": "cancelled" if skipped_because else "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": skipped_because or "",
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(OutboxEvent).values(**values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    """How many events are in each status."""
    found = dict.fromkeys(STATUSES, 0)
    rows = session.exec(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all()
    for status, count in rows:
        found[status] = int(count)
    return found
