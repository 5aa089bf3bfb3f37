"""Users, passwords, lock-out and scopes (on SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from models.db import session_scope
from models.tables import Account, AuditEvent, FailedAttempts, User
from survey.people.limits import lock_duration, sign_in_key
from survey.people.users import (
    WRONG,
    SignInError,
    UserError,
    add_user,
    authenticate,
    scope_of,
    set_active,
    set_password,
    set_role,
    sign_in_by_email,
    still_active,
)
from tests.factories import PASSWORD, make_user


def actions(session) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_a_password_is_stored_as_an_argon2_hash_and_signs_in(session, now):
    make_user(session, "maria", "manager")
    stored = session.exec(select(User).where(User.username == "maria")).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    user = authenticate(session, " Maria ", PASSWORD, now=now)
    assert (user.username, user.role) == ("maria", "manager")
    assert ("maria", "sign_in") in actions(session)


@pytest.mark.parametrize(("username", "password"), [("maria", "wrong password!"), ("nobody", PASSWORD)])
def test_wrong_name_or_password_get_the_same_message_and_are_audited(session, now, username, password):
    make_user(session, "maria", "manager")
    with pytest.raises(SignInError) as refused:
        authenticate(session, username, password, now=now)
    assert str(refused.value) == WRONG
    assert (username, "sign_in_failed") in actions(session)


def test_repeated_failures_lock_the_user_with_a_growing_back_off(session, now):
    make_user(session, "maria", "manager")
    for _ in range(4):
        with pytest.raises(SignInError, match="Wrong user name"):
            authenticate(session, "maria", "guess guess guess", now=now)
    with pytest.raises(SignInError, match="try again in 1 minute"):
        authenticate(session, "maria", "guess guess guess", now=now)
    # While locked even the right password is refused, and is not checked.
    with pytest.raises(SignInError, match="Too many failed sign-ins"):
        authenticate(session, "maria", PASSWORD, now=now + timedelta(seconds=30))
    # After the lock, one more failure locks for twice as long.
    with pytest.raises(SignInError, match="try again in 2 minute"):
        authenticate(session, "maria", "guess guess guess", now=now + timedelta(minutes=1, seconds=1))
    later = now + timedelta(minutes=3, seconds=2)
    assert authenticate(session, "maria", PASSWORD, now=later).username == "maria"
    assert (
        session.exec(
            select(FailedAttempts.failures).where(FailedAttempts.key == sign_in_key("maria", None))
        ).all()
        == []
    )


def test_lock_durations_double_up_to_an_hour():
    assert lock_duration(4, 5) is None
    assert [lock_duration(n, 5) for n in (5, 6, 7)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert lock_duration(50, 5) == timedelta(hours=1)


def test_a_new_password_lifts_the_lock(session, now):
    make_user(session, "maria", "manager")
    for _ in range(5):
        with pytest.raises(SignInError):
            authenticate(session, "maria", "guess guess guess", now=now)
    set_password(session, "maria", "a brand new secret", actor="admin")
    assert authenticate(session, "maria", "a brand new secret", now=now).username == "maria"


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("maria", "manager", "short", "at least 10 characters"),
        ("Maria Keller", "manager", PASSWORD, "lower-case letters"),
        ("maria", "boss", PASSWORD, "not one of admin, manager, analyst"),
        ("admin", "admin", PASSWORD, "already exists"),
    ],
)
def test_bad_user_requests_name_the_problem_and_change_nothing(session, username, role, password, message):
    make_user(session, "admin", "admin")
    before = session.exec(select(User.username)).all()
    with pytest.raises(UserError, match=message):
        add_user(session, username, role, password=password, actor="admin")
    assert session.exec(select(User.username)).all() == before


def test_the_last_admin_can_be_neither_disabled_nor_demoted(session):
    make_user(session, "admin", "admin")
    with pytest.raises(UserError, match="last active admin"):
        set_active(session, "admin", False, actor="admin")
    with pytest.raises(UserError, match="last active admin"):
        set_role(session, "admin", "analyst", actor="admin")
    make_user(session, "second", "admin")
    set_role(session, "admin", "analyst", actor="second")


def test_a_disabled_user_cannot_sign_in_and_loses_the_open_session(session, now):
    user = make_user(session, "maria", "manager")
    assert still_active(session, user) == user
    set_active(session, "maria", False, actor="admin")
    with pytest.raises(SignInError, match="disabled"):
        authenticate(session, "maria", PASSWORD, now=now)
    assert still_active(session, user) is None


def test_single_sign_on_maps_the_email_onto_a_user(session, now):
    add_user(session, "tom", "analyst", password=None, email="Tom@Example.com", actor="admin")
    assert sign_in_by_email(session, "tom@example.com", now=now).username == "tom"
    with pytest.raises(SignInError, match="no user of this app has your email"):
        sign_in_by_email(session, "eve@example.com", now=now)
    with pytest.raises(SignInError):
        authenticate(session, "tom", "", now=now)  # no password: only single sign-on


def test_a_manager_sees_their_accounts_and_others_see_all(session):
    session.add_all([Account(name="Acme", owner="maria"), Account(name="Globex", owner="tom")])
    session.commit()
    acme = session.exec(select(Account.id).where(Account.name == "Acme")).one()
    manager = make_user(session, "maria", "manager")
    assert scope_of(session, manager).account_ids == frozenset({acme})
    for role in ("admin", "analyst"):
        assert scope_of(session, make_user(session, role, role)).is_everything


def test_a_refused_sign_in_is_kept_by_the_unit_of_work_and_a_failed_change_is_not(engine, session, now):
    make_user(session, "maria", "manager")
    with pytest.raises(SignInError), session_scope(engine, keep_on=(SignInError,)) as unit:
        authenticate(unit, "maria", "guess guess guess", now=now)

    def change_both(unit: Session) -> None:
        set_password(unit, "maria", "a brand new secret", actor="admin")
        set_role(unit, "maria", "emperor", actor="admin")  # refused: the new password goes too

    with pytest.raises(UserError), session_scope(engine) as unit:
        change_both(unit)
    with Session(engine) as fresh:
        assert ("maria", "sign_in_failed") in actions(fresh)
        assert ("admin", "user_changed") not in actions(fresh)
        assert fresh.exec(select(FailedAttempts.failures)).all() == [1, 1]  # the name, the address
    assert authenticate(session, "maria", PASSWORD, now=now).username == "maria"
