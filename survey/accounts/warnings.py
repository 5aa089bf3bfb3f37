"""Account-level warnings: when a whole account needs someone, not one response.

An account opens one follow-up of kind ``account`` per reason (never one per response, and
not again while that one is open or in progress), when

* **decline** — its change against its own baseline, shrunk toward its segment, has a 95%
  interval wholly below zero (``survey/accounts/health.py``);
* **flagged_contacts** — two or more of its contacts had a response flagged for follow-up
  within ``FLAGGED_WINDOW_DAYS`` days;
* **silent_decision_maker** — a decision maker, a contact for longer than
  ``PULSE_SILENT_DECISION_MAKER_DAYS`` days, has not answered for that long.

The flagged-contacts rule runs in the submit transaction, right after a response is flagged
(``survey/followup/queue.py``); ``check_accounts`` runs every rule (``python -m survey
check-accounts``, daily from cron). The follow-ups join the ordinary queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Contact, FollowUp, Response
from survey.accounts.health import PERIOD_DAYS, account_health
from survey.followup.queue import open_account_follow_up
from survey.people.access import EVERYTHING, Scope

FLAGGED_WINDOW_DAYS = 30
FLAGGED_CONTACTS_AT = 2
DEFAULT_SILENT_DAYS = 120


def flagged_contacts(session: Session, account_id: int, now: datetime) -> int:
    """How many different contacts of the account had a response flagged in the window."""
    return int(
        session.exec(
            select(func.count(func.distinct(Response.contact_id)))
            .join(FollowUp, col(FollowUp.response_id) == Response.id)
            .where(
                FollowUp.account_id == account_id,
                FollowUp.kind == "response",
                FollowUp.created_at > now - timedelta(days=FLAGGED_WINDOW_DAYS),
                FollowUp.created_at <= now,
            )
        ).one()
    )


def warn_flagged_contacts(session: Session, account_id: int, now: datetime) -> FollowUp | None:
    """Open the account's follow-up when enough of its contacts were flagged; in the caller's
    transaction. ``None`` when the rule does not apply or the account already has one open."""
    count = flagged_contacts(session, account_id, now)
    if count < FLAGGED_CONTACTS_AT:
        return None
    detail = (
        f"{count} contacts had an answer flagged for follow-up in the last {FLAGGED_WINDOW_DAYS} days: "
        "the account, not one person, needs attention."
    )
    return open_account_follow_up(session, account_id, "flagged_contacts", detail, now)


def silent_decision_makers(
    session: Session, now: datetime, days: int, scope: Scope = EVERYTHING
) -> dict[int, list[tuple[str, int | None]]]:
    """account -> (name or email, days since their last answer, None when never) of each
    decision maker silent for more than ``days`` days."""
    last = (
        select(Response.contact_id, func.max(Response.submitted_at).label("last"))
        .where(Response.submitted_at <= now)
        .group_by(col(Response.contact_id))
        .subquery()
    )
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            Contact.account_id, Contact.name, Contact.email, Contact.created_at, last.c.last
        )
        .outerjoin(last, last.c.contact_id == Contact.id)
        .where(
            scope.condition(Contact.account_id),
            Contact.role == "decision_maker",
            Contact.created_at <= now - timedelta(days=days),
        )
        .order_by(Contact.account_id, Contact.name)
    ).all()
    found: dict[int, list[tuple[str, int | None]]] = {}
    for account_id, name, email, _, answered in rows:
        silent = None if answered is None else (now - answered).days
        if silent is None or silent > days:
            found.setdefault(account_id, []).append((name or email, silent))
    return found


def check_accounts(
    session: Session, now: datetime, scope: Scope = EVERYTHING, *, silent_days: int = DEFAULT_SILENT_DAYS
) -> list[FollowUp]:
    """Run every rule over the accounts in scope; returns the follow-ups it opened."""
    if silent_days < 1:
        raise ValueError(f"the silent-decision-maker days must be at least 1, not {silent_days!r}")
    opened: list[FollowUp] = []
    for row in account_health(session, now, scope):
        if row.declining:
            c = row.change
            detail = (
                f"Scores fell {abs(c.value):.0f} points against the account's own baseline, beyond their "
                f"uncertainty (95% interval {c.low:.0f} to {c.high:.0f}, "
                f"n = {c.n} in the last {PERIOD_DAYS} days)."
            )
            follow_up = open_account_follow_up(session, row.account_id, "decline", detail, now)
            if follow_up is not None:
                opened.append(follow_up)
        follow_up = warn_flagged_contacts(session, row.account_id, now)
        if follow_up is not None:
            opened.append(follow_up)
    for account_id, people in silent_decision_makers(session, now, silent_days, scope).items():
        names = "; ".join(
            f"{who} ({'never answered' if days is None else f'last answer {days} days ago'})"
            for who, days in people
        )
        detail = f"Decision makers silent for more than {silent_days} days: {names}"
        follow_up = open_account_follow_up(session, account_id, "silent_decision_maker", detail, now)
        if follow_up is not None:
            opened.append(follow_up)
    return opened
