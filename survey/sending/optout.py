"""Opting out of survey emails (RFC 8058 one-click unsubscribe and a visible link), and the
addresses that bounced for good. An address on this list gets nothing more from any path:
the CRM import, the API, ``invite``, the page, reminders and replies to feedback."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from models.db import upsert_insert
from models.tables import OptOut, OptOutLink
from survey.collecting.tokens import hash_token, looks_like_token, new_token

SOURCES = ("link", "one-click", "bounce", "admin")
UNSUBSCRIBE_PATH = "/email/unsubscribe"


def opted_out(session: Session, email: str) -> OptOut | None:
    return session.get(OptOut, email.strip().lower())


def opt_out(session: Session, email: str, *, source: str, now: datetime, detail: str = "") -> bool:
    """Put the address on the list; returns whether it was new there. Safe to repeat."""
    if source not in SOURCES:
        raise ValueError(f"unknown opt-out source {source!r}")
    insert = upsert_insert(session)
    statement = insert(OptOut).values(email=email.strip().lower(), at=now, source=source, detail=detail[:500])
    return bool(session.execute(statement.on_conflict_do_nothing(index_elements=["email"])).rowcount)  # type: ignore[attr-defined]


def new_link(session: Session, email: str, *, base_url: str, now: datetime) -> str:
    """A personal unsubscribe link for one message; only the token's hash is stored."""
    token = new_token()
    session.add(OptOutLink(token_hash=hash_token(token), email=email.strip().lower(), created_at=now))
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}?t={token}"


def email_of_token(session: Session, token: str | None) -> str | None:
    if not token or not looks_like_token(token):
        return None
    link = session.get(OptOutLink, hash_token(token))
    return link.email if link else None


def opt_out_by_token(session: Session, token: str | None, *, source: str, now: datetime) -> bool:
    """Opt out the address behind an unsubscribe token; ``False`` when the token is unknown."""
    email = email_of_token(session, token)
    if email is None:
        return False
    opt_out(session, email, source=source, now=now)
    return True
