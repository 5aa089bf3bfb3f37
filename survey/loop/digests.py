"""The daily and weekly digests.

* **Daily** — to each user who chose "in the daily digest" for a reason: the follow-ups opened on
  their accounts in the last 24 hours for those reasons.
* **Weekly** — to each manager about their own accounts only, and to each admin about the whole
  base: every indicator over the overview's last three calendar months with its change against the
  three before and the
  change's 95% interval and n (``survey.reporting.overview.overview``), the response
  rate of the last 28 days, new detractors of the week, open and overdue follow-ups, and accounts
  not heard from in 90 days. Compact tables, which read well in every mail client, in the user's
  language.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Account, FollowUp, Response, Touchpoint, User
from survey.followup.queue import status_counts
from survey.instrument.definition import load_instrument
from survey.loop.alerts import followup_link
from survey.loop.messages import Notice, Table
from survey.loop.preferences import mode_for, preference_of
from survey.loop.texts import DAY_FORMATS, reasons_label, text
from survey.people.access import EVERYTHING, Scope, owner_scope
from survey.reporting.overview import overview
from survey.sending.status import report

QUIET_DAYS = 90
LIST_MAX = 20


def scope_for(session: Session, user: User) -> Scope:
    return owner_scope(session, user.username) if user.role == "manager" else EVERYTHING


def daily(session: Session, user: User, *, now: datetime, base_url: str) -> Notice | None:
    """New follow-ups of the 24 hours before ``now`` (the digest time) that the user wanted in the
    digest; ``None`` when there are none."""
    if not user.email:
        return None
    preference = preference_of(session, user.username)
    language = preference.language
    rows = session.exec(
        select(FollowUp, Account.name, Touchpoint.name)
        .join(Account, col(Account.id) == FollowUp.account_id)
        .join(Response, col(Response.id) == FollowUp.response_id)
        .join(Touchpoint, col(Touchpoint.id) == Response.touchpoint_id)
        .where(
            Account.owner == user.username,
            col(FollowUp.created_at) >= now - timedelta(days=1),
            col(FollowUp.created_at) < now,
        )
        .order_by(col(FollowUp.created_at))
    ).all()
    chosen = [(f, a, t) for f, a, t in rows if mode_for(preference, f.reasons) == "digest"]
    if not chosen:
        return None
    day = DAY_FORMATS[language]
    table = Table(
        heading=text(language, "daily_table"),
        columns=[text(language, k) for k in ("followup", "account", "touchpoint", "why", "due")],
        rows=[
            [
                f"#{f.id}",
                account,
                touchpoint,
                f"{reasons_label(language, f.reasons)}: {f.detail}",
                f.due_at.strftime(day) if f.due_at else "—",
            ]
            for f, account, touchpoint in chosen
        ],
    )
    return Notice(
        to=user.email,
        subject=text(language, "daily_subject", count=len(chosen)),
        language=language,
        title=text(language, "daily_title"),
        tables=[table],
        link=followup_link(base_url, chosen[0][0].id or 0).split("?")[0],
        link_label=text(language, "open_app"),
        footer=text(language, "footer"),
    )


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def weekly(session: Session, user: User, *, now: datetime, min_n: int, base_url: str) -> Notice | None:
    """The weekly digest for ``user``: their accounts (managers) or every account (admins)."""
    if not user.email:
        return None
    scope = scope_for(session, user)
    if not scope.is_everything and not scope.account_ids:
        return None  # a manager who owns no accounts has nothing to read
    language = preference_of(session, user.username).language
    day = DAY_FORMATS[language]
    scope_label = (
        text(language, "weekly_subject_all")
        if scope.is_everything
        else text(language, "weekly_subject_mine", count=len(scope.account_ids or ()))
    )
    labels = {i.code: i.label.get(language) or i.label["en"] for i in load_instrument().indicators}
    summaries = overview(session, now=now, min_n=min_n, scope=scope).indicators
    indicator_rows = []
    for code, label in labels.items():
        summary = summaries.get(code)
        if summary is None or summary.score_100 is None:
            continue
        interval = summary.change_interval
        indicator_rows.append(
            [
                label,
                f"{summary.score_100:.0f}",
                "—" if summary.change is None else _signed(summary.change),
                "—" if interval is None else f"{_signed(interval[0])} … {_signed(interval[1])}",
                str(summary.n),
            ]
        )
    paragraphs = [text(language, "weekly_intro", min_n=min_n)]

    invitations = report(session, now=now, scope=scope).invitations
    recent = invitations[invitations["created"] >= now - timedelta(days=28)]
    if len(recent):
        completed = int((recent["status"] == "completed").sum())
        rate = f"{completed / len(recent):.0%}"
        paragraphs.append(text(language, "weekly_rate", rate=rate, completed=completed, invited=len(recent)))
    else:
        paragraphs.append(text(language, "weekly_rate_none"))

    counts = status_counts(session, scope)
    overdue = session.exec(
        select(func.count())
        .select_from(FollowUp)
        .where(scope.condition(FollowUp.account_id), FollowUp.status != "closed", col(FollowUp.due_at) <= now)
    ).one()
    paragraphs.append(
        text(language, "weekly_followups", open=counts["open"] + counts["in_progress"], overdue=int(overdue))
    )

    detractors = session.exec(
        select(Account.name, Touchpoint.name, Response.nps, Response.submitted_at)
        .join(Account, col(Account.id) == Response.account_id)
        .join(Touchpoint, col(Touchpoint.id) == Response.touchpoint_id)
        .where(
            scope.condition(Response.account_id),
            Response.nps_category == "detractor",
            col(Response.submitted_at) > now - timedelta(days=7),
            col(Response.submitted_at) <= now,
        )
        .order_by(col(Response.submitted_at).desc())
        .limit(LIST_MAX)
    ).all()
    last_answer = func.max(Response.submitted_at)
    quiet = session.exec(
        select(Account.name, last_answer)
        .outerjoin(Response, col(Response.account_id) == Account.id)
        .where(scope.condition(Account.id))
        .group_by(col(Account.id), col(Account.name))
        .having((last_answer.is_(None)) | (last_answer < now - timedelta(days=QUIET_DAYS)))
        .order_by(Account.name)
        .limit(LIST_MAX)
    ).all()
    tables = [
        Table(
            heading=text(language, "weekly_indicators"),
            columns=[text(language, k) for k in ("indicator", "now", "change", "interval", "n")],
            rows=indicator_rows,
            empty="—",
        ),
        Table(
            heading=text(language, "weekly_detractors"),
            columns=[text(language, k) for k in ("account", "touchpoint", "recommendation")],
            rows=[[a, t, f"{nps}/10 · {when.strftime(day)}"] for a, t, nps, when in detractors],
            empty=text(language, "weekly_detractors_none"),
        ),
        Table(
            heading=text(language, "weekly_quiet"),
            columns=[text(language, "account"), text(language, "last_answer")],
            rows=[[a, when.strftime(day) if when else text(language, "never")] for a, when in quiet],
            empty=text(language, "weekly_quiet_none"),
        ),
    ]
    return Notice(
        to=user.email,
        subject=text(language, "weekly_subject", scope=scope_label),
        language=language,
        title=text(language, "weekly_title", day=now.strftime(day), scope=scope_label),
        paragraphs=paragraphs,
        tables=tables,
        link=base_url,
        link_label=text(language, "open_app"),
        footer=text(language, "footer"),
    )
