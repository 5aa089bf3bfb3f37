"""Sending invitations and their one reminder, and retiring expired links.

Each send is recorded in ``Delivery``. A reminder is claimed in its own committed step
before the mail goes out, so two cron runs at once never remind the same person twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from models.tables import Account, Contact, Delivery, Draft, Interaction, Invitation, Touchpoint
from survey.collecting.tokens import hash_token, new_token, survey_link
from survey.instrument.definition import load_instrument
from survey.sending.mailer import Letter, MailSettings, SendFailed, compose, deliver


@dataclass(frozen=True)
class Sent:
    invitation_id: int
    to: str
    status: str  # sent, outbox, failed
    detail: str = ""


def first_answer_link(link: str, value: int) -> str:
    """The survey link that opens with ``value`` chosen for the 0-10 question (nothing is stored
    until the respondent submits)."""
    return f"{link}&nps={value}"


def _letter(session: Session, invitation: Invitation, kind: str, link: str) -> Letter:
    interaction = session.get_one(Interaction, invitation.interaction_id)
    contact = session.get_one(Contact, invitation.contact_id)
    instrument = load_instrument(invitation.instrument_version)
    nps = instrument.item("NPS")
    scale = instrument.scale_for(nps)
    language = instrument.language_for(contact.language)
    return Letter(
        first_question=nps.text[language],
        first_ends=(
            f"{scale.min} = {scale.labels[scale.min][language]}" if scale else "",
            f"{scale.max} = {scale.labels[scale.max][language]}" if scale else "",
        ),
        first_links=tuple(first_answer_link(link, v) for v in range(scale.min, scale.max + 1))
        if scale
        else (),
        kind=kind,
        language=contact.language,
        to=contact.email,
        name=contact.name,
        account=session.get_one(Account, interaction.account_id).name,
        touchpoint=session.get_one(Touchpoint, interaction.touchpoint_id).name,
        occurred_at=interaction.occurred_at,
        expires_at=invitation.expires_at,
        link=link,
    )


def _deliver(letter: Letter, mail: MailSettings) -> tuple[str, str]:
    try:
        return deliver(compose(letter, mail.sender), mail), ""
    except SendFailed as failure:
        return "failed", str(failure)


def send_invitation(
    session: Session, invitation_id: int, link: str, *, now: datetime, mail: MailSettings
) -> Sent:
    """Email the invitation's link (the caller has it: only its hash is stored)."""
    invitation = session.get_one(Invitation, invitation_id)
    letter = _letter(session, invitation, "invitation", link)
    status, detail = _deliver(letter, mail)
    delivery = session.get(Delivery, invitation_id) or Delivery(invitation_id=invitation_id, status=status)
    delivery.status, delivery.detail = status, detail
    if status != "failed":
        delivery.sent_at = now
        invitation.sent_at = now
        session.add(invitation)
    session.add(delivery)
    session.commit()
    return Sent(invitation_id, letter.to, status, detail)


def send_reminders(
    session: Session, *, now: datetime, after_days: int, base_url: str, mail: MailSettings
) -> list[Sent]:
    """One reminder, with a fresh link, to each contact who has not answered ``after_days``
    after the invitation went out and whose link still works. Safe to run again."""
    due = session.exec(
        select(Invitation.id)
        .join(Delivery, Delivery.invitation_id == Invitation.id)
        .where(
            col(Invitation.completed_at).is_(None),
            Invitation.expires_at > now,
            col(Delivery.status).in_(("sent", "outbox")),
            col(Delivery.reminded_at).is_(None),
            col(Delivery.sent_at) <= now - timedelta(days=after_days),
        )
        .order_by(Invitation.id)
    ).all()
    results = []
    for invitation_id in due:
        token = new_token()
        claimed = session.exec(
            update(Delivery)
            .where(col(Delivery.invitation_id) == invitation_id, col(Delivery.reminded_at).is_(None))
            .values(reminded_at=now, reminder_token_hash=hash_token(token))
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
        if not claimed:
            continue  # another run reminded this one a moment ago
        invitation = session.get_one(Invitation, invitation_id)
        status, detail = _deliver(
            _letter(session, invitation, "reminder", survey_link(base_url, token)), mail
        )
        if status == "failed":
            delivery = session.get_one(Delivery, invitation_id)
            delivery.detail = f"reminder failed: {detail}"[:500]
            session.add(delivery)
            session.commit()
        results.append(
            Sent(invitation_id, session.get_one(Contact, invitation.contact_id).email, status, detail)
        )
    return results


def expire(session: Session, *, now: datetime) -> int:
    """Drop the saved answers of links that expired unanswered; returns how many were dropped."""
    expired = select(Invitation.id).where(
        Invitation.expires_at <= now, col(Invitation.completed_at).is_(None)
    )
    dropped = session.exec(delete(Draft).where(col(Draft.invitation_id).in_(expired))).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(dropped or 0)


def send_all(
    session: Session, invitations: list[tuple[int, str]], *, now: datetime, mail: MailSettings
) -> list[Sent]:
    """Email each (invitation id, link), after the invitations are committed."""
    return [
        send_invitation(session, invitation_id, link, now=now, mail=mail)
        for invitation_id, link in invitations
    ]
