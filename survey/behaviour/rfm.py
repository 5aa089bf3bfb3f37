"""Recency, frequency and monetary segments from the transactional measures (seed 004).

For one period each account gets three scores of 1-3 against the *whole base* (every
account with a row for that period), by tertile of its rank from worst to best: **recency**
from the days since the most recent purchase (fewer is better; never bought ranks worst),
**frequency** from the
sales transactions, **monetary** from the monetary volume. The segment follows from R and F,
with M breaking the tie between loyal and needs-attention accounts:

| segment | rule |
|---|---|
| Champions | R 3 and F 3 |
| Loyal | R ≥ 2, F ≥ 2 (and M ≥ 2 when R or F is 2) |
| New or returning | R 3 and F 1 |
| At risk | R 1 and F ≥ 2 |
| Hibernating | R 1 and F 1 |
| Needs attention | everything else |

The base always covers every account, so a manager's accounts are judged against the same
base as everyone's; only the accounts in scope leave here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol, TypeVar

import pandas as pd
from sqlmodel import Session, select

from models.tables import Account, TransactionMeasure
from survey.people.access import EVERYTHING, Scope, restrict_filters

RFM_SEGMENTS = ("Champions", "Loyal", "New or returning", "At risk", "Hibernating", "Needs attention")


def latest_period(session: Session) -> str | None:
    """The most recent period with transactional measures (by its end), or ``None``."""
    return session.exec(
        select(TransactionMeasure.period)
        .order_by(TransactionMeasure.period_end.desc(), TransactionMeasure.period)  # type: ignore[attr-defined]
        .limit(1)
    ).first()


def _tertile(values: pd.Series, *, higher_is_better: bool) -> pd.Series:
    """1-3 by rank from worst to best, ``1 + floor(3 (rank - 1) / n)`` (ties share their average rank);
    a missing value ranks worst."""
    goodness = (values if higher_is_better else -values).fillna(-math.inf)
    ranks = goodness.rank(method="average", ascending=True)
    n = len(values)
    return pd.Series([1 + int(3 * (rank - 1) / n) for rank in ranks], index=values.index, dtype=int)


def segment_of(r: int, f: int, m: int) -> str:
    if r == 3 and f == 3:
        return "Champions"
    if r >= 2 and f >= 2 and (m >= 2 or (r == 3 and f == 3)):
        return "Loyal"
    if r == 3 and f == 1:
        return "New or returning"
    if r == 1 and f >= 2:
        return "At risk"
    if r == 1 and f == 1:
        return "Hibernating"
    return "Needs attention"


def rfm_segments(session: Session, period: str | None = None, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """account_id, account, period, recency, frequency, monetary (1-3) and segment of each
    account in scope for ``period`` (the latest when ``None``); empty without measures."""
    columns = ["account_id", "account", "period", "recency", "frequency", "monetary", "segment"]
    chosen = period or latest_period(session)
    if chosen is None:
        return pd.DataFrame(columns=columns)
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            Account.id,
            Account.name,
            TransactionMeasure.days_since_purchase,
            TransactionMeasure.sales_transactions,
            TransactionMeasure.monetary_volume,
        )
        .join(Account, Account.id == TransactionMeasure.account_id)
        .where(TransactionMeasure.period == chosen)
    ).all()
    frame = pd.DataFrame(rows, columns=["account_id", "account", "days", "sales", "volume"]).astype(
        {"days": float, "sales": float, "volume": float}
    )
    frame["period"] = chosen
    frame["recency"] = _tertile(frame["days"], higher_is_better=False)
    frame["frequency"] = _tertile(frame["sales"], higher_is_better=True)
    frame["monetary"] = _tertile(frame["volume"], higher_is_better=True)
    frame["segment"] = [
        segment_of(r, f, m)
        for r, f, m in zip(frame["recency"], frame["frequency"], frame["monetary"], strict=True)
    ]
    visible = frame[[scope.allows(int(a)) for a in frame["account_id"]]]
    return visible[columns].sort_values("account").reset_index(drop=True)


def accounts_in_segment(
    session: Session, segment: str, period: str | None = None, scope: Scope = EVERYTHING
) -> tuple[int, ...]:
    """The ids of the accounts in one RFM segment: what a dashboard's account filter takes."""
    if segment not in RFM_SEGMENTS:
        raise ValueError(f"unknown RFM segment {segment!r} (use one of {', '.join(RFM_SEGMENTS)})")
    frame = rfm_segments(session, period, scope)
    return tuple(int(a) for a in frame.loc[frame["segment"] == segment, "account_id"])


class _RfmFilters(Protocol):
    # Read-only, so that frozen dataclasses match.
    @property
    def account_ids(self) -> tuple[int, ...]: ...

    @property
    def rfm_segments(self) -> tuple[str, ...]: ...


F = TypeVar("F", bound=_RfmFilters)


def narrow_to_rfm(session: Session, filters: F, period: str | None = None) -> F | None:
    """Filters whose RFM segments are turned into the accounts in them (of ``period``, the
    latest when ``None``), the way a manager's scope is (``restrict_filters``): the chosen
    accounts that are in a segment, or every account in one when none is chosen. ``None``
    when no account is left; unchanged without RFM segments."""
    if not filters.rfm_segments:
        return filters
    accounts = {a for segment in filters.rfm_segments for a in accounts_in_segment(session, segment, period)}
    cleared = replace(filters, rfm_segments=())  # type: ignore[type-var]
    return restrict_filters(cleared, Scope.of_accounts(accounts))
