"""The audit trail: who signed in, who failed to, who exported or changed what."""

from __future__ import annotations

import getpass
import os
from datetime import datetime

from sqlmodel import Session, col, select

from models.tables import AuditEvent, utcnow

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "export",
    "user_added",
    "user_changed",
    "contact_erased",
    "comments_purged",
    "api_key_refused",
    "touchpoint_add",
    "touchpoint_rename",
    "touchpoint_rule",
    "touchpoint_retire",
    "touchpoint_restore",
    "instrument_draft",
    "instrument_publish",
)


def cli_actor() -> str:
    """Who runs a command: ``cli:`` and the operating-system user (the one behind ``sudo``)."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no name for this user id (a bare container)
        user = f"uid {os.getuid()}"
    return f"cli:{user}"[:100]


def record(session: Session, actor: str, action: str, detail: str = "", at: datetime | None = None) -> None:
    """Add an event to the session; it is written with the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(AuditEvent(at=at or utcnow(), actor=actor[:100], action=action, detail=detail[:2000]))


def recent(
    session: Session, *, limit: int = 200, action: str | None = None, actor: str | None = None
) -> list[AuditEvent]:
    """The newest events first, optionally of one action or one actor."""
    statement = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor:
        statement = statement.where(AuditEvent.actor == actor)
    return list(session.exec(statement).all())
