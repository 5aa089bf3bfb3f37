"""Sending invitations and their one reminder, and retiring expired links.

Each send is recorded in ``Delivery``. A reminder is claimed in its own committed step
before the mail goes out, so two cron runs at once never remind the same person twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import cast

from sqlalchemy import func, update
from sqlmodel import Session, col, delete, select

from models.settings import get_settings
from models.tables import Account, Contact, Delivery, Draft, Interaction, Invitation, OptOut, Touchpoint
from survey.collecting.tokens import hash_token, new_token, survey_link
from survey.instrument.definition import load_instrument
from survey.sending.mailer import Letter, MailSettings, SendFailed, compose, deliver
from survey.sending.optout import new_link, opted_out


@dataclass(frozen=True)
class Sent:
    invitation_id: int
    to: str
    status: str  # sent, outbox, failed, skipped (on the opt-out list), scheduled (not yet due)
    detail: str = ""


def first_answer_link(link: str, value: int) -> str:
    """The survey link that opens with ``value`` chosen for the 0-10 question (nothing is stored
    until the respondent submits)."""
    return f"{link}&nps={value}"


def _letter(
    session: Session,
    invitation: Invitation,
    kind: str,
    link: str,
    *,
    now: datetime,
    base_url: str | None = None,
) -> Letter:
    interaction = session.get_one(Interaction, invitation.interaction_id)
    contact = session.get_one(Contact, invitation.contact_id)
    base = base_url or get_settings().base_url
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
        unsubscribe=new_link(session, contact.email, base_url=base, now=now),
    )


def _deliver(letter: Letter | EmailMessage, mail: MailSettings) -> tuple[str, str]:
    message = letter if isinstance(letter, EmailMessage) else compose(letter, mail.sender)
    try:
        return deliver(message, mail), ""
    except SendFailed as failure:
        return "failed", str(failure)


def invitation_message(
    session: Session, invitation_id: int, link: str, *, mail: MailSettings
) -> EmailMessage:
    """The invitation's mail, built in the transaction that creates the invitation: text that
    cannot go into a header fails here, before anything is committed, never after."""
    invitation = session.get_one(Invitation, invitation_id)
    letter = _letter(session, invitation, "invitation", link, now=invitation.created_at)
    return compose(letter, mail.sender)


def send_invitation(
    session: Session,
    invitation_id: int,
    link: str,
    *,
    now: datetime,
    mail: MailSettings,
    message: EmailMessage | None = None,
) -> Sent:
    """Email the invitation's link (the caller has it: only its hash is stored); ``message``
    is the mail built before the invitation was committed (``invitation_message``)."""
    invitation = session.get_one(Invitation, invitation_id)
    contact = session.get_one(Contact, invitation.contact_id)
    if invitation.send_after is not None and invitation.send_after > now:
        # The touchpoint's survey delay: ``send_due_invitations`` sends it once due.
        return Sent(
            invitation_id,
            contact.email,
            "scheduled",
            f"goes out at {invitation.send_after:%Y-%m-%d %H:%M} UTC",
        )
    refused = opted_out(session, contact.email)
    if refused is not None:
        # Opted out (or bounced) after the invitation was made: nothing goes out.
        delivery = session.get(Delivery, invitation_id) or Delivery(
            invitation_id=invitation_id, status="skipped"
        )
        delivery.status, delivery.detail = (
            "skipped",
            f"{contact.email} is on the opt-out list ({refused.source})",
        )
        session.add(delivery)
        session.commit()
        return Sent(invitation_id, contact.email, "skipped", delivery.detail)
    letter = message or _letter(session, invitation, "invitation", link, now=now)
    session.flush()
    status, detail = _deliver(letter, mail)
    delivery = session.get(Delivery, invitation_id) or Delivery(invitation_id=invitation_id, status=status)
    delivery.status, delivery.detail = status, detail
    if status != "failed":
        delivery.sent_at = now
        invitation.sent_at = now
        session.add(invitation)
    session.add(delivery)
    session.commit()
    return Sent(invitation_id, contact.email, status, detail)


def send_due_invitations(session: Session, *, now: datetime, base_url: str, mail: MailSettings) -> list[Sent]:
    """Email each invitation the touchpoint's survey delay held back, once due, with a link made
    now (nobody had one before). Each is claimed, by replacing its token, in its own committed
    step before the mail goes out, so two cron runs at once never send one twice."""
    due = session.exec(
        select(Invitation.id, Invitation.token_hash)
        .where(
            col(Invitation.send_after) <= now,
            col(Invitation.sent_at).is_(None),
            col(Invitation.completed_at).is_(None),
            Invitation.expires_at > now,
            col(Invitation.id).not_in(select(Delivery.invitation_id)),
        )
        .order_by(col(Invitation.send_after), col(Invitation.id))
    ).all()
    results = []
    for invitation_id, old_hash in due:
        token = new_token()
        claimed = session.exec(
            update(Invitation)
            .where(
                col(Invitation.id) == invitation_id,
                col(Invitation.token_hash) == old_hash,
                col(Invitation.sent_at).is_(None),
            )
            .values(token_hash=hash_token(token))
        ).rowcount
        session.commit()
        if not claimed:
            continue  # another run sent this one a moment ago
        session.expire_all()
        results.append(
            send_invitation(
                session, cast(int, invitation_id), survey_link(base_url, token), now=now, mail=mail
            )
        )
    return results


def send_reminders(
    session: Session, *, now: datetime, after_days: int, base_url: str, mail: MailSettings
) -> list[Sent]:
    """One reminder, with a fresh link, to each contact who has not answered ``after_days``
    after the invitation went out and whose link still works. Safe to run again."""
    due = session.exec(
        select(Invitation.id)
        .join(Delivery, col(Delivery.invitation_id) == Invitation.id)
        .where(
            col(Invitation.completed_at).is_(None),
            Invitation.expires_at > now,
            col(Delivery.status).in_(("sent", "outbox")),
            col(Delivery.reminded_at).is_(None),
            col(Delivery.sent_at) <= now - timedelta(days=after_days),
            # Nobody on the opt-out list is reminded.
            col(Invitation.contact_id).not_in(
                select(Contact.id).join(OptOut, col(OptOut.email) == func.lower(Contact.email))
            ),
        )
        .order_by(col(Invitation.id))
    ).all()
    results = []
    for invitation_id in due:
        token = new_token()
        claimed = session.exec(
            update(Delivery)
            .where(col(Delivery.invitation_id) == invitation_id, col(Delivery.reminded_at).is_(None))
            .values(reminded_at=now, reminder_token_hash=hash_token(token))
        ).rowcount
        session.commit()
        if not claimed:
            continue  # another run reminded this one a moment ago
        invitation = session.get_one(Invitation, invitation_id)
        letter = _letter(
            session, invitation, "reminder", survey_link(base_url, token), now=now, base_url=base_url
        )
        session.commit()  # the unsubscribe link's token, before the message carrying it leaves
        status, detail = _deliver(letter, mail)
        if status == "failed":
            delivery = session.get_one(Delivery, invitation_id)
            delivery.detail = f"reminder failed: {detail}"[:500]
            session.add(delivery)
            session.commit()
        results.append(
            # A primary key read back from the table is never None.
            Sent(
                cast(int, invitation_id),
                session.get_one(Contact, invitation.contact_id).email,
                status,
                detail,
            )
        )
    return results


def expire(session: Session, *, now: datetime) -> int:
    """Drop the saved answers of links that expired unanswered; returns how many were dropped."""
    expired = select(Invitation.id).where(
        Invitation.expires_at <= now, col(Invitation.completed_at).is_(None)
    )
    dropped = session.exec(delete(Draft).where(col(Draft.invitation_id).in_(expired))).rowcount
    session.commit()
    return int(dropped or 0)


def send_all(
    session: Session,
    invitations: list[tuple[int, str]],
    *,
    now: datetime,
    mail: MailSettings,
    messages: dict[int, EmailMessage] | None = None,
) -> list[Sent]:
    """Email each (invitation id, link), after the invitations are committed, with the mail
    built before the commit where ``messages`` has it."""
    built = messages or {}
    return [
        send_invitation(session, invitation_id, link, now=now, mail=mail, message=built.get(invitation_id))
        for invitation_id, link in invitations
    ]
