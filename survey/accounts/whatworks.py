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

**Many intervals at once.** The page shows every pair of action type and indicator (about thirty
intervals), and at 95% one in twenty of them excludes zero by chance alone. So each effect
also carries:

* ``p_value``: the two-sided one-sample t-test that the mean difference is zero (the test
  whose inversion is the 95% interval), and ``p_holm``, Holm's step-down adjustment over
  every effect with an interval (pingouin's ``multicomp(method="holm")``; checked against
  ``statsmodels.stats.multitest.multipletests`` in the tests), which controls the chance of
  *any* false lead at 5%;
* ``simultaneous``: the Bonferroni-widened interval, ``mean ± t(1 - 0.05/(2m), n-1)·sd/√n``
  with *m* the number of effects with an interval, so that all *m* intervals hold together
  with at least 95% probability.

The wording ("rose", "fell", "no clear difference") follows the simultaneous interval; the
95% interval of each effect alone is shown too, labelled as uncorrected.

This is an association, not proof: accounts were not chosen for actions at random (a review
may be booked *because* the relationship was slipping, which pulls the "before" down), and
anything else that happened to the account in those weeks is in the difference too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import pingouin as pg
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models.tables import Account, AccountAction, IndicatorScore, Response
from survey.accounts.actions import ACTION_TYPES
from survey.accounts.intervals import LEVEL, Estimate, mean_interval, t_test_p
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
    p_value: float | None = None  # two-sided, that the difference is zero; None without an interval
    p_holm: float | None = None  # Holm-adjusted over every effect with an interval
    simultaneous: Estimate | None = None  # Bonferroni-widened interval over those effects
    comparisons: int = 0  # how many effects the correction covers

    @property
    def sentence(self) -> str:
        action = ACTION_TYPES.get(self.action, self.action).lower()
        label = _labels().get(self.indicator, self.indicator)
        e = self.estimate
        if e is None:
            return f"{label}: no {action} yet with answers before and after it."
        if e.n < 2:
            return f"{label}: one account so far ({e.value:+.0f} points), too few to say anything."
        together = self.simultaneous or e
        holm = 1.0 if self.p_holm is None else self.p_holm
        size = (
            f"{e.value:+.0f} points (interval over all {self.comparisons} comparisons "
            f"{together.low:+.0f} to {together.high:+.0f}, Holm-adjusted p = {holm:.3f}; uncorrected "
            f"95% interval {e.low:+.0f} to {e.high:+.0f}; n = {e.n} accounts, {self.actions} actions)"
        )
        if together.low > 0:
            return f"{label} rose more after a {action} than at similar accounts without one: {size}."
        if together.high < 0:
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
    values_of: list[list[float]] = []
    for kind in ACTION_TYPES:
        for indicator in indicators:
            accounts = per_account.get((kind, indicator), {})
            values = [sum(v) / len(v) for v in accounts.values()]
            values_of.append(values)
            effects.append(
                Effect(
                    action=kind,
                    indicator=indicator,
                    estimate=mean_interval(values),
                    actions=actions_used.get((kind, indicator), 0),
                    accounts=len(accounts),
                )
            )
    return corrected(effects, values_of)


def corrected(effects: list[Effect], values_of: list[list[float]]) -> list[Effect]:
    """``effects`` with their raw and Holm-adjusted p-values and Bonferroni-widened intervals,
    the family being every effect with an interval (two or more accounts); ``values_of`` holds
    each effect's per-account differences, in the same order."""
    family = [i for i, values in enumerate(values_of) if len(values) >= 2]
    if not family:
        return effects
    raw = [t_test_p(values_of[i]) for i in family]
    _, holm = pg.multicomp(raw, method="holm")
    widened = 1 - (1 - LEVEL) / len(family)
    result = list(effects)
    for i, p, adjusted in zip(family, raw, holm, strict=True):
        result[i] = replace(
            effects[i],
            p_value=p,
            p_holm=float(adjusted),
            simultaneous=mean_interval(values_of[i], widened),
            comparisons=len(family),
        )
    return result
