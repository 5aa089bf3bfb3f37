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

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models.tables import FollowUp, Response
from survey.people.access import EVERYTHING, Scope
from survey.reporting.filters import hours_between

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


def loop_metrics(
    session: Session, *, now: datetime, days: int = 90, scope: Scope = EVERYTHING
) -> LoopMetrics:
    """The loop metrics of follow-ups (and detractor answers) from the last ``days`` to ``now``.
    The database counts and works out the hours; only the hours the medians need are read."""
    start = now - timedelta(days=days)
    connection = session.connection()
    dialect = connection.dialect.name
    opened = [
        scope.condition(FollowUp.account_id),
        col(FollowUp.created_at) >= start,
        col(FollowUp.created_at) <= now,
    ]
    closed = (col(FollowUp.status) == "closed") & col(FollowUp.closed_at).is_not(None)
    # Decided: closed, or open past its due time; in time: closed by its due time.
    decided = col(FollowUp.due_at).is_not(None) & (closed | (col(FollowUp.due_at) <= now))
    in_time = decided & closed & (col(FollowUp.closed_at) <= col(FollowUp.due_at))
    count, decided_n, in_time_n = connection.execute(
        select(func.count(), _number(decided), _number(in_time)).where(*opened)
    ).one()

    def hours(later: Any, condition: Any) -> list[float]:
        query = select(hours_between(later, col(FollowUp.created_at), dialect)).where(*opened, condition)
        return [float(value) for value in connection.execute(query).scalars()]

    first = hours(col(FollowUp.first_action_at), col(FollowUp.first_action_at).is_not(None))
    to_close = hours(col(FollowUp.closed_at), closed)

    # Each answer of a contact beside the contact's next one, in (time, id) order: a detractor
    # answered again when there is a next one, recovered when it recommends 7 or more. (A
    # contact belongs to one account, so the reader's scope holds their every answer.)
    answers = (
        select(
            col(Response.nps_category).label("category"),
            _next(Response.id).label("next_id"),
            _next(Response.nps).label("next_nps"),
        )
        .where(
            scope.condition(Response.account_id),
            col(Response.contact_id).is_not(None),
            col(Response.nps).is_not(None),
            col(Response.submitted_at) >= start,
            col(Response.submitted_at) <= now,
        )
        .subquery()
    )
    answered_again, recovered = connection.execute(
        select(func.count(answers.c.next_id), _number(answers.c.next_nps >= RECOVERED_FROM)).where(
            answers.c.category == "detractor"
        )
    ).one()
    return LoopMetrics(
        start=start,
        end=now,
        follow_ups=int(count),
        first_action=median_of(first),
        close=median_of(to_close),
        within_sla=share_of(int(in_time_n), int(decided_n)),
        recovery=share_of(int(recovered), int(answered_again)),
    )


def _next(column: Any) -> Any:
    """``column`` of the same contact's next answer, in (time, id) order."""
    return func.lead(column).over(
        partition_by=col(Response.contact_id), order_by=(col(Response.submitted_at), col(Response.id))
    )


def _number(condition: Any) -> Any:
    """How many rows meet ``condition``."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
