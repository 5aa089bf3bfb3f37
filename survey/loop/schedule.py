"""What the clock makes due, recorded in the outbox on each pass of the worker: the one
escalation of follow-ups left open past their due time, the daily digests and the weekly
digests. Each is recorded once, however many workers run: escalations are claimed with one
``UPDATE … RETURNING``, digests carry a key per user and day or week."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from models.settings import Settings, get_settings
from models.tables import Account, FollowUp, NotificationPreference, User
from survey.followup import sla
from survey.loop import outbox
from survey.loop.digests import daily, weekly
from survey.loop.messages import Notice, Table, queue_email
from survey.loop.preferences import preference_of
from survey.loop.texts import DAY_FORMATS, reasons_label, text
from survey.sending.mailer import MailSettings

ESCALATION_LIST_MAX = 50
ID_CHUNK = 10_000  # ids bound in one statement: well under every database's limit


def escalation_recipients(session: Session, escalate_to: str) -> list[tuple[str, str]]:
    """(address, language) of who hears about overdue follow-ups: the named users or addresses,
    else every active admin with an email."""
    names = [part.strip() for part in escalate_to.split(",") if part.strip()]
    recipients = []
    if names:
        for name in names:
            user = session.exec(select(User).where(User.username == name, col(User.active))).first()
            if user is not None and user.email:
                recipients.append((user.email, preference_of(session, user.username).language))
            elif "@" in name:
                recipients.append((name, "en"))
        return recipients
    admins = session.exec(
        select(User).where(User.role == "admin", col(User.active), col(User.email).is_not(None))
    ).all()
    return [(a.email or "", preference_of(session, a.username).language) for a in admins]


def escalate(session: Session, *, now: datetime, settings: Settings, sender: str) -> list[int]:
    """Escalate each follow-up that went overdue, once: one email per recipient listing them."""
    ids = sla.claim_overdue(session, now)
    if not ids:
        return []
    # The mail lists the longest overdue only: those of each chunk of ids (a backlog may hold
    # more ids than a statement may bind), then of them all.
    found: list[tuple[FollowUp, str, str | None]] = []
    for start in range(0, len(ids), ID_CHUNK):
        found += session.exec(
            select(FollowUp, Account.name, Account.owner)
            .join(Account, col(Account.id) == FollowUp.account_id)
            .where(col(FollowUp.id).in_(ids[start : start + ID_CHUNK]))
            .order_by(col(FollowUp.due_at), col(FollowUp.id))
            .limit(ESCALATION_LIST_MAX)
        ).all()
    shown = sorted(found, key=lambda row: (row[0].due_at or now, row[0].id or 0))[:ESCALATION_LIST_MAX]
    for address, language in escalation_recipients(session, settings.escalate_to):
        day = DAY_FORMATS[language] + " %H:%M"
        table = Table(
            heading=text(language, "escalation_title"),
            columns=[text(language, k) for k in ("followup", "account", "owner", "why", "due")],
            rows=[
                [
                    f"#{f.id}",
                    name,
                    owner or "—",
                    reasons_label(language, f.reasons),
                    f.due_at.strftime(day) if f.due_at else "",
                ]
                for f, name, owner in shown
            ],
        )
        more = [f"+ {len(ids) - len(shown)}"] if len(ids) > len(shown) else []
        queue_email(
            session,
            Notice(
                to=address,
                subject=text(language, "escalation_subject", count=len(ids)),
                language=language,
                title=text(language, "escalation_title"),
                paragraphs=[text(language, "escalation_intro"), *more],
                tables=[table],
                link=f"{settings.base_url}/followup?overdue=1",
                link_label=text(language, "open_followup"),
                footer=text(language, "footer"),
            ),
            topic="followup.escalation",
            sender=sender,
            now=now,
            dedupe_key=f"escalation:{ids[0]}-{ids[-1]}:{len(ids)}:{address}",
        )
    return ids


def _digest_time(now: datetime, hour: int) -> datetime:
    return now.replace(hour=hour, minute=0, second=0, microsecond=0)


def _mark_nothing(session: Session, key: str, to: str, topic: str, now: datetime) -> None:
    """A digest with nothing to say is recorded as cancelled, so that it is not composed again."""
    outbox.enqueue(
        session, channel="email", topic=topic, target=to, payload={}, now=now, dedupe_key=key,
        skipped_because="nothing new to report",
    )  # fmt: skip


def record_digests(session: Session, *, now: datetime, settings: Settings, sender: str) -> int:
    """Record the daily and weekly digests due by ``now``; returns how many were recorded."""
    recorded = 0
    if now < _digest_time(now, settings.digest_hour):
        return 0
    users = session.exec(select(User).where(col(User.active), col(User.email).is_not(None))).all()
    wanting_daily = set(
        session.exec(
            select(NotificationPreference.username).where(
                (NotificationPreference.detractor == "digest")
                | (NotificationPreference.moment == "digest")
                | (NotificationPreference.drop == "digest")
            )
        ).all()
    )
    year, week, _ = now.isocalendar()
    for user in users:
        if user.username in wanting_daily:
            key = f"digest.daily:{user.username}:{now.date().isoformat()}"
            if not outbox.exists(session, key):
                # The 24 hours up to today's digest time; later ones go into tomorrow's.
                notice = daily(
                    session, user, now=_digest_time(now, settings.digest_hour), base_url=settings.base_url
                )
                if notice is None:
                    _mark_nothing(session, key, user.email or "", "digest.daily", now)
                else:
                    recorded += queue_email(
                        session, notice, topic="digest.daily", sender=sender, now=now, dedupe_key=key
                    )
        if user.role not in ("manager", "admin") or not preference_of(session, user.username).weekly_digest:
            continue
        key = f"digest.weekly:{user.username}:{year}-W{week:02d}"
        monday = _digest_time(now - timedelta(days=now.weekday()), settings.digest_hour)
        if now < monday or outbox.exists(session, key):
            continue
        notice = weekly(session, user, now=now, min_n=settings.min_n, base_url=settings.base_url)
        if notice is None:
            _mark_nothing(session, key, user.email or "", "digest.weekly", now)
        else:
            recorded += queue_email(
                session, notice, topic="digest.weekly", sender=sender, now=now, dedupe_key=key
            )
    return recorded


def record_due(session: Session, *, now: datetime, settings: Settings | None = None) -> None:
    """Everything the clock makes due at ``now``, in the caller's transaction."""
    settings = settings or get_settings()
    sender = MailSettings.from_env().sender
    escalate(session, now=now, settings=settings, sender=sender)
    record_digests(session, now=now, settings=settings, sender=sender)
