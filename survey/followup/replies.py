""" "You said, we did": when a follow-up is closed, the account owner may send the contact a
short personal message saying what was done. Never for an anonymous response, an erased
contact or one who opted out of our emails. The message is recorded on the follow-up, and the
contact's next survey says that their last feedback was acted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.tables import (
    Account,
    Contact,
    ContactErasure,
    FollowUp,
    Invitation,
    OptOut,
    Response,
    Touchpoint,
    User,
)
from survey.loop.messages import Notice, queue_email
from survey.loop.texts import language_of, text
from survey.people.access import EVERYTHING, Scope
from survey.sending.mailer import MailSettings

MESSAGE_MAX = 2000


@dataclass(frozen=True)
class Reply:
    to: str
    language: str
    text: str
    owner_name: str
    owner_email: str | None


@dataclass(frozen=True)
class ReplyDraft:
    """What the page offers before closing: the editable template, or why none can be sent."""

    possible: bool
    why_not: str
    language: str
    text: str
    to: str


def _refusal(session: Session, follow_up: FollowUp) -> tuple[str | None, Contact | None, Response | None]:
    if follow_up.response_id is None:
        return "it is about the whole account, not one contact's answer", None, None
    response = session.get_one(Response, follow_up.response_id)
    if response.anonymous:
        return "the respondent asked to stay anonymous, so they are not written to", None, response
    contact = session.get(Contact, response.contact_id) if response.contact_id else None
    if contact is None or session.get(ContactErasure, contact.id) is not None or not contact.email:
        return "the contact's details were erased", None, response
    if session.get(OptOut, contact.email.lower()) is not None:
        return f"{contact.email} opted out of our emails", contact, response
    return None, contact, response


def _owner(session: Session, follow_up: FollowUp) -> tuple[str, str | None]:
    account = session.get_one(Account, follow_up.account_id)
    user = session.exec(select(User).where(User.username == account.owner)).first() if account.owner else None
    if user is None:
        return account.owner or "Your account team", None
    return user.display_name or user.username, user.email


def draft_for(session: Session, follow_up_id: int, scope: Scope = EVERYTHING) -> ReplyDraft:
    """The message template in the contact's language, ready to edit, or why none can be sent."""
    from survey.followup.queue import FollowUpError

    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None or not scope.allows(follow_up.account_id):
        raise FollowUpError(f"there is no follow-up #{follow_up_id}")
    why, contact, response = _refusal(session, follow_up)
    if why is not None or contact is None or response is None:
        return ReplyDraft(False, why or "", "en", "", "")
    language = language_of(contact.language)
    owner, _ = _owner(session, follow_up)
    touchpoint = session.get_one(Touchpoint, response.touchpoint_id).name
    body = text(
        language, "reply_default", name=contact.name or contact.email, touchpoint=touchpoint, owner=owner
    )
    return ReplyDraft(True, "", language, body, contact.email)


def prepare(session: Session, follow_up: FollowUp, message: str) -> Reply:
    """Check that the contact may be written to and the message is fit to send."""
    from survey.followup.queue import FollowUpError

    why, contact, _ = _refusal(session, follow_up)
    if why is not None or contact is None:
        raise FollowUpError(f"no message can go to the contact: {why}")
    body = message.strip() if isinstance(message, str) else ""
    if not body or body.replace("…", "").strip() == "":
        raise FollowUpError("the message to the contact is empty: say what was done")
    if "…" in body:
        raise FollowUpError("the message to the contact still has the template's gap (…): fill it in")
    if len(body) > MESSAGE_MAX:
        raise FollowUpError(
            f"the message to the contact has {len(body)} characters, more than the {MESSAGE_MAX} allowed"
        )
    owner_name, owner_email = _owner(session, follow_up)
    return Reply(contact.email, language_of(contact.language), body, owner_name, owner_email)


def queue(session: Session, follow_up: FollowUp, reply: Reply, *, now: datetime) -> None:
    """Record the message on the follow-up and in the outbox, in the caller's transaction."""
    sender = MailSettings.from_env().sender
    notice = Notice(
        to=reply.to,
        subject=text(reply.language, "reply_subject"),
        language=reply.language,
        title=text(reply.language, "reply_subject"),
        paragraphs=reply.text.split("\n\n"),
        reply_to=reply.owner_email,
    )
    queue_email(
        session, notice, topic="followup.reply", sender=sender, now=now,
        dedupe_key=f"reply:{follow_up.id}:{now.isoformat()}", customer=True,
    )  # fmt: skip
    follow_up.customer_message = reply.text
    follow_up.customer_message_at = now


def acted_on_before(session: Session, invitation_id: int) -> datetime | None:
    """When the invited contact was last told what was done about their feedback, if before
    this invitation: their next survey says so."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        return None
    return session.exec(
        select(FollowUp.customer_message_at)
        .join(Response, col(Response.id) == FollowUp.response_id)
        .where(
            Response.contact_id == invitation.contact_id,
            col(FollowUp.customer_message_at).is_not(None),
            col(FollowUp.customer_message_at) <= invitation.created_at,
        )
        .order_by(col(FollowUp.customer_message_at).desc())
    ).first()
