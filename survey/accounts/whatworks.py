"""What works: is an account's relationship better after one of our actions than before,
compared with similar accounts that had no such action in the same weeks?

**The estimate, per action type and indicator** (a difference-in-differences):

1. For each logged action (account *a*, day *t*) whose quarter after has passed: the account's
   mean own score (0-100) in the ``WINDOW_DAYS`` after *t* minus its mean in the
   ``WINDOW_DAYS`` before.
2. The same change, over the same two windows, for each *similar* account — same segment, at
   least one answer in each window, and no action of that type in either window — averaged
   with each account counting once. Fewer than ``MIN_CONTROLS`` similar accounts: every
   account without the action stands in.
3. The action's difference-in-differences is (1) minus (2). With one control account this is
   the interaction coefficient of ``score ~ account + after + treated:after`` fitted to the
   window means (checked against statsmodels in the tests).
4. An account's several actions of one type are averaged first (they are not independent),
   and the estimate is the mean over accounts with its 95% t interval; n is the number of
   accounts (and of actions behind them).

This is an association, not proof: accounts were not chosen for actions at random (a review
may be booked *because* the relationship was slipping, which pulls the "before" down), and
anything else that happened to the account in those weeks is in the difference too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models.tables import Account, AccountAction, IndicatorScore, Response
from survey.accounts.actions import ACTION_TYPES
from survey.accounts.intervals import Estimate, mean_interval
from survey.instrument.definition import load_instrument
from survey.people.access import EVERYTHING, Scope

WINDOW_DAYS = 91  # a quarter before and a quarter after
MIN_CONTROLS = 3


@dataclass(frozen=True)
class Effect:
    action: str  # action type code
    indicator: str
    estimate: Estimate | None  # points on 0-100; None without a single usable action
    actions: int  # actions with answers in both windows and similar accounts to compare with
    accounts: int

    @property
    def sentence(self) -> str:
        action = ACTION_TYPES.get(self.action, self.action).lower()
        label = _labels().get(self.indicator, self.indicator)
        e = self.estimate
        if e is None:
            return f"{label}: no {action} yet with answers before and after it."
        if e.n < 2:
            return f"{label}: one account so far ({e.value:+.0f} points), too few to say anything."
        size = (
            f"{e.value:+.0f} points (95% interval {e.low:+.0f} to {e.high:+.0f}; "
            f"n = {e.n} accounts, {self.actions} actions)"
        )
        if e.low > 0:
            return f"{label} rose more after a {action} than at similar accounts without one: {size}."
        if e.high < 0:
            return f"{label} fell more after a {action} than at similar accounts without one: {size}."
        return f"{label}: no clear difference after a {action} compared with similar accounts: {size}."


def _labels() -> dict[str, str]:
    return {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _window_means(session: Session, day: date) -> dict[tuple[int, str], tuple[float | None, float | None]]:
    """(account, indicator) -> (mean before, mean after) of own scores around ``day``; one query."""
    pivot = _start_of(day)
    before_from, after_to = pivot - timedelta(days=WINDOW_DAYS), pivot + timedelta(days=WINDOW_DAYS)
    after = col(Response.submitted_at) >= pivot
    rows = session.exec(
        select(
            Response.account_id,
            IndicatorScore.indicator,
            func.avg(case((after, None), else_=IndicatorScore.score_100)),
            func.avg(case((after, IndicatorScore.score_100), else_=None)),
        )
        .join(IndicatorScore, col(IndicatorScore.response_id) == Response.id)
        .where(
            IndicatorScore.subject == "own",
            Response.submitted_at >= before_from,
            Response.submitted_at < after_to,
        )
        .group_by(col(Response.account_id), col(IndicatorScore.indicator))
    ).all()
    return {
        (int(account), indicator): (
            None if before is None else float(before),
            None if later is None else float(later),
        )
        for account, indicator, before, later in rows
    }


def event_difference(
    means: dict[tuple[int, str], tuple[float | None, float | None]],
    treated: int,
    indicator: str,
    candidates: list[int],
) -> tuple[float, int] | None:
    """(difference-in-differences, controls used) for one action, or ``None`` when the treated
    account or every candidate lacks an answer on either side."""
    before, after = means.get((treated, indicator), (None, None))
    if before is None or after is None:
        return None
    changes = []
    for control in candidates:
        b, a = means.get((control, indicator), (None, None))
        if b is not None and a is not None:
            changes.append(a - b)
    if not changes:
        return None
    return (after - before) - sum(changes) / len(changes), len(changes)


def what_works(session: Session, now: datetime, scope: Scope = EVERYTHING) -> list[Effect]:
    """Every action type and indicator, for the actions of accounts in ``scope`` whose quarter
    after has passed by ``now``. Controls come from the whole base (only their change counts)."""
    last_day = (now - timedelta(days=WINDOW_DAYS)).date()
    logged = session.exec(
        select(
            col(AccountAction.account_id), col(AccountAction.kind), col(AccountAction.occurred_on)
        ).order_by(col(AccountAction.occurred_on), col(AccountAction.id))
    ).all()
    # Ids read back from the table are never None.
    segments = {int(cast(int, a)): s for a, s in session.exec(select(Account.id, Account.segment)).all()}
    days_of: dict[tuple[int, str], list[date]] = {}
    for account_id, kind, day in logged:
        days_of.setdefault((account_id, kind), []).append(day)
    indicators = [indicator.code for indicator in load_instrument().indicators]
    window = timedelta(days=WINDOW_DAYS)

    per_account: dict[tuple[str, str], dict[int, list[float]]] = {}
    actions_used: dict[tuple[str, str], int] = {}
    cache: dict[date, dict[tuple[int, str], tuple[float | None, float | None]]] = {}
    for account_id, kind, day in logged:
        if day > last_day or not scope.allows(account_id):
            continue
        if day not in cache:
            cache[day] = _window_means(session, day)
        means = cache[day]

        everyone = [
            other
            for other in segments
            if other != account_id and all(abs(d - day) >= window for d in days_of.get((other, kind), []))
        ]
        same_segment = [other for other in everyone if segments[other] == segments[account_id]]
        for indicator in indicators:
            found = event_difference(means, account_id, indicator, same_segment)
            if found is None or found[1] < MIN_CONTROLS:
                found = event_difference(means, account_id, indicator, everyone)
            if found is None:
                continue
            per_account.setdefault((kind, indicator), {}).setdefault(account_id, []).append(found[0])
            actions_used[(kind, indicator)] = actions_used.get((kind, indicator), 0) + 1

    effects = []
    for kind in ACTION_TYPES:
        for indicator in indicators:
            accounts = per_account.get((kind, indicator), {})
            values = [sum(v) / len(v) for v in accounts.values()]
            effects.append(
                Effect(
                    action=kind,
                    indicator=indicator,
                    estimate=mean_interval(values),
                    actions=actions_used.get((kind, indicator), 0),
                    accounts=len(accounts),
                )
            )
    return effects
