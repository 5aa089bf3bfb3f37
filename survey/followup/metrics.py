"""Loop metrics: how quickly and how well the team closes the loop.

* **Hours to first action** and **hours to close** — medians over the follow-ups opened in the
  period, each with a distribution-free 95% interval from order statistics
  (``scipy.stats.quantile_test``, as R's ``DescTools::MedianCI(method="exact")``) and n.
* **Closed within the service level** — of the follow-ups decided (closed, or open past their
  due time), the share closed by their due time, with its Wilson 95% interval (``scipy``'s
  ``binomtest(...).proportion_ci("wilson")``, as R's ``prop.test(correct=FALSE)``) and n.
* **Recovery rate** — of the detractor answers in the period that the same contact answered
  again later, the share whose next recommendation was 7 or more; Wilson interval and n.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
from scipy import stats
from sqlmodel import Session, col, select

from models.tables import FollowUp, Response
from survey.people.access import EVERYTHING, Scope

RECOVERED_FROM = 7


@dataclass(frozen=True)
class Median:
    hours: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class Share:
    share: float | None
    low: float | None
    high: float | None
    k: int
    n: int


@dataclass(frozen=True)
class LoopMetrics:
    start: datetime
    end: datetime
    follow_ups: int
    first_action: Median
    close: Median
    within_sla: Share
    recovery: Share

    def as_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def median_of(hours: list[float]) -> Median:
    if not hours:
        return Median(None, None, None, 0)
    values = np.asarray(hours, dtype=float)
    middle = float(np.median(values))
    if len(values) < 2:
        return Median(middle, None, None, 1)
    interval = stats.quantile_test(values, q=middle, p=0.5).confidence_interval(0.95)
    low, high = float(interval.low), float(interval.high)
    return Median(middle, None if np.isnan(low) else low, None if np.isnan(high) else high, len(values))


def share_of(k: int, n: int) -> Share:
    if n == 0:
        return Share(None, None, None, 0, 0)
    interval = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Share(k / n, float(interval.low), float(interval.high), k, n)


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600


class _Times(NamedTuple):
    """What the loop metrics read of one follow-up."""

    created_at: datetime
    first_action_at: datetime | None
    closed_at: datetime | None
    status: str
    due_at: datetime | None


def loop_metrics(
    session: Session, *, now: datetime, days: int = 90, scope: Scope = EVERYTHING
) -> LoopMetrics:
    """The loop metrics of follow-ups (and detractor answers) from the last ``days`` to ``now``."""
    start = now - timedelta(days=days)
    # Plain rows of the five columns the figures need: whole objects would cost most of the time.
    found = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            FollowUp.created_at,
            FollowUp.first_action_at,
            FollowUp.closed_at,
            FollowUp.status,
            FollowUp.due_at,
        ).where(
            scope.condition(FollowUp.account_id),
            col(FollowUp.created_at) >= start,
            col(FollowUp.created_at) <= now,
        )
    ).all()
    follow_ups = [_Times(*row) for row in found]
    first = [_hours(f.first_action_at, f.created_at) for f in follow_ups if f.first_action_at]
    closed = [_hours(f.closed_at, f.created_at) for f in follow_ups if f.status == "closed" and f.closed_at]
    decided = [
        f
        for f in follow_ups
        if f.due_at is not None and ((f.status == "closed" and f.closed_at) or f.due_at <= now)
    ]
    in_time = sum(
        1 for f in decided if f.status == "closed" and f.closed_at and f.closed_at <= (f.due_at or now)
    )

    detractors = session.exec(
        select(Response.id, Response.contact_id, Response.submitted_at).where(
            scope.condition(Response.account_id),
            Response.nps_category == "detractor",
            col(Response.contact_id).is_not(None),
            col(Response.submitted_at) >= start,
            col(Response.submitted_at) <= now,
        )
    ).all()
    contacts = sorted({contact for _, contact, _ in detractors if contact is not None})
    # A detractor's next answer is later than the detractor, so no earlier than ``start``:
    # only the window's answers of those contacts are read (through the contact-time index).
    history: dict[int, list[tuple[datetime, int, int | None]]] = {}
    for index in range(0, len(contacts), 500):
        rows = session.exec(
            select(Response.contact_id, Response.submitted_at, Response.id, Response.nps).where(
                col(Response.contact_id).in_(contacts[index : index + 500]),
                col(Response.nps).is_not(None),
                col(Response.submitted_at) >= start,
                col(Response.submitted_at) <= now,
            )
        ).all()
        for contact, submitted, response_id, nps in rows:
            history.setdefault(contact or 0, []).append((submitted, response_id or 0, nps))
    for answers in history.values():
        answers.sort(key=lambda entry: (entry[0], entry[1]))
    answered_again = recovered = 0
    for response_id, contact, submitted in detractors:
        answers = history.get(contact or 0, [])
        # The first of the contact's answers after this one, in (time, id) order.
        at = bisect_right(answers, (submitted, response_id), key=lambda entry: (entry[0], entry[1]))
        if at < len(answers):
            answered_again += 1
            recovered += int((answers[at][2] or 0) >= RECOVERED_FROM)
    return LoopMetrics(
        start=start,
        end=now,
        follow_ups=len(follow_ups),
        first_action=median_of(first),
        close=median_of(closed),
        within_sla=share_of(in_time, len(decided)),
        recovery=share_of(recovered, answered_again),
    )
