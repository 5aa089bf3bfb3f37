"""Personal data on request: anonymous answers, erasure of a contact, comment retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from models.tables import Contact, ContactErasure, Draft, Invitation, Response
from survey.people import audit
from survey.reporting import aggregates

ANONYMOUS = "anonymous respondent"
ERASED_DOMAIN = "erased.invalid"


class PrivacyError(ValueError):
    """A privacy request that cannot be carried out; the message says why."""


def shown_identity(name: str | None, email: str | None, anonymous: bool) -> str:
    """How a respondent is named on a page: never when they asked for anonymity."""
    if anonymous:
        return ANONYMOUS
    return name or email or "unknown contact"


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    responses: int
    drafts: int


def was_erased(session: Session, contact_id: int) -> bool:
    """Whether the contact's personal data was erased."""
    return session.get(ContactErasure, contact_id) is not None


def erase_contact(session: Session, contact_id: int, *, actor: str, now: datetime) -> Erasure:
    """Remove a contact's personal data for good (GDPR erasure).

    The contact row stays as a nameless placeholder, so that their scores still count in
    every aggregate; their responses become anonymous and lose the free text they wrote, and
    the aggregates keyed by who answered hold each of them alone from then on.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise PrivacyError(f"there is no contact #{contact_id}")
    if was_erased(session, contact_id):
        raise PrivacyError(f"contact #{contact_id} was already erased")
    contact.name = ""
    contact.email = f"erased-{contact_id}@{ERASED_DOMAIN}"
    session.add(contact)
    responses = session.exec(
        update(Response)
        .where(col(Response.contact_id) == contact_id)
        .values(anonymous=True, comment=None, leader_other=None)
    ).rowcount
    aggregates.rekey_respondent(session, contact_id)
    unanswered = select(Invitation.id).where(Invitation.contact_id == contact_id)
    drafts = session.exec(delete(Draft).where(col(Draft.invitation_id).in_(unanswered))).rowcount
    session.add(ContactErasure(contact_id=contact_id, erased_at=now, erased_by=actor))
    audit.record(
        session,
        actor,
        "contact_erased",
        f"contact #{contact_id} of account #{contact.account_id}: {responses} responses anonymised",
        at=now,
    )
    return Erasure(contact_id=contact_id, responses=int(responses or 0), drafts=int(drafts or 0))


def retention_cutoff(now: datetime, months: int) -> datetime:
    return (pd.Timestamp(now) - pd.DateOffset(months=months)).to_pydatetime()


def purge_comments(session: Session, *, months: int, now: datetime, actor: str) -> int:
    """Clear free-text comments of responses submitted more than ``months`` months ago."""
    if months < 1:
        raise PrivacyError(f"the retention must be at least one month, not {months}")
    cutoff = retention_cutoff(now, months)
    purged = session.exec(
        update(Response)
        .where(col(Response.submitted_at) < cutoff, col(Response.comment).is_not(None))
        .values(comment=None)
    ).rowcount
    if purged:
        audit.record(
            session, actor, "comments_purged", f"{purged} comments older than {months} months", at=now
        )
    return int(purged or 0)
