"""The worker that delivers the outbox: emails over SMTP (or to the outbox folder), chat
messages and signed webhook calls, with retries and backoff.

**Claims.** A worker claims a batch of due events with one ``UPDATE … RETURNING`` that sets a
lease (``claimed_by``, ``claimed_until``) and commits before anything is sent; on PostgreSQL
the rows are picked with ``FOR UPDATE SKIP LOCKED``, so workers in several replicas take
different events and never wait for each other. No transaction stays open while a mail server
or receiver is slow. After the send the outcome is written only while the claim is still the
worker's own. Each event is delivered once by one worker; a worker that dies between sending and
recording leaves a claim that runs out after ``LEASE``, and the event is tried again — with the
same ``Message-ID`` and ``webhook-id``, by which a receiver recognises the repeat.

**Schedule.** Each pass also records what is due by the clock (escalations of overdue
follow-ups, daily and weekly digests; ``survey.loop.schedule``). ``run_forever`` repeats passes
every ``poll`` seconds until stopped: the app runs it in a thread (server.py), and
``python -m survey worker`` runs it on its own.
"""

from __future__ import annotations

import email
import email.policy
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from models.db import session_scope
from models.tables import ChatChannel, DeliveryAttempt, OptOut, OutboxEvent, WebhookEndpoint
from survey.loop import chat, webhooks
from survey.loop.outbox import backoff
from survey.loop.webhooks import DeliveryFailed
from survey.sending.mailer import MailSettings, SendFailed, deliver

LEASE = timedelta(minutes=5)
BATCH = 20
log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def claim(session: Session, *, worker: str, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to ``limit`` due events for ``worker``; the caller commits before sending."""
    free = or_(col(OutboxEvent.claimed_until).is_(None), col(OutboxEvent.claimed_until) < now)
    due = (
        select(OutboxEvent.id)
        .where(col(OutboxEvent.status) == "pending", col(OutboxEvent.next_attempt_at) <= now, free)
        .order_by(col(OutboxEvent.next_attempt_at), col(OutboxEvent.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Lock the chosen rows first (skipping those another worker is claiming), then claim
        # exactly them: inside ``UPDATE … IN (subquery)`` PostgreSQL may run a LIMIT subquery
        # more than once and claim more rows than asked for.
        ids = list(session.exec(due.with_for_update(skip_locked=True)).all())
        if not ids:
            return []
        chosen = col(OutboxEvent.id).in_(ids)
    else:
        chosen = col(OutboxEvent.id).in_(due.scalar_subquery())
    statement = (
        update(OutboxEvent)
        .where(chosen, col(OutboxEvent.status) == "pending", free)
        .values(claimed_by=worker, claimed_until=now + LEASE)
        .returning(col(OutboxEvent.id))
    )
    return sorted(session.execute(statement).scalars().all())


@dataclass(frozen=True)
class Outcome:
    event_id: int
    channel: str
    topic: str
    target: str
    status: str  # sent, retry, failed, cancelled
    detail: str


def _sender(session: Session, event: OutboxEvent, mail: MailSettings) -> Callable[[], str] | str:
    """What sends the event, or why it is no longer to be sent."""
    if event.channel == "email":
        if event.payload.get("customer") and session.get(OptOut, event.target.lower()) is not None:
            return "the contact opted out of our emails"
        message = email.message_from_string(event.payload["raw"], policy=email.policy.default)
        return lambda: deliver(message, mail)
    if event.channel == "webhook":
        endpoint = session.get(WebhookEndpoint, int(event.target))
        if endpoint is None or not endpoint.active:
            return "the endpoint was removed or disabled"
        url, secret = endpoint.url, endpoint.secret
        return lambda: webhooks.post(url, secret, event.payload)
    channel = session.get(ChatChannel, int(event.target))
    if channel is None or not channel.active:
        return "the chat channel was removed or disabled"
    url, style = channel.url, channel.style
    return lambda: chat.post(url, style, event.payload["text"])


def _record(
    session: Session,
    event_id: int,
    *,
    worker: str,
    now: datetime,
    ok: bool,
    detail: str,
    cancelled: bool,
    ms: int,
) -> str:
    event = session.exec(
        select(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if event.claimed_by != worker:
        return "lost"  # the claim ran out and another worker has it now
    event.claimed_by, event.claimed_until = None, None
    if cancelled:
        event.status, event.last_error = "cancelled", detail[:500]
    else:
        event.attempts += 1
        session.add(
            DeliveryAttempt(
                event_id=event_id, at=now, worker=worker, ok=ok, detail=detail[:500], duration_ms=ms
            )
        )
        if ok:
            event.status, event.sent_at, event.last_error = "sent", now, ""
        else:
            event.last_error = detail[:500]
            wait = backoff(event.attempts)
            if wait is None:
                event.status = "failed"
            else:
                event.next_attempt_at = now + wait
    session.add(event)
    return "retry" if event.status == "pending" else event.status


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    worker: str | None = None,
    mail: MailSettings | None = None,
    limit: int = BATCH,
) -> list[Outcome]:
    """Claim the due events and deliver each; returns what happened to every one."""
    worker = worker or worker_name()
    mail = mail or MailSettings.from_env()
    with session_scope(engine) as session:
        claimed = claim(session, worker=worker, now=now, limit=limit)
    outcomes = []
    for event_id in claimed:
        with session_scope(engine) as session:
            event = session.get_one(OutboxEvent, event_id)
            facts = (event.channel, event.topic, event.target)
            sender = _sender(session, event, mail)
        started = time.monotonic()
        ok, cancelled = False, False
        if isinstance(sender, str):
            detail, cancelled = sender, True
        else:
            try:
                detail, ok = sender(), True
            except (SendFailed, DeliveryFailed) as error:
                detail = str(error)
            except Exception as error:  # a bug or a bad payload must not stop the other events
                log.exception("delivering outbox event %s failed", event_id)
                detail = f"{type(error).__name__}: {error}"
        ms = int((time.monotonic() - started) * 1000)
        with session_scope(engine) as session:
            status = _record(
                session, event_id, worker=worker, now=now, ok=ok, detail=detail, cancelled=cancelled, ms=ms
            )
        outcomes.append(Outcome(event_id, *facts, status, detail))
    return outcomes


def run_once(
    engine: Engine, *, now: datetime, worker: str | None = None, mail: MailSettings | None = None
) -> list[Outcome]:
    """One pass: record what the clock makes due, email the survey invitations their
    touchpoint's delay held back until now, then deliver what is due; once a day, check the
    instrument for the Dashboard's notices (``record_day_check``)."""
    from models.settings import get_settings
    from survey.loop.schedule import record_due
    from survey.sending.delivery import send_due_invitations

    with session_scope(engine) as session:
        record_due(session, now=now)
    _check_the_day(engine, now)
    with session_scope(engine) as session:
        send_due_invitations(
            session, now=now, base_url=get_settings().base_url, mail=mail or MailSettings.from_env()
        )
    return deliver_due(engine, now=now, worker=worker, mail=mail)


# One day's check at a time in this process: the worker's first pass and the server's
# read-ahead (``survey.operations.warming``) both ask for it as the server starts.
_DAY_CHECK = threading.Lock()


def check_the_day(engine: Engine, now: datetime) -> bool:
    """The day's instrument check (``report.check_day_if_due``) in its own unit of work, one
    caller at a time: whoever comes second finds it committed instead of fitting the models
    again. Whether this call made it."""
    from survey.quality.report import check_day_if_due

    with _DAY_CHECK, session_scope(engine) as session:
        return check_day_if_due(session, now)


def _check_the_day(engine: Engine, now: datetime) -> None:
    """``check_the_day``: a failure is logged and never stops the delivery of what is due (the
    Dashboard then keeps showing the latest check)."""
    try:
        check_the_day(engine, now)
    except Exception:
        log.exception("the day's instrument check failed")


def run_forever(
    engine: Engine,
    stop: threading.Event,
    *,
    poll: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    report: Callable[[list[Outcome]], None] | None = None,
) -> None:
    """Passes every ``poll`` seconds until ``stop`` is set; an error is logged, never fatal."""
    worker = worker_name()
    while not stop.is_set():
        try:
            outcomes = run_once(engine, now=clock(), worker=worker)
            if report is not None and outcomes:
                report(outcomes)
        except Exception:
            log.exception("the outbox worker's pass failed; trying again in %s s", poll)
        stop.wait(poll)


def start_in_thread(engine: Engine, *, poll: float) -> tuple[threading.Thread, threading.Event]:
    """The worker as a daemon thread of the app process (``make run``)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(engine, stop), kwargs={"poll": poll}, name="outbox-worker", daemon=True
    )
    thread.start()
    return thread, stop
