"""Failed attempts and the locks they earn: sign-ins and API keys.

Counts live in the database (``FailedAttempts``), not in process memory, so that several
replicas behind a load balancer count the same failures and honour the same lock. After
``allowed`` failures in a row under one key, each further failure locks that key for twice
as long as the last, from one minute up to an hour; a success clears the key.

Keys name what is counted: ``sign-in:{name}|{address}`` (a user name tried from one
address, so that someone elsewhere cannot lock the real user out), ``sign-in-from:{address}``
(any name from one address: spraying many names) and ``api-key-from:{address}``. Unknown user
names are counted exactly like real ones, so a lock says nothing about who exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlmodel import Session, col, select

from models.db import upsert_insert
from models.tables import FailedAttempts

FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
# Failures older than this no longer count: a typo a week ago does not bring a lock closer.
FORGET_AFTER = timedelta(days=1)
# Failures from one address, over every name, before that address is locked.
PER_ADDRESS_FACTOR = 4
# Wrong API keys from one address before it is locked.
API_KEY_FAILURES = 10
KEY_MAX = 300


def sign_in_key(name: str, address: str | None) -> str:
    return f"sign-in:{name[:100]}|{address or 'local'}"[:KEY_MAX]


def sign_in_address_key(address: str | None) -> str:
    return f"sign-in-from:{address or 'local'}"[:KEY_MAX]


def api_key_address_key(address: str | None) -> str:
    return f"api-key-from:{address or 'local'}"[:KEY_MAX]


def lock_duration(failures: int, allowed: int) -> timedelta | None:
    """How long a key is locked after ``failures`` failures in a row."""
    if failures < allowed:
        return None
    doublings = min(failures - allowed, 12)  # 2**12 minutes is past the cap already
    return min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)


def locked_until(session: Session, keys: list[str], now: datetime) -> datetime | None:
    """The latest lock among ``keys`` that still holds at ``now``, or ``None``."""
    found = session.exec(
        select(FailedAttempts.locked_until).where(
            col(FailedAttempts.key).in_(keys), col(FailedAttempts.locked_until) > now
        )
    ).all()
    return max((until for until in found if until is not None), default=None)


def record_failure(session: Session, key: str, *, now: datetime, allowed: int) -> datetime | None:
    """Count one failure under ``key`` in the caller's transaction; returns the lock it earns.

    One statement increments the count, so two replicas failing at once both count."""
    table = FailedAttempts.__table__  # type: ignore[attr-defined]
    insert = upsert_insert(session)
    stale = table.c.last_failure_at < literal(now - FORGET_AFTER, type_=table.c.last_failure_at.type)
    statement = insert(table).values(key=key, failures=1, last_failure_at=now, locked_until=None)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "last_failure_at": now,
        },
    )
    session.execute(statement)
    row = session.exec(
        select(FailedAttempts).where(FailedAttempts.key == key).execution_options(populate_existing=True)
    ).one()
    lock = lock_duration(row.failures, allowed)
    if lock is not None:
        row.locked_until = now + lock
        session.add(row)
    session.flush()
    return row.locked_until if lock is not None else None


def clear(session: Session, *keys: str) -> None:
    """Forget the failures under ``keys`` (after a success)."""
    session.execute(delete(FailedAttempts).where(col(FailedAttempts.key).in_(keys)))


def clear_name(session: Session, name: str) -> None:
    """Lift every lock on a user name, from any address (a new password does)."""
    prefix = f"sign-in:{name[:100]}|"
    session.execute(delete(FailedAttempts).where(col(FailedAttempts.key).startswith(prefix, autoescape=True)))


def locked_names(session: Session, now: datetime) -> dict[str, datetime]:
    """User names locked from at least one address, with the latest lock: for the Users page."""
    rows = session.exec(
        select(FailedAttempts.key, FailedAttempts.locked_until).where(
            col(FailedAttempts.key).startswith("sign-in:"), col(FailedAttempts.locked_until) > now
        )
    ).all()
    locks: dict[str, datetime] = {}
    for key, until in rows:
        name = key.removeprefix("sign-in:").rsplit("|", 1)[0]
        if until is not None:
            locks[name] = max(until, locks.get(name, until))
    return locks
