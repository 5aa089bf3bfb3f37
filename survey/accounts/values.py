"""The relationship level 0-4 over time (seed 002): the account manager's assessments, kept
with their date and author instead of overwritten, next to the level the customer reports.

The levels are ordered categories (no value added ... partnership), so they are never averaged.
The customer's level of an account at a moment is the median of each contact's latest answer
(``survey.accounts.profile.median_level``); over time it is the median of the answers given per
quarter. A gap between the manager and the customer is counted in whole levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Account, Response, ValueAssessment
from survey.accounts.profile import (
    VALUE_LEVELS,
    AccountError,
    median_level,
    quarter_of,
    set_manager_value_level,
    value_levels_by_account,
)
from survey.people.access import EVERYTHING, Scope

DISAGREEMENT_AT = 1.0  # levels apart before a disagreement is listed


@dataclass(frozen=True)
class Assessment:
    level: int | None
    assessed_at: datetime
    author: str


@dataclass(frozen=True)
class Disagreement:
    account_id: int
    account: str
    owner: str
    manager: int
    customer_level: int
    customer_n: int
    assessed_at: datetime | None

    @property
    def gap(self) -> int:
        """The manager's level minus the customer's: above zero, the manager sees more value."""
        return self.manager - self.customer_level


def assess_value_level(
    session: Session,
    account_id: int,
    level: int | None,
    *,
    author: str,
    now: datetime,
    scope: Scope = EVERYTHING,
) -> ValueAssessment:
    """Record the account manager's level (``None`` clears it) as a new, dated entry."""
    if not isinstance(author, str) or not author.strip():
        raise AccountError("the author of the assessment is empty")
    account = set_manager_value_level(session, account_id, level, scope=scope)
    entry = ValueAssessment(account_id=account.id or 0, level=level, assessed_at=now, author=author.strip())
    session.add(entry)
    session.flush()
    return entry


def assessment_history(session: Session, account_id: int, scope: Scope = EVERYTHING) -> list[Assessment]:
    """Every assessment of the account, newest first."""
    if not scope.allows(account_id):
        raise AccountError(f"there is no account #{account_id}")
    rows = session.exec(
        select(ValueAssessment.level, ValueAssessment.assessed_at, ValueAssessment.author)
        .where(ValueAssessment.account_id == account_id)
        .order_by(ValueAssessment.assessed_at.desc(), ValueAssessment.id.desc())  # type: ignore[attr-defined,union-attr]
    ).all()
    return [Assessment(level, at, author) for level, at, author in rows]


def customer_levels_by_quarter(session: Session, account_id: int, now: datetime) -> pd.DataFrame:
    """quarter, median level (0-4) and n of the levels customers reported, per quarter."""
    quarter = quarter_of(col(Response.submitted_at), session.get_bind().dialect.name).label("quarter")
    rows = session.exec(
        select(quarter, col(Response.value_level), func.count())
        .where(
            Response.account_id == account_id,
            Response.value_level.is_not(None),  # type: ignore[union-attr]
            Response.submitted_at <= now,
        )
        .group_by(quarter, col(Response.value_level))
        .order_by(quarter)
    ).all()
    by_quarter: dict[str, dict[int, int]] = {}
    for name, level, count in rows:
        by_quarter.setdefault(str(name), {})[int(level or 0)] = int(count)  # never None: filtered
    frame = pd.DataFrame(
        [(name, median_level(counts), sum(counts.values())) for name, counts in by_quarter.items()],
        columns=["quarter", "median", "n"],
    )
    return frame.astype({"median": int, "n": int})


@dataclass(frozen=True)
class _Levels:
    """An account's two views of the level, as ``disagreements_among`` compares them."""

    account_id: int
    account: str
    owner: str
    manager_level: int | None
    customer_level: int | None
    customer_n: int


def disagreements(
    session: Session, now: datetime, scope: Scope = EVERYTHING, at_least: float = DISAGREEMENT_AT
) -> list[Disagreement]:
    """Accounts where the manager's level and the customer's differ by ``at_least`` levels,
    largest gap first."""
    accounts = session.exec(
        select(Account.id, Account.name, Account.owner, Account.manager_value_level).where(
            scope.condition(Account.id),
            Account.manager_value_level.is_not(None),  # type: ignore[union-attr]
        )
    ).all()
    managers = {account_id or 0: manager for account_id, _, _, manager in accounts}
    customers = value_levels_by_account(session, scope, now, managers)
    levels = []
    for account_id, name, owner, manager in accounts:
        customer = customers[account_id or 0]
        levels.append(
            _Levels(account_id or 0, name, owner, manager, customer.customer_level, customer.customer_n)
        )
    return disagreements_among(session, levels, at_least)


class LevelsOf(Protocol):
    """What ``disagreements_among`` reads of an account: ``_Levels``, or a row of My accounts'
    ranking (``survey.accounts.health.AccountHealth``), which holds both levels already."""

    @property
    def account_id(self) -> int: ...
    @property
    def account(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def manager_level(self) -> int | None: ...
    @property
    def customer_level(self) -> int | None: ...
    @property
    def customer_n(self) -> int: ...


def disagreements_among(
    session: Session, accounts: Sequence[LevelsOf], at_least: float = DISAGREEMENT_AT
) -> list[Disagreement]:
    """``disagreements`` of accounts whose two levels are known already (My accounts has them
    in its ranking): each one's latest assessment date is read, nothing else."""
    apart = []
    for levels in accounts:
        manager, customer = levels.manager_level, levels.customer_level
        if customer is not None and manager is not None and abs(manager - customer) >= at_least - 1e-9:
            apart.append((levels, manager, customer))
    if not apart:
        return []
    latest = dict(
        session.exec(
            select(ValueAssessment.account_id, func.max(ValueAssessment.assessed_at)).group_by(
                col(ValueAssessment.account_id)
            )
        ).all()
    )
    found = [
        Disagreement(
            account_id=levels.account_id,
            account=levels.account,
            owner=levels.owner,
            manager=manager,
            customer_level=customer,
            customer_n=levels.customer_n,
            assessed_at=latest.get(levels.account_id),
        )
        for levels, manager, customer in apart
    ]
    return sorted(found, key=lambda d: (-abs(d.gap), d.account))


def level_label(level: int | None) -> str:
    if level is None:
        return "—"
    return f"{level} · {VALUE_LEVELS[level]}"
