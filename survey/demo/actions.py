"""The demo's action log: what the team did for each account, with one effect built in.

**Business reviews raise commitment** by ``REVIEW_EFFECT`` scale points (1-7) in the
quarter after the review (``EFFECT_DAYS``), which is 10 points on 0-100: the effect "What
works" should recover. Trainings, executive visits, fixes and concessions are logged at
random and change nothing, so their intervals should contain zero. Reviews of one account lie
at least ``REVIEW_GAP_DAYS`` apart, so one review's quarter never overlaps the next one's
"before". The declining demo account gets no actions: its fall is its own.

The actions draw from their own random stream, so the rest of the demo stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import insert
from sqlmodel import Session

from models.tables import AccountAction

REVIEW_EFFECT = 0.6  # scale points of commitment, for the quarter after a business review
EFFECT_DAYS = 91
REVIEW_EFFECT_100 = REVIEW_EFFECT * 100 / 6
REVIEW_GAP_DAYS = 200
EFFECTS = {"business_review": {"commitment": REVIEW_EFFECT}}
# action type: (chance an account has any, most per account)
FREQUENCY = {
    "business_review": (0.7, 2),
    "training": (0.6, 2),
    "executive_visit": (0.35, 1),
    "fix_delivered": (0.35, 1),
    "commercial_concession": (0.2, 1),
}
NOTES = {
    "business_review": "Quarterly business review with the decision makers: goals and results.",
    "training": "Product training for the customer's users.",
    "executive_visit": "Our managing director visited the customer's leadership.",
    "fix_delivered": "Shipped the fix for the reported integration issue.",
    "commercial_concession": "Agreed a volume discount for the coming year.",
}
MARGIN_DAYS = 100  # keep each action a quarter inside the demo's two years, both sides


@dataclass(frozen=True)
class PlannedAction:
    account_id: int
    kind: str
    day: date
    owner: str


def plan(
    rng: np.random.Generator, account_id: int, owner: str, start: datetime, now: datetime
) -> list[PlannedAction]:
    """The actions one account gets over the demo's span."""
    first, last = start.date() + timedelta(days=MARGIN_DAYS), now.date() - timedelta(days=MARGIN_DAYS)
    span = (last - first).days
    planned = []
    for kind, (chance, most) in FREQUENCY.items():
        if rng.random() >= chance:
            continue
        count = int(rng.integers(1, most + 1))
        days: list[date] = []
        for _ in range(20):  # a few tries at days far enough apart
            day = first + timedelta(days=int(rng.integers(0, span)))
            if all(abs((day - other).days) >= REVIEW_GAP_DAYS for other in days):
                days.append(day)
            if len(days) == count:
                break
        planned += [PlannedAction(account_id, kind, day, owner) for day in sorted(days)]
    return planned


def shifts(planned: list[PlannedAction], answered_at: datetime) -> dict[str, float]:
    """What the account's actions add to each indicator of an answer given at ``answered_at``."""
    result: dict[str, float] = {}
    for action in planned:
        effect = EFFECTS.get(action.kind)
        if effect and 0 <= (answered_at.date() - action.day).days < EFFECT_DAYS:
            for indicator, shift in effect.items():
                result[indicator] = result.get(indicator, 0.0) + shift
    return result


def store(session: Session, planned: list[PlannedAction], now: datetime) -> int:
    """Write the planned actions to the log; returns how many."""
    if planned:
        session.execute(
            insert(AccountAction),
            [
                {
                    "account_id": a.account_id,
                    "kind": a.kind,
                    "occurred_on": a.day,
                    "owner": a.owner,
                    "note": NOTES[a.kind],
                    "follow_up_id": None,
                    "recorded_by": "demo",
                    "created_at": now,
                }
                for a in planned
            ],
        )
    return len(planned)
