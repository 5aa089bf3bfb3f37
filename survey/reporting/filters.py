"""What every report can be narrowed by: the one ``Filters`` type and how it reads as SQL.

The dashboard, the overview, the exports and the HTTP API share it. Its conditions are
written once against named columns (``where``), so the same filter narrows an aggregate
table and the raw rows an aggregate is defined from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Integer, Select, String, cast, func, literal
from sqlalchemy.orm import Mapped

from models.tables import Account, Contact, Response

Grain = Literal["month", "quarter"]
UNKNOWN_ROLE = "unknown"  # the role key of a response without a contact


@dataclass(frozen=True)
class Filters:
    """The filters of a report; empty tuples mean 'all'. Months are ``YYYY-MM``, inclusive.

    ``version`` is the instrument version the figures are computed on (``None``: the newest
    one with responses): answers to different versions are never pooled.

    ``rfm_segments`` are behaviour segments (``survey.behaviour.rfm``, of the latest period).
    A segment is a set of accounts, computed against the whole base, so it is not a column of
    any aggregate: ``survey.behaviour.rfm.narrow_to_rfm`` turns it into ``account_ids`` (as a
    manager's scope is) before anything is read, and ``where`` refuses filters still holding it."""

    start: str | None = None
    end: str | None = None
    segments: tuple[str, ...] = ()
    touchpoint_ids: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()
    account_ids: tuple[int, ...] = ()
    grain: Grain = "quarter"
    version: int | None = None
    rfm_segments: tuple[str, ...] = ()

    @property
    def dimensions(self) -> frozenset[str]:
        """The key columns a source must have to apply these filters."""
        wanted = {
            "account_id": self.account_ids,
            "segment": self.segments,
            "touchpoint_id": self.touchpoint_ids,
            "role": self.roles,
        }
        return frozenset(name for name, values in wanted.items() if values)


def where(filters: Filters, column: Callable[[str], Any], *, skip: frozenset[str] = frozenset()) -> list[Any]:
    """The filters as WHERE conditions on the columns ``column(name)`` returns (``month``,
    ``segment``, ``touchpoint_id``, ``role``, ``account_id``, ``version``); ``skip`` names
    dimensions to leave out."""
    if filters.rfm_segments:
        raise ValueError("RFM segments are sets of accounts: narrow them with narrow_to_rfm before reading")
    conditions: list[Any] = []
    if filters.start:
        conditions.append(column("month") >= filters.start)
    if filters.end:
        conditions.append(column("month") <= filters.end)
    if filters.version is not None:
        conditions.append(column("version") == filters.version)
    for name, values in (
        ("account_id", filters.account_ids),
        ("segment", filters.segments),
        ("touchpoint_id", filters.touchpoint_ids),
        ("role", filters.roles),
    ):
        if values and name not in skip:
            conditions.append(column(name).in_(sorted(values)))
    return conditions


def month_of(column: ColumnElement[Any] | Mapped[Any], dialect: str) -> ColumnElement[str]:
    """``YYYY-MM`` of a timestamp, in the database's own dialect."""
    return _in_utc(column, dialect, "%Y-%m", "YYYY-MM")


def day_of(column: ColumnElement[Any] | Mapped[Any], dialect: str) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a timestamp, in the database's own dialect."""
    return _in_utc(column, dialect, "%Y-%m-%d", "YYYY-MM-DD")


def hours_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[Any]:
    """The hours from one timestamp to another, in the database's own dialect."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 24
    return func.extract("epoch", later - earlier) / 3600


def _in_utc(
    column: ColumnElement[Any] | Mapped[Any], dialect: str, sqlite: str, other: str
) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.strftime(sqlite, column)
    # timestamptz: take the date in UTC, whatever the session's time zone.
    return func.to_char(func.timezone("UTC", column), other)


def quarter_of(month: Any) -> ColumnElement[str]:
    """``YYYY-MM`` to ``YYYY-Qn`` in SQL, as ``periods_of`` does in Python."""
    number = cast(func.substr(month, 6, 2), Integer)
    return func.substr(month, 1, 4) + literal("-Q") + cast((number + 2) // 3, String)


def month_begins(month: str) -> datetime:
    """The first instant (UTC) of the ``YYYY-MM`` month."""
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def month_ends(month: str) -> datetime:
    """The first instant (UTC) after the ``YYYY-MM`` month."""
    year, number = int(month[:4]), int(month[5:7])
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def months_back(month: str, count: int) -> str:
    """The ``YYYY-MM`` ``count`` months before ``month``."""
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def recent_period(first: str, last: str, months: int | None) -> tuple[str, str]:
    """The last ``months`` months of the months with data, ``first`` to ``last`` (``YYYY-MM``;
    ``None``: all of them): the period a report's filters start from."""
    if months is None:
        return first, last
    return max(first, months_back(last, months - 1)), last


def period_months(period: str) -> tuple[str, str]:
    """The first and last ``YYYY-MM`` of a period label: a month, or a quarter ``YYYY-Qn``."""
    if "-Q" not in period:
        return period, period
    first = (int(period[6:]) - 1) * 3 + 1
    return f"{period[:4]}-{first:02d}", f"{period[:4]}-{first + 2:02d}"


def role_of() -> ColumnElement[str]:
    """The contact's role, ``unknown`` without a contact (responses joined to contact)."""
    return func.coalesce(Contact.role, literal(UNKNOWN_ROLE))


def where_dimensions(statement: Select[Any], filters: Filters, role: Any) -> Select[Any]:
    """The account, segment, touchpoint and role filters on responses joined to their
    account; ``role`` is the contact's role column (missing roles already filled in)."""
    columns = {
        "account_id": Response.account_id,
        "segment": Account.segment,
        "touchpoint_id": Response.touchpoint_id,
        "role": role,
    }
    dimensions_only = Filters(
        segments=filters.segments,
        touchpoint_ids=filters.touchpoint_ids,
        roles=filters.roles,
        account_ids=filters.account_ids,
    )
    return statement.where(*where(dimensions_only, columns.__getitem__))


def period_of(month: pd.Series, grain: Grain) -> pd.Series:
    """``YYYY-MM`` to the month itself or its quarter, ``YYYY-Qn``."""
    if grain == "month":
        return month
    quarter = (month.str[5:7].astype(int) - 1) // 3 + 1
    return month.str[:4] + "-Q" + quarter.astype(str)


def periods_of(months: np.ndarray, grain: Grain) -> np.ndarray:
    """``YYYY-MM`` labels to months or quarters (``YYYY-Qn``), as ``period_of`` does."""
    if grain == "month" or not len(months):
        return months
    distinct, inverse = np.unique(months, return_inverse=True)
    labels = [f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}" for month in distinct]
    return np.array(labels)[inverse]
