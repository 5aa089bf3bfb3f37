"""API keys: created once, shown once, stored as a SHA-256 hash, revocable, scoped.

Keys are for systems (CRMs, help desks, BI tools), not people: a key sees every account, but
only does what its scopes allow. A CRM that reports interactions needs
``write:interactions``; a BI tool that pulls responses needs ``read:responses``. A key with
only the first never reads a response; a key with only the second never invites anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from models.tables import ApiKey

PREFIX = "rp_"
WRITE_INTERACTIONS = "write:interactions"
READ_RESPONSES = "read:responses"
SCOPES = {
    WRITE_INTERACTIONS: (
        "report interactions and invite their contacts, and log actions "
        "(POST /api/v1/interactions, /api/v1/actions)"
    ),
    READ_RESPONSES: (
        "read every response with its contact's details, and the action log "
        "(GET /api/v1/responses, /api/v1/actions)"
    ),
}


class ApiKeyError(ValueError):
    """A key request that cannot be carried out; the message says why."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def scopes_of(key: ApiKey) -> tuple[str, ...]:
    return tuple(scope for scope in key.scopes.split(",") if scope)


def create_key(session: Session, name: str, *, now: datetime, scopes: Iterable[str]) -> str:
    """A new key for ``name`` that may do ``scopes``; the returned key is never stored and
    cannot be shown again."""
    label = name.strip()
    if not label or len(label) > 100:
        raise ApiKeyError("a key needs a name of 1-100 characters, e.g. the system that uses it")
    chosen = sorted(set(scopes), key=list(SCOPES).index) if set(scopes) <= set(SCOPES) else None
    if not chosen:
        raise ApiKeyError(f"a key needs at least one scope of {', '.join(SCOPES)}")
    if session.exec(select(ApiKey).where(ApiKey.name == label)).first() is not None:
        raise ApiKeyError(f"a key named {label!r} exists already; revoke it or choose another name")
    key = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(name=label, key_hash=_hash(key), scopes=",".join(chosen), created_at=now))
    return key


def revoke_key(session: Session, name: str, *, now: datetime) -> None:
    key = session.exec(select(ApiKey).where(ApiKey.name == name.strip())).first()
    if key is None:
        raise ApiKeyError(f"there is no key named {name!r}")
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(ApiKey.name)).all())


def check_key(session: Session, presented: str | None, *, now: datetime) -> ApiKey | None:
    """The active key that matches, or ``None``; notes when it was last used."""
    if not presented or not presented.startswith(PREFIX) or len(presented) > 200:
        return None
    digest = _hash(presented)
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # The lookup is by hash; compare again in constant time all the same.
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, digest):
        return None
    key.last_used_at = now
    session.add(key)
    return key
