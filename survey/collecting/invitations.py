"""Invitations: creating survey links and telling what state a link is in."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, or_
from sqlmodel import Session, col, func, select

from models.settings import get_settings
from models.tables import (
    Account,
    Competitor,
    Contact,
    Delivery,
    Draft,
    Interaction,
    Invitation,
    Touchpoint,
)
from survey.collecting.forms import choose_form
from survey.collecting.tokens import hash_token, looks_like_token, new_token, survey_link
from survey.instrument.forms import PULSE, pulse_page
from survey.instrument.touchpoints import find_touchpoint, survey_due_at
from survey.instrument.workflow import instrument_of, newest
from survey.people.access import EVERYTHING, Scope
from survey.sending.headers import contact_problems

# An interaction happened after this and at the latest a day from now (clocks and time zones).
EARLIEST_INTERACTION = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


class InviteError(ValueError):
    """The invitation could not be created; the message says which input is wrong."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class LinkState(enum.StrEnum):
    VALID = "valid"
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class SurveyContext:
    """What the survey page needs to show for one valid link."""

    invitation_id: int
    account_name: str
    touchpoint_name: str
    occurred_at: datetime
    language: str
    instrument_version: int
    competitors: list[tuple[int, str]]
    form: str = "checkup"
    # The statements and questions of a pulse's one screen, in order; empty for a check-up.
    pulse_page: tuple[str, ...] = ()
    draft_answers: dict[str, Any] = field(default_factory=dict)
    draft_step: int = 0
    resumed: bool = False


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    context: SurveyContext | None = None
    # When the link expired or was used, for the message.
    when: datetime | None = None


def check_link(session: Session, token: str | None, now: datetime) -> LinkCheck:
    """Classify a survey link. Reads only: an invalid link changes nothing."""
    if not token:
        return LinkCheck(LinkState.MISSING)
    if not looks_like_token(token):
        return LinkCheck(LinkState.MALFORMED)
    digest = hash_token(token)
    invitation = session.exec(select(Invitation).where(Invitation.token_hash == digest)).first()
    if invitation is None:
        # The reminder's link opens the same invitation.
        invitation = session.exec(
            select(Invitation)
            .join(Delivery, col(Delivery.invitation_id) == Invitation.id)
            .where(Delivery.reminder_token_hash == digest)
        ).first()
    if invitation is None:
        return LinkCheck(LinkState.UNKNOWN)
    if invitation.completed_at is not None:
        return LinkCheck(LinkState.USED, when=invitation.completed_at)
    if invitation.expires_at <= now:
        return LinkCheck(LinkState.EXPIRED, when=invitation.expires_at)
    return LinkCheck(LinkState.VALID, context=_context(session, invitation))


def _context(session: Session, invitation: Invitation) -> SurveyContext:
    interaction = session.get_one(Interaction, invitation.interaction_id)
    account = session.get_one(Account, interaction.account_id)
    touchpoint = session.get_one(Touchpoint, interaction.touchpoint_id)
    contact = session.get_one(Contact, invitation.contact_id)
    competitors = session.exec(
        select(Competitor.id, Competitor.name).where(Competitor.active).order_by(Competitor.name)
    ).all()
    draft = session.get(Draft, invitation.id)
    instrument = instrument_of(session, invitation.instrument_version)  # perhaps another replica's
    return SurveyContext(
        invitation_id=invitation.id or 0,
        account_name=account.name,
        touchpoint_name=touchpoint.name,
        occurred_at=interaction.occurred_at,
        language=instrument.language_for(draft.locale if draft else contact.language),
        instrument_version=invitation.instrument_version,
        competitors=[(cid, name) for cid, name in competitors if cid is not None],
        form=invitation.form,
        pulse_page=pulse_page(instrument, invitation.design_slot or 0) if invitation.form == PULSE else (),
        draft_answers=dict(draft.answers) if draft else {},
        draft_step=draft.step if draft else 0,
        resumed=draft is not None and bool(draft.answers),
    )


def mark_opened(session: Session, invitation_id: int, now: datetime) -> None:
    """Record the first time a valid link was opened."""
    invitation = session.get_one(Invitation, invitation_id)
    if invitation.opened_at is None:
        invitation.opened_at = now
        session.add(invitation)


def create_invitation(
    session: Session,
    *,
    interaction: Interaction,
    contact: Contact,
    now: datetime,
    valid_days: int,
    checkup_days: int | None = None,
) -> tuple[Invitation, str]:
    """A new invitation on the newest instrument, as a pulse or a check-up
    (``choose_form``; ``checkup_days`` defaults to ``PULSE_CHECKUP_DAYS``); returns it with
    its one-time token."""
    if valid_days < 1:
        raise InviteError("a link must stay valid for at least one day")
    if contact.account_id != interaction.account_id:
        # A contact answers only for their own account: reports count an account's answers as
        # coming from people of its own (``survey.reporting.dashboard.few``).
        raise InviteError(
            f"contact {contact.id} belongs to account {contact.account_id}, "
            f"not to the interaction's account {interaction.account_id}"
        )
    version = newest(session).version
    touchpoint = session.get_one(Touchpoint, interaction.touchpoint_id)
    due = survey_due_at(touchpoint, interaction.occurred_at)
    send_after = due if due > now else None
    choice = choose_form(
        session,
        touchpoint=touchpoint,
        contact_id=contact.id or 0,
        instrument_version=version,
        now=now,
        checkup_days=get_settings().checkup_days if checkup_days is None else checkup_days,
    )
    token = new_token()
    invitation = Invitation(
        interaction_id=interaction.id or 0,
        contact_id=contact.id or 0,
        token_hash=hash_token(token),
        instrument_version=version,
        form=choice.form,
        design_slot=choice.slot,
        created_at=now,
        send_after=send_after,
        # A scheduled link stays valid as long after it goes out as any other.
        expires_at=(send_after or now) + timedelta(days=valid_days),
    )
    session.add(invitation)
    session.flush()
    return invitation, token


@dataclass(frozen=True)
class InviteResult:
    # Empty for a scheduled invitation: its link is made when its mail goes out.
    link: str
    created: list[str]
    invitation_id: int
    interaction_id: int = 0
    # When the mail of an invitation held back by the touchpoint's survey delay goes out.
    scheduled_for: datetime | None = None


@dataclass
class Recorded:
    """An interaction as stored, with what had to be created for it."""

    account: Account
    contact: Contact
    interaction: Interaction
    created: list[str]


def record_interaction(
    session: Session,
    *,
    account_name: str,
    contact_email: str,
    touchpoint: str,
    now: datetime,
    contact_name: str = "",
    language: str = "en",
    occurred_at: datetime | None = None,
    account_external_id: str | None = None,
    contact_role: str | None = None,
    interaction_external_id: str | None = None,
    segment: str | None = None,
    owner: str | None = None,
    allowed: Scope = EVERYTHING,
) -> Recorded:
    """Store an interaction, creating its account and contact when they are new."""
    account_name = account_name.strip()
    contact_email = contact_email.strip().lower()
    if not account_name:
        raise InviteError("the account name is empty", "account.name")
    # Nothing is stored that the invitation's mail could not carry (see survey/sending/headers.py).
    for field_name, problem in contact_problems(
        account_name=account_name, contact_email=contact_email, contact_name=contact_name
    ):
        raise InviteError(f"{field_name.replace('.', ' ')} {problem}", field_name)
    if occurred_at is not None and not EARLIEST_INTERACTION <= occurred_at <= now + FUTURE_SLACK:
        raise InviteError(
            f"the interaction's time {occurred_at:%Y-%m-%d %H:%M} is not between "
            f"{EARLIEST_INTERACTION:%Y-%m-%d} and tomorrow",
            "occurred_at",
        )
    found_touchpoint = find_touchpoint(session, touchpoint)
    if found_touchpoint is None:
        known = ", ".join(
            session.exec(
                select(Touchpoint.code).where(Touchpoint.active).order_by(col(Touchpoint.stage))
            ).all()
        )
        raise InviteError(f"unknown touchpoint '{touchpoint}' (known: {known})", "touchpoint")
    if not found_touchpoint.active:
        raise InviteError(
            f"touchpoint '{found_touchpoint.name}' is retired: it takes no new interactions", "touchpoint"
        )
    offered = newest(session).languages
    if language not in offered:
        raise InviteError(
            f"language '{language}' is not offered (have {', '.join(offered)})",
            "contact.language",
        )

    created = []
    # A CRM's own id wins over the name, which the CRM may have changed since.
    account = None
    if account_external_id:
        account = session.exec(select(Account).where(Account.external_id == account_external_id)).first()
    if account is None:
        # In any case: "ACME tools" is Acme Tools, whose owner decides who may use it. (SQLite's
        # lower() folds ASCII only; the exact name always matches, and first.)
        account = session.exec(
            select(Account)
            .where(or_(col(Account.name) == account_name, func.lower(Account.name) == account_name.lower()))
            .order_by(case((col(Account.name) == account_name, 0), else_=1), col(Account.id))
        ).first()
        if account is not None and account_external_id and account.external_id is None:
            account.external_id = account_external_id
            session.add(account)
    if account is not None and not allowed.allows(account.id):
        raise InviteError(f"account '{account_name}' is not one of your accounts", "account.name")
    if account is None:
        account = Account(
            name=account_name,
            external_id=account_external_id,
            segment=segment or "",
            owner=owner or "",
            created_at=now,
        )
        session.add(account)
        session.flush()
        created.append(f"account '{account_name}'")
    contact = session.exec(
        select(Contact).where(Contact.account_id == account.id, Contact.email == contact_email)
    ).first()
    if contact is None:
        contact = Contact(
            account_id=account.id or 0,
            email=contact_email,
            name=contact_name,
            language=language,
            role=contact_role or "user",
            created_at=now,
        )
        session.add(contact)
        session.flush()
        created.append(f"contact {contact_email}")
    interaction = Interaction(
        account_id=account.id or 0,
        contact_id=contact.id,
        touchpoint_id=found_touchpoint.id or 0,
        occurred_at=occurred_at or now,
        external_id=interaction_external_id,
        created_at=now,
    )
    session.add(interaction)
    session.flush()
    created.append(f"{found_touchpoint.name.lower()} interaction #{interaction.id}")
    return Recorded(account=account, contact=contact, interaction=interaction, created=created)


def invite(
    session: Session,
    *,
    now: datetime,
    base_url: str,
    valid_days: int,
    **interaction: Any,
) -> InviteResult:
    """Record an interaction and invite the contact, creating the account and contact if new.
    ``interaction`` takes the arguments of ``record_interaction``."""
    recorded = record_interaction(session, now=now, **interaction)
    return invite_recorded(session, recorded, now=now, base_url=base_url, valid_days=valid_days)


def invite_recorded(
    session: Session, recorded: Recorded, *, now: datetime, base_url: str, valid_days: int
) -> InviteResult:
    """Invite the contact of an interaction just recorded."""
    invitation, token = create_invitation(
        session,
        interaction=recorded.interaction,
        contact=recorded.contact,
        now=now,
        valid_days=valid_days,
    )
    created = recorded.created
    created.append(f"invitation #{invitation.id}, valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC")
    if invitation.send_after is not None:
        # Nobody gets this token: the link is made afresh when the mail goes out.
        created.append(f"survey email scheduled for {invitation.send_after:%Y-%m-%d %H:%M} UTC")
    return InviteResult(
        link="" if invitation.send_after is not None else survey_link(base_url, token),
        created=created,
        invitation_id=invitation.id or 0,
        interaction_id=recorded.interaction.id or 0,
        scheduled_for=invitation.send_after,
    )
