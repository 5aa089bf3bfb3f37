"""Owner alerts: when a response opens a follow-up, the account's owner hears at once (or in
their daily digest, or not at all, as they chose), team chat channels are told, and webhooks
subscribed to ``followup.created`` are called. Everything is recorded in the outbox within the
submit transaction and sent by the worker within a minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.settings import get_settings
from models.tables import Account, Contact, FollowUp, IndicatorScore, Response, Touchpoint, User
from survey.instrument.definition import load_instrument
from survey.loop import chat, webhooks
from survey.loop.messages import Notice, Table, queue_email
from survey.loop.preferences import mode_for, preference_of
from survey.loop.texts import DATE_FORMATS, reasons_label, text
from survey.people.privacy import shown_identity
from survey.sending.mailer import MailSettings

WHOLE_ACCOUNT = "the whole account"


@dataclass(frozen=True)
class FollowUpFacts:
    """One follow-up as the alert, the chat message and the webhook describe it."""

    follow_up_id: int
    response_id: int | None  # None for a follow-up of the whole account
    account_id: int
    account: str
    owner: str
    contact: str | None  # None when the respondent asked to stay anonymous
    contact_email: str | None
    touchpoint: str
    submitted_at: datetime
    nps: int | None
    moment: str | None
    reasons: str
    detail: str
    comment: str | None
    due_at: datetime | None
    scores: dict[str, float]  # own scores 0-100 by indicator code
    instrument_version: int


def facts_of(session: Session, follow_up: FollowUp) -> FollowUpFacts:
    account = session.get_one(Account, follow_up.account_id)
    if follow_up.response_id is None:  # the whole account: no contact, touchpoint or answers
        return FollowUpFacts(
            follow_up_id=follow_up.id or 0,
            response_id=None,
            account_id=account.id or 0,
            account=account.name,
            owner=account.owner,
            contact=None,
            contact_email=None,
            touchpoint=WHOLE_ACCOUNT,
            submitted_at=follow_up.created_at,
            nps=None,
            moment=None,
            reasons=follow_up.reasons,
            detail=follow_up.detail,
            comment=None,
            due_at=follow_up.due_at,
            scores={},
            instrument_version=0,
        )
    response = session.get_one(Response, follow_up.response_id)
    touchpoint = session.get_one(Touchpoint, response.touchpoint_id)
    contact = session.get(Contact, response.contact_id) if response.contact_id else None
    scores = session.exec(
        select(IndicatorScore.indicator, IndicatorScore.score_100).where(
            IndicatorScore.response_id == response.id, IndicatorScore.subject == "own"
        )
    ).all()
    named = (
        None if response.anonymous or contact is None else shown_identity(contact.name, contact.email, False)
    )
    return FollowUpFacts(
        follow_up_id=follow_up.id or 0,
        response_id=response.id or 0,
        account_id=account.id or 0,
        account=account.name,
        owner=account.owner,
        contact=named or None,
        contact_email=None if response.anonymous or contact is None else contact.email or None,
        touchpoint=touchpoint.name,
        submitted_at=response.submitted_at,
        nps=response.nps,
        moment=response.moment,
        reasons=follow_up.reasons,
        detail=follow_up.detail,
        comment=response.comment,
        due_at=follow_up.due_at,
        scores={code: float(value) for code, value in scores},
        instrument_version=response.instrument_version,
    )


def followup_link(base_url: str, follow_up_id: int) -> str:
    return f"{base_url.rstrip('/')}/followup?followup={follow_up_id}"


def _labels(version: int, language: str) -> dict[str, str]:
    try:
        instrument = load_instrument(version)
    except Exception:
        return {}
    return {i.code: i.label.get(language) or i.label["en"] for i in instrument.indicators}


def alert_notice(facts: FollowUpFacts, *, to: str, language: str, base_url: str) -> Notice:
    when = facts.submitted_at.strftime(DATE_FORMATS.get(language, DATE_FORMATS["en"]))
    reasons = reasons_label(language, facts.reasons)
    lines = [
        text(language, "alert_intro", id=facts.follow_up_id, account=facts.account),
        text(language, "alert_contact", contact=facts.contact)
        if facts.contact
        else text(language, "alert_anonymous"),
        text(language, "alert_touchpoint", touchpoint=facts.touchpoint, when=when),
        text(language, "alert_why", detail=facts.detail),
    ]
    if facts.due_at is not None:
        lines.append(
            text(
                language,
                "alert_due",
                due=facts.due_at.strftime(DATE_FORMATS.get(language, DATE_FORMATS["en"])),
            )
        )
    if facts.comment:
        lines.append(text(language, "alert_comment"))
    labels = _labels(facts.instrument_version, language)
    ordered = [code for code in labels if code in facts.scores] + sorted(set(facts.scores) - set(labels))
    table = Table(
        heading=text(language, "alert_scores"),
        columns=[text(language, "indicator"), text(language, "score")],
        rows=[[labels.get(code, code), f"{facts.scores[code]:.0f}"] for code in ordered],
    )
    return Notice(
        to=to,
        subject=text(
            language, "alert_subject", id=facts.follow_up_id, account=facts.account, reasons=reasons
        ),
        language=language,
        title=text(language, "alert_title", account=facts.account),
        paragraphs=lines,
        quote=facts.comment,
        tables=[table] if table.rows else [],
        link=followup_link(base_url, facts.follow_up_id),
        link_label=text(language, "open_followup"),
        footer=text(language, "footer"),
    )


def chat_text(facts: FollowUpFacts, base_url: str) -> str:
    return text(
        "en",
        "chat",
        id=facts.follow_up_id,
        account=facts.account,
        reasons=reasons_label("en", facts.reasons),
        detail=facts.detail,
        touchpoint=facts.touchpoint,
        link=followup_link(base_url, facts.follow_up_id),
    )


def webhook_data(facts: FollowUpFacts) -> dict[str, object]:
    return {
        "follow_up_id": facts.follow_up_id,
        "response_id": facts.response_id,
        "account": {"id": facts.account_id, "name": facts.account, "owner": facts.owner or None},
        "contact": None
        if facts.contact_email is None
        else {"email": facts.contact_email, "name": facts.contact},
        "touchpoint": facts.touchpoint,
        "reasons": [r for r in facts.reasons.split(",") if r],
        "detail": facts.detail,
        "nps": facts.nps,
        "moment": facts.moment,
        "due_at": facts.due_at.isoformat() if facts.due_at else None,
    }


def owner_user(session: Session, owner: str) -> User | None:
    if not owner:
        return None
    return session.exec(select(User).where(User.username == owner, col(User.active))).first()


def followup_opened(session: Session, follow_up: FollowUp, *, now: datetime) -> None:
    """Record the alert, chat messages and webhook calls for a follow-up just opened."""
    settings = get_settings()
    facts = facts_of(session, follow_up)
    user = owner_user(session, facts.owner)
    if user is not None and user.email:
        preference = preference_of(session, user.username)
        if mode_for(preference, facts.reasons) == "immediately":
            queue_email(
                session,
                alert_notice(facts, to=user.email, language=preference.language, base_url=settings.base_url),
                topic="followup.alert",
                sender=MailSettings.from_env().sender,
                now=now,
                dedupe_key=f"alert:{facts.follow_up_id}:{user.username}",
            )
    chat.announce(
        session,
        owner=facts.owner,
        text=chat_text(facts, settings.base_url),
        subject=f"followup:{facts.follow_up_id}",
        now=now,
    )
    webhooks.publish(session, "followup.created", facts.follow_up_id, webhook_data(facts), now=now)


def response_stored(session: Session, response: Response, *, now: datetime) -> None:
    """Tell webhooks subscribed to ``response.created`` (no contact when anonymous)."""
    if not webhooks.subscribers(session, "response.created"):
        return  # nobody listens: the submit does no more work than one small query

    account = session.get_one(Account, response.account_id)
    touchpoint = session.get_one(Touchpoint, response.touchpoint_id)
    contact = None
    if not response.anonymous and response.contact_id:
        row = session.get(Contact, response.contact_id)
        contact = {"email": row.email, "name": row.name} if row else None
    scores = session.exec(
        select(IndicatorScore.indicator, IndicatorScore.score, IndicatorScore.score_100).where(
            IndicatorScore.response_id == response.id, IndicatorScore.subject == "own"
        )
    ).all()
    data = {
        "response_id": response.id,
        "submitted_at": response.submitted_at.isoformat(),
        "account": {"id": account.id, "name": account.name, "external_id": account.external_id},
        "contact": contact,
        "touchpoint": touchpoint.code,
        "nps": response.nps,
        "nps_category": response.nps_category,
        "moment": response.moment,
        "anonymous": response.anonymous,
        "scores": {code: {"score": s, "score_100": s100} for code, s, s100 in scores},
    }
    webhooks.publish(session, "response.created", response.id or 0, data, now=now)
