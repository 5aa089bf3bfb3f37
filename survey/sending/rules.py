"""Who may be invited: the rules every path applies (the CRM import, the API, ``invite`` and the
Send surveys page) before an invitation is created."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from models.tables import Contact, Invitation
from survey.collecting.invitations import InviteResult, invite_recorded, record_interaction
from survey.sending.optout import opted_out


def surveyed_recently(
    session: Session, contact: Contact, now: datetime, fatigue_days: int
) -> datetime | None:
    """When this contact was last invited, if within the fatigue window."""
    return session.exec(
        select(Invitation.created_at)
        .where(
            Invitation.contact_id == contact.id, Invitation.created_at > now - timedelta(days=fatigue_days)
        )
        .order_by(col(Invitation.created_at).desc())
    ).first()


def not_invited_because(session: Session, contact: Contact, now: datetime, fatigue_days: int) -> str | None:
    """Why this contact must not be invited now, or ``None`` when they may be."""
    refused = opted_out(session, contact.email)
    if refused is not None:
        what = "bounced for good" if refused.source == "bounce" else "opted out of survey emails"
        return f"{contact.email} {what} on {refused.at:%Y-%m-%d}"
    last = surveyed_recently(session, contact, now, fatigue_days)
    if last is not None:
        return f"surveyed on {last:%Y-%m-%d}, within the {fatigue_days}-day rest period"
    return None


@dataclass(frozen=True)
class Outcome:
    """An interaction recorded, and its invitation or why there is none."""

    interaction_id: int
    created: list[str]
    invitation: InviteResult | None
    not_invited: str | None


def record_and_invite(
    session: Session, *, now: datetime, base_url: str, valid_days: int, fatigue_days: int, **interaction: Any
) -> Outcome:
    """Record an interaction (``record_interaction``'s arguments) and invite its contact unless
    a rule says no (opted out, bounced, or surveyed within ``fatigue_days``): the rule the CRM
    import and the API apply, for ``invite`` and the Send surveys page."""
    recorded = record_interaction(session, now=now, **interaction)
    reason = not_invited_because(session, recorded.contact, now, fatigue_days)
    if reason is not None:
        return Outcome(recorded.interaction.id or 0, recorded.created, None, reason)
    result = invite_recorded(session, recorded, now=now, base_url=base_url, valid_days=valid_days)
    return Outcome(recorded.interaction.id or 0, result.created, result, None)
