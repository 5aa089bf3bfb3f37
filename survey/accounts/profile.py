"""One account seen whole: its contacts and who answered, an influence-weighted score, the
relationship level as the customer and as the account manager see it, and the trend.

**The influence-weighted account score.** For each indicator we take every contact's *most
recent* own score (1-7) and average those, each weighted by the contact's ``buying_influence``
(0-1), then show the result on 0-100. Why:

* *most recent per contact*, not every response: a user who answers after every service call
  would otherwise outweigh the decision maker who answered once; and the latest answer is the
  contact's current view of the relationship, which is what the account score should say.
* *weighted by buying influence*: an account's relationship is as strong as the people who
  decide about it see it (seed 003: many contacts, different influence).
* *normalised by the influence of the contacts who answered*, not of all contacts: a contact
  who never answered says nothing about the score and must not pull it towards zero. How much
  of the account's influence stands behind the score is reported separately as coverage.

The account score is not suppressed below ``min_n``: it is built from a handful of named
contacts by design, and the contact count and coverage are shown beside it. The quarterly
trend, an aggregate over responses, drops quarters with fewer than ``min_n`` responses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Integer, String, cast, func
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from models.tables import Account, Contact, Interaction, Response
from survey.accounts import answered
from survey.instrument.definition import load_instrument
from survey.people.access import EVERYTHING, Scope
from survey.reporting import cache, dashboard, moments
from survey.reporting.filters import Filters
from survey.reporting.moments import PERIOD

# Seed 002: how the customer perceives the value we provide.
VALUE_LEVELS = {
    0: "Hope",
    1: "Price",
    2: "Features & benefits",
    3: "Value added",
    4: "Total cost of ownership",
}
VALUE_LEVEL_MEANINGS = {
    0: "No clear reason to work with us yet: there is no relationship.",
    1: "They buy on price.",
    2: "Our features and functions meet their specifications.",
    3: "We improve their business processes.",
    4: "We make a measurable difference to their costs and results.",
}


class AccountError(ValueError):
    """An account operation was refused; the message names the bad input. Nothing changed."""


@dataclass(frozen=True)
class AccountChoice:
    id: int
    name: str
    segment: str
    owner: str


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    email: str
    role: str
    buying_influence: float
    responses: int
    last_response: datetime | None

    @property
    def answered(self) -> bool:
        return self.responses > 0


@dataclass(frozen=True)
class Coverage:
    contacts: int
    answered: int
    influence_total: float
    influence_answered: float

    @property
    def contact_share(self) -> float | None:
        """Share (0-1) of the account's contacts who ever answered."""
        return self.answered / self.contacts if self.contacts else None

    @property
    def influence_share(self) -> float | None:
        """Share (0-1) of the account's total buying influence held by contacts who answered."""
        return self.influence_answered / self.influence_total if self.influence_total > 0 else None


@dataclass(frozen=True)
class WeightedScore:
    indicator: str
    score_100: float | None  # influence-weighted, None when no contact with influence has a score
    unweighted_100: float | None  # the plain mean of the same latest scores, for comparison
    contacts: int  # contacts whose latest score went in
    weight: float  # their summed buying influence


@dataclass(frozen=True)
class ValueLevels:
    """Seed 002's level 0-4 as the customer sees it (each contact's latest answer) and as the
    account manager sees it. The levels are ordered categories, not amounts: the customer's
    level is their median (``median_level``), never a mean."""

    customer_level: int | None
    distribution: dict[int, int]  # level -> contacts whose latest answer it is
    manager: int | None

    @property
    def customer_n(self) -> int:
        return sum(self.distribution.values())


@dataclass(frozen=True)
class AccountView:
    id: int
    name: str
    external_id: str | None
    segment: str
    industry: str
    region: str
    tier: str
    owner: str
    manager_value_level: int | None
    contacts: list[ContactRow]
    coverage: Coverage
    scores: dict[str, WeightedScore]  # in the instrument's indicator order
    value: ValueLevels
    last_interaction: datetime | None
    days_since_last_interaction: int | None
    trend: pd.DataFrame  # quarter, indicator, n, mean (0-100); quarters with n < min_n dropped
    min_n: int


def list_accounts(session: Session, scope: Scope = EVERYTHING) -> list[AccountChoice]:
    """Every account the reader may see, by name, for a picker."""
    rows = session.exec(
        select(Account.id, Account.name, Account.segment, Account.owner)
        .where(scope.condition(Account.id))
        .order_by(Account.name)
    )
    return [
        AccountChoice(id=id_ or 0, name=name, segment=segment, owner=owner)
        for id_, name, segment, owner in rows
    ]


def account_owners(session: Session) -> set[str]:
    """The user names that own at least one account."""
    return {owner for owner in session.exec(select(Account.owner).distinct()).all() if owner}


def _account(session: Session, account_id: int, scope: Scope) -> Account:
    if isinstance(account_id, bool) or not isinstance(account_id, int):
        raise AccountError(f"{account_id!r} is not an account id")
    account = session.get(Account, account_id)
    # Another manager's account reads as missing: an edited URL learns nothing.
    if account is None or not scope.allows(account_id):
        raise AccountError(f"there is no account #{account_id}")
    return account


def set_manager_value_level(
    session: Session, account_id: int, level: int | None, scope: Scope = EVERYTHING
) -> Account:
    """Record the account manager's view of the relationship level (0-4; ``None`` clears it)."""
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, int) or level not in VALUE_LEVELS
    ):
        raise AccountError(f"manager value level {level!r} is not one of {', '.join(map(str, VALUE_LEVELS))}")
    account = _account(session, account_id, scope)
    account.manager_value_level = level
    session.add(account)
    session.flush()
    return account


def quarter_of(column: ColumnElement[datetime] | Mapped[datetime], dialect: str) -> ColumnElement[str]:
    """``YYYY-Qn`` of a timestamp (in UTC), in the database's own dialect."""
    if dialect == "sqlite":
        quarter = (cast(func.strftime("%m", column), Integer) + 2) // 3
        return func.strftime("%Y", column) + "-Q" + cast(quarter, String)
    return func.to_char(func.timezone("UTC", column), 'YYYY-"Q"Q')


def _contacts(session: Session, account_id: int, now: datetime) -> list[ContactRow]:
    statement = (
        select(Contact, func.count(col(Response.id)), func.max(Response.submitted_at))
        .outerjoin(
            Response,
            (col(Response.contact_id) == col(Contact.id))
            & (col(Response.submitted_at) <= now)
            & ~col(Response.anonymous),
        )
        .where(Contact.account_id == account_id)
        .group_by(col(Contact.id))
        .order_by(col(Contact.buying_influence).desc(), col(Contact.name), col(Contact.id))
    )
    return [
        ContactRow(
            id=contact.id or 0,
            name=contact.name,
            email=contact.email,
            role=contact.role,
            buying_influence=float(contact.buying_influence),
            responses=int(count),
            last_response=last,
        )
        for contact, count, last in session.exec(statement).all()
    ]


@dataclass(frozen=True)
class ScoreMatrix:
    """The influence-weighted scores of many accounts at once (see the module's docstring): one
    row per account, one column per indicator, each cell summed over the contacts whose latest
    own score for that indicator went in. A contact without a known influence is left out."""

    accounts: np.ndarray  # account ids, ascending
    codes: list[str]  # the instrument's indicators in its order, then any other code, sorted
    weight: np.ndarray  # summed buying influence
    weighted_total: np.ndarray  # sum of score x influence (scores 1-7)
    plain_total: np.ndarray  # sum of scores
    contacts: np.ndarray  # contacts whose latest score went in

    def score_100(self) -> np.ndarray:
        """The influence-weighted score on 0-100; NaN where no contact with influence has one."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.weight > 0, self.weighted_total / self.weight, np.nan)
        return _to_100(mean)

    def unweighted_100(self) -> np.ndarray:
        """The plain mean of the same latest scores on 0-100; NaN without any."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.contacts > 0, self.plain_total / self.contacts, np.nan)
        return _to_100(mean)

    def of(self, account_id: int) -> dict[str, WeightedScore]:
        """One account's scores by indicator, every code present (empty where nobody answered)."""
        found = np.flatnonzero(self.accounts == account_id)
        row = int(found[0]) if len(found) else None
        weighted, plain = self.score_100(), self.unweighted_100()

        def cell(matrix: np.ndarray, column: int) -> float | None:
            value = float(matrix[row, column]) if row is not None else math.nan
            return None if math.isnan(value) else value

        return {
            code: WeightedScore(
                indicator=code,
                score_100=cell(weighted, column),
                unweighted_100=cell(plain, column),
                contacts=0 if row is None else int(self.contacts[row, column]),
                weight=0.0 if row is None else float(self.weight[row, column]),
            )
            for column, code in enumerate(self.codes)
        }


def score_matrix(
    rows: list[tuple[int, int, answered.LastAnswers]], influence: dict[int, float], indicators: list[str]
) -> ScoreMatrix:
    """``ScoreMatrix`` of ``answered.last_answers``' rows, each contact weighted by ``influence``
    (contact -> buying influence)."""
    sizes = np.fromiter((len(answers.scores) for _, _, answers in rows), dtype=np.int64, count=len(rows))
    own = np.fromiter((a for a, _, _ in rows), dtype=np.int64, count=len(rows))
    weights = np.fromiter((influence.get(c, math.nan) for _, c, _ in rows), dtype=float, count=len(rows))
    pairs = [pair for _, _, answers in rows for pair in answers.scores]
    codes = indicators + sorted({code for code, _ in pairs} - set(indicators))
    position = {code: number for number, code in enumerate(codes)}
    column = np.fromiter((position[code] for code, _ in pairs), dtype=np.int64, count=len(pairs))
    score = np.fromiter((value for _, value in pairs), dtype=float, count=len(pairs))
    account, weight = np.repeat(own, sizes), np.repeat(weights, sizes)
    known = ~np.isnan(weight)
    accounts, row = np.unique(account[known], return_inverse=True)
    cell = row * len(codes) + column[known]
    shape = (len(accounts), len(codes))

    def summed(values: np.ndarray | None) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=shape[0] * shape[1]).reshape(shape)

    weight, score = weight[known], score[known]
    return ScoreMatrix(
        accounts=accounts,
        codes=codes,
        weight=summed(weight),
        weighted_total=summed(score * weight),
        plain_total=summed(score),
        contacts=summed(None).astype(np.int64),
    )


def _to_100(score: np.ndarray) -> np.ndarray:
    return 100 * (score - 1) / 6


def median_level(distribution: dict[int, int]) -> int | None:
    """The median category of counts by level: the lowest level at which half the answers are
    reached (the lower median when the count is even); None without answers."""
    n = sum(distribution.values())
    if not n:
        return None
    reached = 0
    for level in sorted(distribution):
        reached += distribution[level]
        if 2 * reached >= n:
            return level
    return None  # unreachable: the counts add up to n


def value_levels_by_account(
    session: Session, scope: Scope, now: datetime, managers: dict[int, int | None]
) -> dict[int, ValueLevels]:
    """The customer's value level (each contact's latest answer that has one) of every account
    in ``managers`` (account -> the manager's level) and ``scope``."""
    return value_levels_of(answered.last_answers(session, scope, now), managers)


def value_levels_of(
    rows: list[tuple[int, int, answered.LastAnswers]], managers: dict[int, int | None]
) -> dict[int, ValueLevels]:
    """``value_levels_by_account`` of ``answered.last_answers``' rows."""
    distributions = {account_id: dict.fromkeys(VALUE_LEVELS, 0) for account_id in managers}
    for account_id, _, answers in rows:
        if answers.value_level is not None and account_id in distributions:
            distributions[account_id][answers.value_level] += 1
    return {
        account_id: ValueLevels(median_level(distribution), distribution, managers[account_id])
        for account_id, distribution in distributions.items()
    }


def quarterly_trend(session: Session, account_id: int, now: datetime, min_n: int) -> pd.DataFrame:
    """Per quarter and indicator: mean own score (0-100) with its 95% interval, n and effective
    n, up to the month of ``now``, computed as the dashboard does. One account's answers come
    from a few contacts answering repeatedly, so the interval is clustered by respondent (an
    anonymous answer is its own cluster): the account's raw scores summed per contact."""
    filters = Filters(account_ids=(account_id,), end=f"{now:%Y-%m}", grain="quarter")
    columns = ["quarter", "indicator", "n", "mean", "low", "high", "n_eff"]
    version = dashboard.shown_version(session, filters)
    if version is None:
        return pd.DataFrame(columns=columns)
    keys = ["version", "month", "respondent", "indicator"]
    by_respondent = dashboard.one_version(cache.read(session, "own_scores", keys, filters), version)
    quarterly = moments.of_cells(
        moments.by_period(by_respondent, "quarter"), [PERIOD, "indicator"], "respondent"
    )
    trend = dashboard.trend(None, min_n, quarterly, by_people=True)
    trend = trend.rename(columns={"period": "quarter"})
    return trend[columns].sort_values(["quarter", "indicator"]).reset_index(drop=True)


def account_view(
    session: Session, account_id: int, now: datetime, min_n: int = 5, scope: Scope = EVERYTHING
) -> AccountView:
    """Everything the account page shows, as of ``now``."""
    if min_n < 1:
        raise AccountError(f"the minimum n must be at least 1, not {min_n!r}")
    account = _account(session, account_id, scope)
    contacts = _contacts(session, account_id, now)
    heard_from = [c for c in contacts if c.answered]
    coverage = Coverage(
        contacts=len(contacts),
        answered=len(heard_from),
        influence_total=sum(c.buying_influence for c in contacts),
        influence_answered=sum(c.buying_influence for c in heard_from),
    )
    # Each contact's most recent own score per indicator and value level, read once for both.
    latest = answered.last_answers(session, Scope.of_accounts([account_id]), now)
    indicators = [indicator.code for indicator in load_instrument().indicators]
    scores = score_matrix(latest, {c.id: c.buying_influence for c in contacts}, indicators).of(account_id)
    last = session.exec(
        select(func.max(Interaction.occurred_at)).where(
            Interaction.account_id == account_id, Interaction.occurred_at <= now
        )
    ).one()
    return AccountView(
        id=account.id or 0,
        name=account.name,
        external_id=account.external_id,
        segment=account.segment,
        industry=account.industry,
        region=account.region,
        tier=account.tier,
        owner=account.owner,
        manager_value_level=account.manager_value_level,
        contacts=contacts,
        coverage=coverage,
        scores=scores,
        value=value_levels_of(latest, {account_id: account.manager_value_level})[account_id],
        last_interaction=last,
        days_since_last_interaction=None if last is None else (now - last).days,
        trend=quarterly_trend(session, account_id, now, min_n),
        min_n=min_n,
    )
