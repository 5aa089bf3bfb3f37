"""Sign-in limits that hold across replicas (SQLite and PostgreSQL), do not let a stranger lock
a user out, stop one address trying many names, and keep Argon2's memory bounded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import AuditEvent
from survey.people import users
from survey.people.limits import PER_ADDRESS_FACTOR
from survey.people.users import ARGON2_AT_ONCE, SignInError, authenticate
from tests.factories import PASSWORD, make_user

GUESS = "guess guess guess"


def fail(session: Session, name: str, now, address: str | None) -> str:
    """A wrong password, refused; the refusal is committed, as the sign-in page's unit of work does."""
    with pytest.raises(SignInError) as refused:
        authenticate(session, name, GUESS, now=now, address=address)
    session.commit()
    return str(refused.value)


def test_failures_at_one_replica_lock_the_name_at_another(engine, db_url, session, now):
    make_user(session, "maria", "manager")
    other = make_engine(db_url)
    with Session(other) as second:
        for attempt in range(5):
            fail(session if attempt % 2 else second, "maria", now, "198.51.100.7")
        with pytest.raises(SignInError, match="Too many failed sign-ins"):
            authenticate(second, "maria", PASSWORD, now=now + timedelta(seconds=10), address="198.51.100.7")
        second.commit()
    with pytest.raises(SignInError, match="Too many failed sign-ins"):
        authenticate(session, "maria", PASSWORD, now=now + timedelta(seconds=10), address="198.51.100.7")
    other.dispose()


def test_a_stranger_cannot_lock_the_real_user_out(session, now):
    make_user(session, "maria", "manager")
    for _ in range(8):
        fail(session, "maria", now, "203.0.113.66")
    user = authenticate(session, "maria", PASSWORD, now=now + timedelta(seconds=5), address="192.0.2.10")
    assert user.username == "maria"


def test_one_address_trying_many_names_is_locked_for_every_name(session, now):
    make_user(session, "maria", "manager")
    names = [f"user{n}" for n in range(5 * PER_ADDRESS_FACTOR)]
    messages = [fail(session, name, now, "203.0.113.66") for name in names]
    assert "try again in" in messages[-1]
    with pytest.raises(SignInError, match="Too many failed sign-ins"):
        authenticate(session, "maria", PASSWORD, now=now + timedelta(seconds=5), address="203.0.113.66")
    # The lock is audited like every refusal, with the address it came from.
    details = session.exec(select(AuditEvent.detail).where(AuditEvent.action == "sign_in_failed")).all()
    assert any(detail.startswith("locked (from 203.0.113.66)") for detail in details)


def test_argon2_runs_at_most_a_few_at_once_however_many_sign_in(engine, session, now, monkeypatch):
    make_user(session, "maria", "manager")
    running = 0
    most = 0
    lock = threading.Lock()
    real_verify = users._verify

    def slow_verify(stored: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)
            return real_verify(stored, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(users, "_verify", slow_verify)

    def attempt(n: int) -> None:
        with Session(engine) as own, pytest.raises(SignInError):
            authenticate(own, f"attacker{n}", GUESS, now=now, address=f"192.0.2.{n}")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(attempt, range(16)))
    assert most <= ARGON2_AT_ONCE
    assert most >= 1
