"""Service levels of the follow-up queue: when each follow-up is due, which are overdue, and the
one escalation when a follow-up is left open past its due time.

Due times come from ``PULSE_SLA_HOURS`` (``detractor=24,moment=48,drop=72``): a follow-up with
several reasons is due by the shortest of their times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import text, update
from sqlmodel import Session, col

from models.tables import NOT_ESCALATED, STILL_OPEN, FollowUp

DEFAULT_HOURS = {
    "detractor": 24,
    "moment": 48,
    "drop": 72,
    # A whole account: several flagged contacts, a fall beyond its uncertainty, a silent decision maker.
    "flagged_contacts": 48,
    "decline": 72,
    "silent_decision_maker": 168,
}


class SlaError(ValueError):
    """The service levels are written wrongly; the message names the part."""


def parse_hours(text: str) -> dict[str, int]:
    """``detractor=24,moment=48,drop=72`` as a mapping; reasons left out keep their default."""
    from survey.followup.queue import ACCOUNT_REASONS, REASONS

    hours = dict(DEFAULT_HOURS)
    for part in (p.strip() for p in text.split(",") if p.strip()):
        reason, _, value = part.partition("=")
        reason = reason.strip()
        if reason not in (*REASONS, *ACCOUNT_REASONS):
            known = ", ".join((*REASONS, *ACCOUNT_REASONS))
            raise SlaError(f"PULSE_SLA_HOURS: unknown reason {reason!r} in {part!r} (use {known})")
        try:
            number = int(value)
        except ValueError:
            raise SlaError(f"PULSE_SLA_HOURS: {part!r} needs a whole number of hours") from None
        if number < 1:
            raise SlaError(f"PULSE_SLA_HOURS: {part!r} must be at least 1 hour")
        hours[reason] = number
    return hours


def configured_hours() -> dict[str, int]:
    from models.settings import get_settings

    return parse_hours(get_settings().sla_hours)


def due_at(created_at: datetime, reasons: str, hours: Mapping[str, int] | None = None) -> datetime:
    """When a follow-up opened at ``created_at`` for ``reasons`` (comma-separated) is due."""
    table = hours if hours is not None else configured_hours()
    shortest = min(
        (table.get(r, max(table.values())) for r in reasons.split(",") if r), default=max(table.values())
    )
    return created_at + timedelta(hours=shortest)


def is_overdue(follow_up: FollowUp, now: datetime) -> bool:
    return follow_up.status != "closed" and follow_up.due_at is not None and follow_up.due_at <= now


def claim_overdue(session: Session, now: datetime) -> list[int]:
    """Mark every open follow-up past its due time and not yet escalated as escalated now, and
    return their ids. One statement: two workers at once never escalate the same one."""
    statement = (
        update(FollowUp)
        # The conditions of the index of follow-ups still to escalate, as it writes them.
        .where(text(STILL_OPEN), text(NOT_ESCALATED), col(FollowUp.due_at) <= now)
        .values(escalated_at=now)
        .returning(col(FollowUp.id))
    )
    return sorted(session.execute(statement).scalars().all())
