"""What we did for an account: the action log (seed 000: action → response → feedback).

An action has a type, the day it happened, who did it and a note, and may answer a closed
follow-up. It is recorded from the Account page, the command line and the HTTP API through
``record_action``; "What works" (``survey/accounts/whatworks.py``) compares the account's
indicators before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from models.tables import Account, AccountAction, FollowUp
from survey.people.access import EVERYTHING, Scope

ACTION_TYPES = {
    "executive_visit": "Executive visit",
    "business_review": "Business review",
    "fix_delivered": "Fix delivered",
    "training": "Training",
    "commercial_concession": "Commercial concession",
}
OWNER_MAX = 200
NOTE_MAX = 2000


class ActionError(ValueError):
    """An action was refused; the message names what is wrong. Nothing was recorded."""


@dataclass(frozen=True)
class ActionRow:
    id: int
    account_id: int
    account: str
    kind: str
    occurred_on: date
    owner: str
    note: str
    follow_up_id: int | None
    recorded_by: str
    created_at: datetime

    @property
    def label(self) -> str:
        return ACTION_TYPES.get(self.kind, self.kind)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "account": self.account,
            "type": self.kind,
            "date": self.occurred_on.isoformat(),
            "owner": self.owner,
            "note": self.note,
            "follow_up_id": self.follow_up_id,
            "recorded_by": self.recorded_by,
        }


def _text(value: Any, what: str, maximum: int, *, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise ActionError(f"the {what} is empty")
    if len(text) > maximum:
        raise ActionError(f"the {what} has {len(text)} characters, more than the {maximum} allowed")
    if "\x00" in text:
        raise ActionError(f"the {what} contains a NUL character")
    return text


def record_action(
    session: Session,
    *,
    account_id: int,
    kind: str,
    occurred_on: date,
    owner: str,
    note: str = "",
    follow_up_id: int | None = None,
    recorded_by: str,
    now: datetime,
    scope: Scope = EVERYTHING,
) -> AccountAction:
    """Add an action to an account's log, in the caller's transaction; checks everything first."""
    if kind not in ACTION_TYPES:
        raise ActionError(f"unknown action type {kind!r} (use one of {', '.join(ACTION_TYPES)})")
    if isinstance(occurred_on, datetime) or not isinstance(occurred_on, date):
        raise ActionError(f"the date {occurred_on!r} is not a day such as 2026-11-20")
    if occurred_on > now.date():
        raise ActionError(f"the date {occurred_on:%Y-%m-%d} is in the future: record actions once done")
    who = _text(owner, "owner", OWNER_MAX, required=True)
    text = _text(note, "note", NOTE_MAX, required=False)
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise ActionError(f"{account_id!r} is not an account id")
    # Another manager's account reads as missing.
    if session.get(Account, account_id) is None or not scope.allows(account_id):
        raise ActionError(f"there is no account #{account_id}")
    if follow_up_id is not None:
        follow_up = session.get(FollowUp, follow_up_id) if isinstance(follow_up_id, int) else None
        if follow_up is None or not scope.allows(follow_up.account_id):
            raise ActionError(f"there is no follow-up #{follow_up_id}")
        if follow_up.account_id != account_id:
            raise ActionError(f"follow-up #{follow_up_id} belongs to another account")
    action = AccountAction(
        account_id=account_id,
        kind=kind,
        occurred_on=occurred_on,
        owner=who,
        note=text,
        follow_up_id=follow_up_id,
        recorded_by=recorded_by,
        created_at=now,
    )
    session.add(action)
    session.flush()
    return action


def list_actions(
    session: Session, *, account_id: int | None = None, scope: Scope = EVERYTHING, limit: int = 500
) -> list[ActionRow]:
    """Actions, newest first; one account's or every account's in scope."""
    statement = (
        select(AccountAction, Account.name)
        .join(Account, col(Account.id) == AccountAction.account_id)
        .where(scope.condition(AccountAction.account_id))
        .order_by(AccountAction.occurred_on.desc(), AccountAction.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
    )
    if account_id is not None:
        statement = statement.where(AccountAction.account_id == account_id)
    return [
        ActionRow(
            id=action.id or 0,
            account_id=action.account_id,
            account=name,
            kind=action.kind,
            occurred_on=action.occurred_on,
            owner=action.owner,
            note=action.note,
            follow_up_id=action.follow_up_id,
            recorded_by=action.recorded_by,
            created_at=action.created_at,
        )
        for action, name in session.exec(statement).all()
    ]


def closed_follow_ups(session: Session, account_id: int, scope: Scope = EVERYTHING) -> list[tuple[int, str]]:
    """(id, what it was about) of an account's closed follow-ups, newest first, to link an action to."""
    if not scope.allows(account_id):
        return []
    rows = session.exec(
        select(FollowUp.id, FollowUp.closed_at, FollowUp.reasons)
        .where(FollowUp.account_id == account_id, FollowUp.status == "closed")
        .order_by(FollowUp.closed_at.desc(), FollowUp.id.desc())  # type: ignore[union-attr]
        .limit(100)
    ).all()
    return [
        (id_ or 0, f"#{id_} · closed {closed:%Y-%m-%d} · {reasons.replace(',', ', ')}")
        for id_, closed, reasons in rows
        if closed is not None
    ]
