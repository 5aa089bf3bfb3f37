"""The demo's transactional history: what each account did quarter by quarter.

The link the "What predicts what" page should find is built in on purpose: an account's
buying in a quarter follows the commitment its contacts reported in the quarter before
(the mean of their stored commitment scores), ``COMMITMENT_EFFECT`` on the log of the
expected number of sales transactions per scale point. Referrals follow it more weakly;
everything else is tier and chance.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import insert
from sqlmodel import Session

from models.tables import TransactionMeasure
from survey.imports.benchmarks import period_bounds

COMMITMENT_SWING = 0.5  # sd of an account's quarter-to-quarter commitment swing (scale points)
COMMITMENT_EFFECT = 0.35  # log expected sales per scale point of last quarter's commitment
COMMITMENT_CENTRE = 5.0
# Standard accounts buy rarely enough that some quarters pass without a sale: retention varies.
SALES_PER_QUARTER = {"Strategic": 12.0, "Key": 6.0, "Standard": 2.0}
REQUESTS_PER_QUARTER = {"Strategic": 6.0, "Key": 4.0, "Standard": 2.5}


def quarter_of(moment: datetime | date) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def full_quarters(start: datetime, now: datetime) -> list[str]:
    """The quarters that lie wholly between ``start`` and ``now``."""
    quarters = []
    day = start.date()
    while True:
        label = quarter_of(day)
        first, last = period_bounds(label) or (day, day)
        if first >= start.date() and last < now.date():
            quarters.append(label)
        if last >= now.date():
            return quarters
        day = last + timedelta(days=1)


def add_transactions(
    session: Session,
    rng: np.random.Generator,
    tiers: dict[int, str],
    commitment: dict[tuple[int, str], list[float]],
    *,
    start: datetime,
    now: datetime,
) -> int:
    """One row of measures per account and full quarter; returns how many were added."""
    quarters = full_quarters(start, now)
    rows = []
    for account_id, tier in tiers.items():
        seen = [
            score for (account, _), scores in commitment.items() if account == account_id for score in scores
        ]
        usual = sum(seen) / len(seen) if seen else COMMITMENT_CENTRE
        since_purchase: int | None = None
        since_payment: int | None = None
        previous = quarter_of(start)
        for quarter in quarters:
            scores = commitment.get((account_id, previous), [])
            last_commitment = sum(scores) / len(scores) if scores else usual
            lift = math.exp(COMMITMENT_EFFECT * (last_commitment - COMMITMENT_CENTRE))
            sales = int(rng.poisson(SALES_PER_QUARTER[tier] * lift))
            first, last = period_bounds(quarter) or (now.date(), now.date())
            length = (last - first).days + 1
            if sales:
                since_purchase = int(rng.integers(0, max(1, length // (sales + 1)) + 1))
                since_payment = max(0, since_purchase - int(rng.integers(0, 31)))
            else:
                since_purchase = None if since_purchase is None else since_purchase + length
                since_payment = None if since_payment is None else since_payment + length
            rows.append(
                {
                    "account_id": account_id,
                    "period": quarter,
                    "period_start": first,
                    "period_end": last,
                    "sales_transactions": sales,
                    "information_requests": int(rng.poisson(REQUESTS_PER_QUARTER[tier])),
                    "positive_service_events": int(rng.poisson(REQUESTS_PER_QUARTER[tier] * 0.8)),
                    "referral_sales": int(rng.poisson(0.4 * math.sqrt(lift))),
                    "days_since_purchase": since_purchase,
                    "days_since_payment": since_payment,
                    "monetary_volume": round(float(rng.lognormal(8.5, 0.6, size=sales).sum()), 2),
                    "imported_at": now,
                }
            )
            previous = quarter
    if rows:
        session.execute(insert(TransactionMeasure), rows)
    return len(rows)
