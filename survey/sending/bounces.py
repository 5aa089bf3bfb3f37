"""``process-bounces``: delivery-failure reports (a maildir or an mbox file) read with
``flufl.bounce``, which recognises the many formats mail servers use. Each address that failed
for good has its open invitations marked *bounced* and is put on the opt-out list, so that it
is not mailed again. Reading the same reports again changes nothing more."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flufl.bounce import all_failures
from sqlmodel import Session, col, select

from models.tables import Contact, Delivery, Invitation
from survey.sending.optout import opt_out


class BounceError(ValueError):
    """The reports cannot be read; the message says why."""


@dataclass
class BounceReport:
    messages: int = 0
    reports: int = 0  # messages that were delivery-failure reports
    addresses: list[str] = field(default_factory=list)  # failed for good
    invitations: int = 0  # newly marked bounced
    unknown: list[str] = field(default_factory=list)  # addresses we never invited


def _messages(path: Path) -> mailbox.Mailbox:
    if not path.exists():
        raise BounceError(f"{path} does not exist")
    if path.is_dir():
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise BounceError(f"{path} is a folder but not a maildir (it needs cur/ and new/)")
        return mailbox.Maildir(path, factory=None, create=False)
    return mailbox.mbox(path, factory=None, create=False)


def process(session: Session, path: Path, *, now: datetime) -> BounceReport:
    """Mark the invitations of every address that bounced for good, in the caller's transaction."""
    result = BounceReport()
    failed: set[str] = set()
    for message in _messages(path):
        result.messages += 1
        _temporary, permanent = all_failures(message)
        if permanent:
            result.reports += 1
        failed |= {address.decode("utf-8", "replace").strip().lower() for address in permanent}
    for address in sorted(failed):
        result.addresses.append(address)
        invitations = session.exec(
            select(Delivery)
            .join(Invitation, col(Invitation.id) == Delivery.invitation_id)
            .join(Contact, col(Contact.id) == Invitation.contact_id)
            .where(
                Contact.email == address,
                col(Invitation.completed_at).is_(None),
                col(Delivery.status).in_(("sent", "outbox")),
            )
        ).all()
        if not session.exec(select(Contact.id).where(Contact.email == address)).first():
            result.unknown.append(address)
            continue
        for delivery in invitations:
            delivery.status = "bounced"
            delivery.detail = f"bounced (reported {now:%Y-%m-%d %H:%M} UTC)"
            session.add(delivery)
            result.invitations += 1
        opt_out(
            session,
            address,
            source="bounce",
            now=now,
            detail="a delivery-failure report said it failed for good",
        )
    return result
