"""Which accounts a reader may see.

Every domain query that lists responses, accounts or exports takes a ``Scope`` so that the
rule "an account manager sees only their accounts" holds wherever data leaves the
database, not only in the menu.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, false, true
from sqlmodel import Session, select

from models.tables import Account


@dataclass(frozen=True)
class Scope:
    # None: every account (admins, analysts, the command line).
    account_ids: frozenset[int] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of_accounts(cls, account_ids: Iterable[int]) -> Scope:
        return cls(frozenset(account_ids))

    @property
    def is_everything(self) -> bool:
        return self.account_ids is None

    def allows(self, account_id: int | None) -> bool:
        return self.account_ids is None or account_id in self.account_ids

    def condition(self, account_column: ColumnElement[int] | object) -> ColumnElement[bool]:
        """A WHERE clause limiting ``account_column`` to the accounts in scope."""
        if self.account_ids is None:
            return true()
        if not self.account_ids:
            return false()
        # Callers pass bare SQLModel attributes, which mypy types as plain values.
        return cast(ColumnElement[int], account_column).in_(sorted(self.account_ids))


# The default of every ``scope`` parameter: admins, analysts and the command line see all.
EVERYTHING = Scope()


def owner_scope(session: Session, owner: str) -> Scope:
    """The accounts one account manager owns (by their sign-in name)."""
    ids = session.exec(select(Account.id).where(Account.owner == owner)).all()
    return Scope.of_accounts(i for i in ids if i is not None)


class _AccountFilters(Protocol):
    # Read-only, so that frozen dataclasses match.
    @property
    def account_ids(self) -> tuple[int, ...]: ...


F = TypeVar("F", bound=_AccountFilters)


def restrict_filters(filters: F, scope: Scope) -> F | None:
    """Filters (of the dashboard or an export) narrowed to the accounts in scope: the chosen
    ones that are visible, or all visible ones when none is chosen. ``None`` when the reader
    may see no account at all, because an empty choice means "every account"."""
    if scope.account_ids is None:
        return filters
    if filters.account_ids:
        chosen = [a for a in filters.account_ids if a in scope.account_ids]
    else:
        chosen = sorted(scope.account_ids)
    if not chosen:
        return None
    return replace(filters, account_ids=tuple(chosen))  # type: ignore[type-var]
