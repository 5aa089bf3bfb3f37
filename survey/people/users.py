"""Users, roles, passwords and sign-in.

Roles: an *admin* may do everything, including managing users; an account *manager* sees
and works on the accounts they own (``Account.owner`` is their user name); an *analyst*
reads and exports everything and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, func, select

from models.tables import USER_ROLES, User
from survey.people import audit
from survey.people.access import Scope, owner_scope

MIN_PASSWORD_LENGTH = 10
# After the allowed failures, each further failure locks for twice as long, up to an hour.
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
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
        password_hash=_hasher.hash(password) if password is not None else None,
    )
    session.add(user)
    audit.record(session, actor, "user_added", f"{name} as {role}")
    session.commit()
    session.refresh(user)
    return user


def set_password(session: Session, username: str, password: str, *, actor: str) -> User:
    """A new password; it also lifts a lock-out."""
    check_password_rules(password)
    user = _find(session, username)
    user.password_hash = _hasher.hash(password)
    user.failed_attempts = 0
    user.locked_until = None
    session.add(user)
    audit.record(session, actor, "user_changed", f"{user.username}: new password")
    session.commit()
    return user


def set_active(session: Session, username: str, active: bool, *, actor: str) -> User:
    user = _find(session, username)
    if not active and user.role == "admin" and _other_active_admins(session, user) == 0:
        raise UserError("the last active admin cannot be disabled")
    user.active = active
    session.add(user)
    audit.record(session, actor, "user_changed", f"{user.username}: {'enabled' if active else 'disabled'}")
    session.commit()
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
    session.commit()
    return user


def _other_active_admins(session: Session, user: User) -> int:
    statement = select(func.count()).where(User.role == "admin", User.active, User.id != user.id)
    return int(session.exec(statement).one())


def lock_duration(failures: int, allowed: int) -> timedelta | None:
    """How long the account is locked after ``failures`` failed sign-ins in a row."""
    if failures < allowed:
        return None
    doublings = min(failures - allowed, 12)  # 2**12 minutes is past the cap already
    return min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)


def _refuse(session: Session, tried: str, reason: str, now: datetime, message: str) -> SignInError:
    audit.record(session, tried or "(empty)", "sign_in_failed", reason, at=now)
    session.commit()
    return SignInError(message)


WRONG = "Wrong user name or password."


def authenticate(
    session: Session, username: str, password: str, *, now: datetime, allowed: int = 5
) -> SignedIn:
    """Check a password sign-in; raises ``SignInError`` with the message to show."""
    name = username.strip().lower()
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None or user.password_hash is None:
        _verify(_dummy_hash(), password)
        raise _refuse(session, name, "unknown user or no password set", now, WRONG)
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        raise _refuse(
            session,
            name,
            "locked",
            now,
            f"Too many failed sign-ins: this account is locked for {minutes} more minute(s).",
        )
    if not _verify(user.password_hash, password):
        user.failed_attempts += 1
        lock = lock_duration(user.failed_attempts, allowed)
        user.locked_until = now + lock if lock else None
        session.add(user)
        message = WRONG
        if lock:
            minutes = int(lock.total_seconds() // 60)
            message += f" Too many failed sign-ins: the account is locked for {minutes} minute(s)."
        raise _refuse(session, name, f"wrong password ({user.failed_attempts} in a row)", now, message)
    if not user.active:
        raise _refuse(session, name, "disabled", now, "This user is disabled: ask an admin.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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
    user.failed_attempts = 0
    user.locked_until = None
    user.last_sign_in_at = now
    session.add(user)
    audit.record(session, user.username, "sign_in", method, at=now)
    session.commit()
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
