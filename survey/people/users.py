"""Users, roles, passwords and sign-in.

Roles: an *admin* may do everything, including managing users; an account *manager* sees
and works on the accounts they own (``Account.owner`` is their user name); an *analyst*
reads and exports everything and changes nothing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from models.tables import USER_ROLES, User
from survey.people import audit, limits
from survey.people.access import Scope, owner_scope

MIN_PASSWORD_LENGTH = 10
# Argon2id hashes with 64 MiB each: at most this many at once per process, however many
# people (or attackers) sign in at the same moment; the others wait their turn.
ARGON2_AT_ONCE = 2
ARGON2_WAIT_SECONDS = 20
_argon2_slots = threading.BoundedSemaphore(ARGON2_AT_ONCE)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so that a wrong name takes as long as a wrong
    password. Made on first use: hashing at import would slow every command's start."""
    return _hasher.hash("not a password anyone has")


class UserError(ValueError):
    """A user-management request that cannot be carried out; the message says why."""


class SignInError(ValueError):
    """A refused sign-in; the message is safe to show on the sign-in page."""


@dataclass(frozen=True)
class ServerBusy(SignInError):
    """Too many passwords are being checked at once; nothing was counted against anyone."""


@contextmanager
def _argon2_slot() -> Iterator[None]:
    if not _argon2_slots.acquire(timeout=ARGON2_WAIT_SECONDS):
        raise ServerBusy("The server is busy checking other sign-ins: try again in a moment.")
    try:
        yield
    finally:
        _argon2_slots.release()


def _hash(password: str) -> str:
    with _argon2_slot():
        return _hasher.hash(password)


@dataclass(frozen=True)
class SignedIn:
    """Who is using the app in this session."""

    id: int
    username: str
    display_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_change(self) -> bool:
        """Analysts read and export; only admins and managers change data."""
        return self.role in ("admin", "manager")

    @property
    def label(self) -> str:
        return self.display_name or self.username


def _signed_in(user: User) -> SignedIn:
    return SignedIn(id=user.id or 0, username=user.username, display_name=user.display_name, role=user.role)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise UserError("the password must not start or end with spaces")


def _find(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise UserError(f"there is no user {username!r}")
    return user


def has_users(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(User)).one() > 0


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.username)).all())


def add_user(
    session: Session,
    username: str,
    role: str,
    *,
    password: str | None,
    display_name: str = "",
    email: str | None = None,
    actor: str,
) -> User:
    """Create a user; without a password they can sign in only through the identity provider."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise UserError(
            f"user name {username!r} must be 2-100 characters: lower-case letters, digits, . _ @ -"
        )
    if role not in USER_ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(USER_ROLES)}")
    if password is None and not email:
        raise UserError("a user needs a password or an email for single sign-on")
    if password is not None:
        check_password_rules(password)
    email = email.strip().lower() if email else None
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise UserError(f"user {name!r} already exists")
    if email and session.exec(select(User).where(User.email == email)).first() is not None:
        raise UserError(f"another user already has the email {email!r}")
    user = User(
        username=name,
        role=role,
        display_name=display_name.strip(),
        email=email,
        password_hash=_hash(password) if password is not None else None,
    )
    session.add(user)
    audit.record(session, actor, "user_added", f"{name} as {role}")
    session.flush()
    return user


def set_password(session: Session, username: str, password: str, *, actor: str) -> User:
    """A new password; it also lifts a lock-out."""
    check_password_rules(password)
    user = _find(session, username)
    user.password_hash = _hash(password)
    limits.clear_name(session, user.username)
    session.add(user)
    audit.record(session, actor, "user_changed", f"{user.username}: new password")
    return user


def set_active(session: Session, username: str, active: bool, *, actor: str) -> User:
    user = _find(session, username)
    if not active and user.role == "admin" and _other_active_admins(session, user) == 0:
        raise UserError("the last active admin cannot be disabled")
    user.active = active
    session.add(user)
    audit.record(session, actor, "user_changed", f"{user.username}: {'enabled' if active else 'disabled'}")
    return user


def set_role(session: Session, username: str, role: str, *, actor: str) -> User:
    if role not in USER_ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(USER_ROLES)}")
    user = _find(session, username)
    if user.role == "admin" and role != "admin" and _other_active_admins(session, user) == 0:
        raise UserError("the last active admin must stay an admin")
    audit.record(session, actor, "user_changed", f"{user.username}: role {user.role} -> {role}")
    user.role = role
    session.add(user)
    return user


def _other_active_admins(session: Session, user: User) -> int:
    statement = select(func.count()).where(User.role == "admin", User.active, User.id != user.id)
    return int(session.exec(statement).one())


def _refuse(session: Session, tried: str, reason: str, now: datetime, message: str) -> SignInError:
    audit.record(session, tried or "(empty)", "sign_in_failed", reason, at=now)
    return SignInError(message)


WRONG = "Wrong user name or password."


def _minutes(until: datetime, now: datetime) -> int:
    return max(1, round((until - now).total_seconds() / 60))


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    allowed: int = 5,
    address: str | None = None,
) -> SignedIn:
    """Check a password sign-in from ``address``; raises ``SignInError`` with the message to show.

    A name tried ``allowed`` times in a row from one address is locked there (see
    ``survey.people.limits``), and so is an address trying many names. Known and unknown
    names are answered, counted and locked alike, and take equally long.

    A refusal is recorded (the failure counted, the audit line written) in ``session`` before
    ``SignInError`` is raised: the caller's unit of work must keep it, e.g.
    ``session_scope(engine, keep_on=(SignInError,))``, or a guesser is never locked out."""
    name = username.strip().lower()[:100]
    name_key, address_key = limits.sign_in_key(name, address), limits.sign_in_address_key(address)
    until = limits.locked_until(session, [name_key, address_key], now)
    if until is not None:
        minutes = _minutes(until, now)
        raise _refuse(
            session, name, f"locked (from {address or 'local'})", now,
            f"Too many failed sign-ins: try again in {minutes} minute(s).",
        )  # fmt: skip
    user = session.exec(select(User).where(User.username == name)).first()
    stored = user.password_hash if user is not None and user.password_hash is not None else None
    with _argon2_slot():
        right = _verify(stored or _dummy_hash(), password) and stored is not None
    if not right or user is None:
        lock = limits.record_failure(session, name_key, now=now, allowed=allowed)
        spread = limits.record_failure(
            session, address_key, now=now, allowed=allowed * limits.PER_ADDRESS_FACTOR
        )
        message = WRONG
        earned = max((until for until in (lock, spread) if until is not None), default=None)
        if earned is not None:
            message += f" Too many failed sign-ins: try again in {_minutes(earned, now)} minute(s)."
        reason = "unknown user or no password set" if stored is None else "wrong password"
        raise _refuse(session, name, f"{reason} (from {address or 'local'})", now, message)
    if not user.active:
        raise _refuse(session, name, "disabled", now, "This user is disabled: ask an admin.")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hash(password)
    limits.clear(session, name_key)
    return _success(session, user, now, "password")


def sign_in_by_email(session: Session, email: str, *, now: datetime) -> SignedIn:
    """Map an identity provider's verified email onto a user of ours."""
    address = email.strip().lower()
    user = session.exec(select(User).where(User.email == address)).first() if address else None
    if user is None:
        raise _refuse(
            session, address, "single sign-on: no user with this email", now,
            "You are signed in with your organisation, but no user of this app has your email: ask an admin.",
        )  # fmt: skip
    if not user.active:
        raise _refuse(
            session, address, "single sign-on: disabled", now, "This user is disabled: ask an admin."
        )
    return _success(session, user, now, "single sign-on")


def _success(session: Session, user: User, now: datetime, method: str) -> SignedIn:
    user.last_sign_in_at = now
    session.add(user)
    audit.record(session, user.username, "sign_in", method, at=now)
    return _signed_in(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def still_active(session: Session, user: SignedIn) -> SignedIn | None:
    """The session's user as the database has them now: ``None`` once disabled or removed,
    so that disabling or demoting someone takes effect at their next click."""
    row = session.get(User, user.id)
    if row is None or not row.active:
        return None
    return _signed_in(row)


def scope_of(session: Session, user: SignedIn) -> Scope:
    """The accounts this user may see."""
    if user.role == "manager":
        return owner_scope(session, user.username)
    return Scope.everything()


def reader_scopes(session: Session) -> list[Scope]:
    """The different scopes the active users read, the widest first: every account (admins
    and analysts), then the managers' books from the largest (a manager owning nothing reads
    nothing and is left out)."""
    users = session.exec(select(User).where(col(User.active)).order_by(col(User.id))).all()
    scopes = dict.fromkeys(scope_of(session, _signed_in(user)) for user in users)
    readable = [scope for scope in scopes if scope.account_ids is None or scope.account_ids]
    return sorted(
        readable, key=lambda scope: (0, 0) if scope.account_ids is None else (1, -len(scope.account_ids))
    )
