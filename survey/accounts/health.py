"""My accounts: every account in the reader's scope ranked by a health score (0-100, lower
needs attention sooner), and what pulls each one down.

The score is a weighted mean of seven components, each on 0-100 (higher is healthier).
A component that cannot be computed (no answers yet, no transactional data, no value level)
is left out and the weights of the others are rescaled; the row says which were missing.

| component | weight | 100 means | 0 means |
|---|---|---|---|
| level | 30% | indicators at 75/100 or more (as on the Account page: influence-weighted) | at 25 or less |
| change | 25% | +15 points or more against the account's own baseline | -15 points or worse |
| coverage | 15% | every bit of buying influence answered in the last 90 days | nobody did |
| recency | 10% | an interaction and an answer within 30 days | neither for 180 days or more |
| value gap | 5% | the manager's value level equals the customer's | four levels apart |
| loyalty | 10% | above the base on all seven transactional measures (latest period) | on none |
| follow-ups | 5% | no open follow-up | four or more open (an overdue one counts twice) |

**Change against the own baseline, honest at small n.** The account's mean score (each
response's mean over the six indicators, 0-100) in the last 90 days minus its mean in the 365
days before. With two or three answers a quarter that raw difference is mostly noise, so it
is shrunk toward its segment's change (empirical Bayes, ``survey/accounts/intervals.py``):
``w·raw + (1 - w)·segment`` with ``w = τ²/(τ² + se²)``, where se² comes from the pooled
within-account variance and the account's n, and τ² is how much accounts' changes really
differ within the segment. An account with many answers keeps its own change; one with a
single answer borrows most of its segment's. The change is shown with its 95% interval and n;
an interval wholly below zero is a *decline beyond uncertainty* (an account-level warning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import case, func, text
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from models.tables import STILL_OPEN, Account, Contact, FollowUp, Interaction, Response
from survey.accounts import answered
from survey.accounts.profile import score_matrix, value_levels_of
from survey.behaviour.loyalty import loyalty
from survey.behaviour.rfm import latest_period, rfm_segments
from survey.imports.transactions import MEASURES
from survey.instrument.definition import load_instrument
from survey.people.access import EVERYTHING, Scope
from survey.reporting import aggregates, cache
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters
from survey.reporting.intervals import Shrunk, moment_tau2, shrink_each

PERIOD_DAYS = 90
BASELINE_DAYS = 365
CHANGE_SPAN = 15.0  # points of change that take the component from 50 to 0 or 100
# The level component spans the scores accounts really have: 25 -> 0, 75 -> 100.
LEVEL_FLOOR, LEVEL_TOP = 25.0, 75.0
RECENT_DAYS = 30
STALE_DAYS = 180
OVERDUE_DAYS = 7  # an open follow-up older than this is overdue
MIN_TAU2 = 4.0  # (2 points)²: accounts are never assumed to change exactly alike
WEIGHTS = {
    "level": 0.30,
    "change": 0.25,
    "coverage": 0.15,
    "recency": 0.10,
    "value_gap": 0.05,
    "loyalty": 0.10,
    "follow_ups": 0.05,
}
COMPONENT_LABELS = {
    "level": "Indicators",
    "change": "Change vs own baseline",
    "coverage": "Buying influence heard",
    "recency": "Recency",
    "value_gap": "Value level gap",
    "loyalty": "Loyalty",
    "follow_ups": "Follow-ups",
}
PULL_SHOWN = 3
PULL_AT = 2.0  # points of health lost before a component is named as pulling it down


@dataclass(frozen=True)
class AccountHealth:
    account_id: int
    account: str
    segment: str
    owner: str
    health: float
    components: dict[str, float]  # name -> 0-100, only those that could be computed
    reasons: list[str]  # what pulls the score down, the biggest first
    level: float | None
    weakest: str | None  # the indicator with the lowest weighted score
    change: Shrunk
    recent_n: int
    coverage: float | None  # share 0-1 of buying influence heard from in the last period
    days_since_interaction: int | None
    days_since_answer: int | None
    manager_level: int | None
    customer_level: int | None  # the median of the contacts' latest answers
    customer_n: int  # contacts whose latest answer gave a level
    loyalty_above: int | None
    loyalty_period: str | None
    open_follow_ups: int
    overdue_follow_ups: int
    rfm_segment: str | None
    missing: list[str] = field(default_factory=list)

    @property
    def declining(self) -> bool:
        """The shrunk change's interval lies wholly below zero."""
        return self.change.n > 0 and self.change.high < 0


def _clip(value: float) -> float:
    return max(0.0, min(100.0, value))


def _recency_score(days: int | None) -> float:
    if days is None:
        return 0.0
    return _clip(100 * (STALE_DAYS - days) / (STALE_DAYS - RECENT_DAYS))


@dataclass(frozen=True)
class _Window:
    n: int
    mean: float
    sum_sq_dev: float


def _windows(session: Session, now: datetime) -> dict[tuple[int, str], _Window]:
    """Per account and window ("recent": the last ``PERIOD_DAYS`` days up to ``now``'s day,
    "baseline": the ``BASELINE_DAYS`` days before): n, mean and summed squared deviations of
    each response's mean own score (0-100), from the per-day sums (``response_means``). The
    windows' sums are kept for the day and take in new responses alone (``cache.current``)."""
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    recent_from = today - timedelta(days=PERIOD_DAYS)
    baseline_from = recent_from - timedelta(days=BASELINE_DAYS)
    months = Filters(start=f"{baseline_from:%Y-%m}", end=f"{today:%Y-%m}")

    def by_window(ids: tuple[int, int] | None) -> Cells:
        cells = aggregates.read(session, "response_means", ["account_id", "day"], months, ids=ids)
        days = cells.keys["day"].astype(str)
        inside = (days >= baseline_from.isoformat()) & (days <= today.isoformat())
        window = np.where(days >= recent_from.isoformat(), "recent", "baseline")
        return cells.with_key("window", window).where(inside).group(["account_id", "window"])

    key = (cache.database(session), "account windows", baseline_from, recent_from, today)
    sums = cache.current(session, key, lambda: by_window(None), lambda kept, ids: kept.plus(by_window(ids)))
    result = {}
    columns = (
        sums.keys["account_id"],
        sums.keys["window"],
        sums.n,
        sums.sums["total"],
        sums.sums["total_sq"],
    )
    for account_id, window, n, total, total_sq in zip(*(column.tolist() for column in columns), strict=True):
        if n:
            mean = total / n
            result[(int(account_id), str(window))] = _Window(n, mean, max(0.0, total_sq - n * mean * mean))
    return result


def _changes(windows: dict[tuple[int, str], _Window], segments: dict[int, str]) -> dict[int, Shrunk]:
    """Each account's change against its own baseline, shrunk toward its segment's."""
    # Pooled within-account variance of a response's mean score, over both windows.
    dev = sum(w.sum_sq_dev for w in windows.values())
    dof = sum(w.n - 1 for w in windows.values() if w.n > 1)
    sigma2 = dev / dof if dof > 0 else 225.0  # (15 points)² before anything is known

    raw: dict[int, tuple[float, float, int]] = {}  # account -> change, se², recent n
    for account_id in segments:
        recent, baseline = windows.get((account_id, "recent")), windows.get((account_id, "baseline"))
        if recent and baseline:
            raw[account_id] = (
                recent.mean - baseline.mean,
                sigma2 * (1 / recent.n + 1 / baseline.n),
                recent.n,
            )

    def prior(members: list[int]) -> tuple[float, float]:
        """The segment's change (response-weighted means) and the spread of true account changes."""
        recent = [windows[(a, "recent")] for a in members if (a, "recent") in windows]
        baseline = [windows[(a, "baseline")] for a in members if (a, "baseline") in windows]
        if not recent or not baseline:
            return 0.0, MIN_TAU2 * 4
        centre = sum(w.n * w.mean for w in recent) / sum(w.n for w in recent) - sum(
            w.n * w.mean for w in baseline
        ) / sum(w.n for w in baseline)
        own = [raw[a] for a in members if a in raw]
        if len(own) < 3:
            return centre, MIN_TAU2 * 4
        return centre, moment_tau2([d for d, _, _ in own], [se2 for _, se2, _ in own], centre, MIN_TAU2)

    by_segment: dict[str, list[int]] = {}
    for account_id, segment in segments.items():
        by_segment.setdefault(segment, []).append(account_id)
    everyone = list(segments)
    accounts: list[int] = []
    priors: list[tuple[float, float]] = []
    for members in by_segment.values():
        # A segment of one or two accounts says little about itself: lean on the whole base.
        accounts += members
        priors += [prior(members if len(members) >= 3 else everyone)] * len(members)
    own = [raw.get(account_id) for account_id in accounts]

    def recent_n(account_id: int) -> int:
        recent = windows.get((account_id, "recent"))
        return recent.n if recent else 0

    shrunk = shrink_each(
        [None if found is None else found[0] for found in own],
        [None if found is None else found[1] for found in own],
        [centre for centre, _ in priors],
        [tau2 for _, tau2 in priors],
        [recent_n(a) if found is None else found[2] for a, found in zip(accounts, own, strict=True)],
    )
    return dict(zip(accounts, shrunk, strict=True))


def _latest(session: Session, scope: Scope, account: Any, when: Any, now: datetime) -> dict[int, datetime]:
    """Per account in ``scope``, the latest ``when`` up to ``now`` (none: left out): one step
    into the (account, time) index per account, not a walk over every row."""
    latest = select_rows(func.max(when)).where(account == Account.id, when <= now).scalar_subquery()
    rows = session.execute(select_rows(col(Account.id), latest).where(scope.condition(Account.id))).all()
    return {int(account_id): at for account_id, at in rows if at is not None}


def account_health(
    session: Session, now: datetime, scope: Scope = EVERYTHING, *, rfm_period: str | None = None
) -> list[AccountHealth]:
    """Every account in ``scope``, the one that needs attention most first."""
    accounts = session.execute(
        select_rows(
            col(Account.id),
            col(Account.name),
            col(Account.segment),
            col(Account.owner),
            col(Account.manager_value_level),
        )
        .where(scope.condition(Account.id))
        .order_by(Account.name)
    ).all()
    if not accounts:
        return []
    # Segments and windows of every account: the segment's change is the whole segment's.
    all_segments = {
        int(account_id): str(segment)
        for account_id, segment in session.execute(select_rows(col(Account.id), col(Account.segment))).all()
    }
    windows = _windows(session, now)
    changes = _changes(windows, all_segments)

    instrument = load_instrument()
    indicators = [indicator.code for indicator in instrument.indicators]
    labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
    answers = answered.last_answers(session, scope, now)
    contacts = session.execute(
        select_rows(col(Contact.id), col(Contact.account_id), col(Contact.buying_influence)).where(
            scope.condition(Contact.account_id)
        )
    ).all()
    weight_of = {int(contact_id): float(weight) for contact_id, _, weight in contacts}
    influence: dict[int, dict[int, float]] = {}
    for contact_id, account_id, _ in contacts:
        influence.setdefault(account_id, {})[contact_id] = weight_of[contact_id]
    # The account score per indicator: its mean over the indicators known is the level, the
    # lowest (the first in the instrument's order on a tie) the weakest.
    matrix = score_matrix(answers, weight_of, indicators)
    scores = matrix.score_100()
    known = ~np.isnan(scores)
    with np.errstate(invalid="ignore"):
        levels = np.where(known.any(axis=1), np.nansum(scores, axis=1) / known.sum(axis=1), np.nan)
    weakest_at = np.argmin(np.where(known, scores, np.inf), axis=1)
    level_of = {
        int(account_id): (float(level), matrix.codes[int(at)])
        for account_id, level, at in zip(matrix.accounts, levels, weakest_at, strict=True)
        if not np.isnan(level)
    }
    heard = {contact_id for _, contact_id, last in answers if last.at > now - timedelta(days=PERIOD_DAYS)}
    last_interaction = _latest(session, scope, Interaction.account_id, Interaction.occurred_at, now)
    last_answer = _latest(session, scope, Response.account_id, Response.submitted_at, now)
    overdue_before = now - timedelta(days=OVERDUE_DAYS)
    follow_ups = {
        account_id: (int(open_), int(overdue or 0))
        for account_id, open_, overdue in session.exec(
            select(
                FollowUp.account_id,
                func.count(),
                func.sum(case((col(FollowUp.created_at) < overdue_before, 1), else_=0)),
            )
            # The condition of the open follow-ups' index, as it is written there.
            .where(scope.condition(FollowUp.account_id), text(STILL_OPEN), FollowUp.created_at <= now)
            .group_by(col(FollowUp.account_id))
        ).all()
    }
    period = latest_period(session)
    above: dict[int, int] = {}
    if period is not None:
        table = loyalty(session, period, scope=scope).accounts
        above = {int(a): int(n) for a, n in zip(table["account_id"], table["above"], strict=True)}
    rfm = rfm_segments(session, rfm_period, scope)
    rfm_of = {int(a): s for a, s in zip(rfm["account_id"], rfm["segment"], strict=True)}
    value_levels = value_levels_of(
        answers, {account.id or 0: account.manager_value_level for account in accounts}
    )

    rows = []
    for account in accounts:
        account_id = account.id
        weights = influence.get(account_id, {})
        level, weakest = level_of.get(account_id, (None, None))
        total = sum(weights.values())
        coverage = sum(w for c, w in weights.items() if c in heard) / total if total > 0 else None
        value = value_levels[account_id]
        open_, overdue = follow_ups.get(account_id, (0, 0))
        days_interaction = (
            None if account_id not in last_interaction else (now - last_interaction[account_id]).days
        )
        days_answer = None if account_id not in last_answer else (now - last_answer[account_id]).days
        change = changes[account_id]
        components: dict[str, float] = {}
        if level is not None:
            components["level"] = _clip(100 * (level - LEVEL_FLOOR) / (LEVEL_TOP - LEVEL_FLOOR))
        if change.n > 0 or change.raw is not None:
            components["change"] = _clip(50 + 50 * change.value / CHANGE_SPAN)
        if coverage is not None:
            components["coverage"] = 100 * coverage
        components["recency"] = (_recency_score(days_interaction) + _recency_score(days_answer)) / 2
        if value.customer_level is not None and account.manager_value_level is not None:
            components["value_gap"] = _clip(
                100 - 25 * abs(account.manager_value_level - value.customer_level)
            )
        if account_id in above:
            components["loyalty"] = 100 * above[account_id] / len(MEASURES)
        components["follow_ups"] = _clip(100 - 25 * (open_ + overdue))
        weight = sum(WEIGHTS[name] for name in components)
        health = sum(WEIGHTS[name] * value_ for name, value_ in components.items()) / weight
        row = AccountHealth(
            account_id=account_id,
            account=account.name,
            segment=account.segment,
            owner=account.owner,
            health=health,
            components=components,
            reasons=[],
            level=level,
            weakest=None if weakest is None else labels.get(weakest, weakest),
            change=change,
            recent_n=change.n,
            coverage=coverage,
            days_since_interaction=days_interaction,
            days_since_answer=days_answer,
            manager_level=account.manager_value_level,
            customer_level=value.customer_level,
            customer_n=value.customer_n,
            loyalty_above=above.get(account_id),
            loyalty_period=period if account_id in above else None,
            open_follow_ups=open_,
            overdue_follow_ups=overdue,
            rfm_segment=rfm_of.get(account_id),
            missing=[COMPONENT_LABELS[name] for name in WEIGHTS if name not in components],
        )
        losses = sorted(
            ((WEIGHTS[name] * (100 - v) / weight, name) for name, v in components.items()), reverse=True
        )
        pulling = [name for loss, name in losses if loss >= PULL_AT][:PULL_SHOWN]
        if row.declining and "change" not in [name for _, name in losses[:PULL_SHOWN]]:
            pulling.insert(0, "change")
        # The sentences read the finished row; its list of them is filled in after.
        row.reasons.extend(_reason(name, row) for name in pulling)
        rows.append(row)
    return sorted(rows, key=lambda r: (r.health, r.account))


def _signed(value: float) -> str:
    return f"{value:+.0f}".replace("-", "−")


def _reason(name: str, row: AccountHealth) -> str:
    """One sentence a manager can act on, for the component ``name``."""
    if name == "level":
        return f"Indicators at {row.level:.0f}/100 (weakest: {row.weakest})"
    if name == "change":
        c = row.change
        verb = "Fell" if c.value < 0 else "Rose" if c.value > 0 else "Unchanged"
        points = round(abs(c.value))
        amount = f" {points} point{'' if points == 1 else 's'}" if verb != "Unchanged" else ""
        if c.raw is None:
            return f"{verb}{amount} (its segment's change: no answers of its own to compare, n = {c.n})"
        beyond = " — beyond its uncertainty" if row.declining else ""
        return (
            f"{verb}{amount} against its own baseline{beyond} "
            f"(95% interval {_signed(c.low)} to {_signed(c.high)}, n = {c.n} in the last {PERIOD_DAYS} days)"
        )
    if name == "coverage":
        share = 0.0 if row.coverage is None else row.coverage
        return f"Only {share:.0%} of the buying influence answered in the last {PERIOD_DAYS} days"
    if name == "recency":
        answer = (
            "never answered"
            if row.days_since_answer is None
            else f"last answer {row.days_since_answer} days ago"
        )
        contact = (
            "no interaction yet"
            if row.days_since_interaction is None
            else f"last interaction {row.days_since_interaction} days ago"
        )
        return f"Gone quiet: {answer}, {contact}"
    if name == "value_gap":
        return (
            f"The account manager sees value level {row.manager_level}, "
            f"the customer {row.customer_level} (median)"
        )
    if name == "loyalty":
        return (
            f"Above the base on {row.loyalty_above} of {len(MEASURES)} transactional measures "
            f"({row.loyalty_period})"
        )
    if name == "follow_ups":
        return f"{row.open_follow_ups} open follow-ups, {row.overdue_follow_ups} overdue"
    raise ValueError(name)


def health_frame(rows: list[AccountHealth]) -> pd.DataFrame:
    """The table My accounts shows and exports: one row per account, worst first."""
    return pd.DataFrame(
        {
            "Account": [r.account for r in rows],
            "Health": [round(r.health, 1) for r in rows],
            "What pulls it down": ["; ".join(r.reasons) or "—" for r in rows],
            "Segment": [r.segment for r in rows],
            "Owner": [r.owner for r in rows],
            "RFM segment": [r.rfm_segment or "" for r in rows],
            "Indicators (0-100)": [None if r.level is None else round(r.level, 1) for r in rows],
            "Change": [round(r.change.value, 1) for r in rows],
            "Change low": [None if math.isnan(r.change.low) else round(r.change.low, 1) for r in rows],
            "Change high": [None if math.isnan(r.change.high) else round(r.change.high, 1) for r in rows],
            "Answers (last 90 days)": [r.recent_n for r in rows],
            "Influence heard": [None if r.coverage is None else round(100 * r.coverage) for r in rows],
            "Days since interaction": [r.days_since_interaction for r in rows],
            "Days since answer": [r.days_since_answer for r in rows],
            "Manager level": [r.manager_level for r in rows],
            "Customer level (median)": [r.customer_level for r in rows],
            "Loyalty measures above base": [r.loyalty_above for r in rows],
            "Open follow-ups": [r.open_follow_ups for r in rows],
            "Overdue follow-ups": [r.overdue_follow_ups for r in rows],
            "Not computed": [", ".join(r.missing) for r in rows],
        }
    )
