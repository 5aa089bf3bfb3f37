"""The transactional outbox: whatever leaves the app is first an ``OutboxEvent`` row, written in
the caller's transaction beside what caused it. Nothing is sent here; the worker
(``survey.loop.worker``) delivers committed events, so a rolled-back cause sends nothing and
a mail server that is down loses nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from models.db import upsert_insert
from models.tables import DeliveryAttempt, OutboxEvent

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
    insert = upsert_insert(session)
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


@dataclass(frozen=True)
class EventRow:
    """One outbox event as the Deliveries page lists it."""

    id: int
    created: datetime
    channel: str
    topic: str
    target: str
    status: str
    attempts: int
    next_attempt: datetime | None
    sent: datetime | None
    last_error: str


def recent(session: Session, *, status: str | None = None, limit: int = 500) -> list[EventRow]:
    """The newest events, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (use one of {', '.join(STATUSES)})")
    statement = select(OutboxEvent).order_by(col(OutboxEvent.id).desc()).limit(limit)
    if status is not None:
        statement = statement.where(OutboxEvent.status == status)
    return [
        EventRow(
            id=event.id or 0,
            created=event.created_at,
            channel=event.channel,
            topic=event.topic,
            target=event.target,
            status=event.status,
            attempts=event.attempts,
            next_attempt=event.next_attempt_at if event.status == "pending" else None,
            sent=event.sent_at,
            last_error=event.last_error,
        )
        for event in session.exec(statement).all()
    ]


def attempts_of(session: Session, event_id: int) -> list[DeliveryAttempt]:
    return list(
        session.exec(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.event_id == event_id)
            .order_by(col(DeliveryAttempt.id))
        ).all()
    )


def retry_failed(session: Session, *, now: datetime) -> int:
    """Give every failed event another round of tries, from now; returns how many."""
    result = session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.status) == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
