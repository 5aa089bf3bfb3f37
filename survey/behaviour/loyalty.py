"""Which accounts behave like loyal customers (seed 004), and how each segment compares.

**The rule.** For one period, each of the seven transactional measures is compared with
its average over the *whole base* (every account with a row for that period): more
transactions, requests, positive service events, referral sales or volume than average
counts as above average; for the two "days since" measures *fewer* days does. An account
that is above average on at least three measures is *likely loyal*. An empty "days since"
(never bought or paid) is never above average.

**The weighted score** is the alternative for teams that value some measures more: each
measure is standardised against the base (z = (x - mean) / sd, sign flipped where lower is
better, a never-bought account counted as the base's worst), and the score is the weighted
mean of those z values: 0 is an average account, +1 one standard deviation better.

The base averages always cover every account, so an account manager's accounts are judged
against the same base as everyone's; the account list itself obeys the reader's ``Scope``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Float, cast, func
from sqlmodel import Session, col, select

from models.tables import Account, TransactionMeasure
from survey.imports.transactions import MEASURES
from survey.people.access import Scope

EVERYTHING = Scope.everything()
LIKELY_LOYAL_AT = 3  # above average on at least this many measures (seed 004)


class LoyaltyError(ValueError):
    """The loyalty settings were refused; the message names the bad one."""


@dataclass(frozen=True)
class BaseFigure:
    n: int  # accounts with a value
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Loyalty:
    period: str
    base: dict[str, BaseFigure]
    # The accounts in scope: account_id, account, segment, the seven measures, above_<measure>
    # (bool) for each, above (how many), likely_loyal (bool), score (weighted); best first.
    accounts: pd.DataFrame
    # segments of the accounts in scope (and "Whole base" last, every account), accounts,
    # likely_loyal (share 0-1), mean score, and
    # for each measure its mean and better_<measure>: % better than the base (+ is better).
    segments: pd.DataFrame


def base_figures(session: Session, period: str) -> dict[str, BaseFigure]:
    """Mean and sd of each measure over every account in ``period``, summed in the database."""
    columns = []
    for name in MEASURES:
        column = cast(getattr(TransactionMeasure, name), Float)
        columns += [func.count(column), func.avg(column), func.avg(column * column)]
    row = session.exec(select(*columns).where(TransactionMeasure.period == period)).one()
    result = {}
    for index, name in enumerate(MEASURES):
        n, mean, mean_sq = row[3 * index : 3 * index + 3]
        sd = None
        if n and n > 1:
            # Sample sd from the sums; max() guards against rounding just below zero.
            sd = math.sqrt(max(0.0, (float(mean_sq) - float(mean) ** 2) * n / (n - 1)))
        result[name] = BaseFigure(n=int(n or 0), mean=None if mean is None else float(mean), sd=sd)
    return result


def _check_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    chosen = dict.fromkeys(MEASURES, 1.0) | dict(weights or {})
    unknown = sorted(set(chosen) - set(MEASURES))
    if unknown:
        raise LoyaltyError(f"unknown measure(s) in the weights: {', '.join(unknown)}")
    if any(not math.isfinite(w) or w < 0 for w in chosen.values()):
        raise LoyaltyError("weights must be numbers of 0 or more")
    if sum(chosen.values()) <= 0:
        raise LoyaltyError("at least one weight must be above 0")
    return chosen


def loyalty(
    session: Session,
    period: str,
    *,
    scope: Scope = EVERYTHING,
    weights: Mapping[str, float] | None = None,
    likely_loyal_at: int = LIKELY_LOYAL_AT,
) -> Loyalty:
    """The loyalty rule and the weighted score for every account in scope, in ``period``."""
    chosen = _check_weights(weights)
    if not 1 <= likely_loyal_at <= len(MEASURES):
        raise LoyaltyError(f"'likely loyal' needs 1 to {len(MEASURES)} measures above average")
    base = base_figures(session, period)
    statement = (
        select(Account.id, Account.name, Account.segment, *(getattr(TransactionMeasure, m) for m in MEASURES))
        .join(Account, col(Account.id) == TransactionMeasure.account_id)
        .where(TransactionMeasure.period == period)
    )
    frame = pd.DataFrame(
        session.exec(statement).all(), columns=["account_id", "account", "segment", *MEASURES]
    ).astype({m: float for m in MEASURES})
    zs = pd.DataFrame(index=frame.index)
    for name, (_, lower_is_better) in MEASURES.items():
        figure = base[name]
        values = frame[name]
        if figure.mean is None:
            frame[f"above_{name}"] = False
            zs[name] = 0.0
            continue
        sign = -1.0 if lower_is_better else 1.0
        frame[f"above_{name}"] = (sign * (values - figure.mean) > 0) & values.notna()
        z = sign * (values - figure.mean) / figure.sd if figure.sd else pd.Series(0.0, index=frame.index)
        # Never bought or paid: counted as the worst account of the base.
        zs[name] = z.fillna(float(z.min()) if z.notna().any() else 0.0)
    above_columns = [f"above_{m}" for m in MEASURES]
    frame["above"] = frame[above_columns].sum(axis=1).astype(int)
    frame["likely_loyal"] = frame["above"] >= likely_loyal_at
    total = sum(chosen.values())
    frame["score"] = (
        sum(zs[m] * w for m, w in chosen.items()) / total if len(frame) else pd.Series(dtype=float)
    )
    frame = frame.sort_values(["likely_loyal", "score", "account"], ascending=[False, False, True])
    # Every account is scored (the z values need the whole base); only those in scope leave here.
    visible = frame[[scope.allows(int(a)) for a in frame["account_id"]]].reset_index(drop=True)
    return Loyalty(period=period, base=base, accounts=visible, segments=_segments(visible, frame, base))


def _segments(visible: pd.DataFrame, every: pd.DataFrame, base: dict[str, BaseFigure]) -> pd.DataFrame:
    """Each segment's share of likely loyal accounts and its means against the whole base."""
    rows = []
    groups = [(segment or "(no segment)", rows_) for segment, rows_ in visible.groupby("segment", sort=True)]
    for segment, rows_ in [*groups, ("Whole base", every)]:
        row: dict[str, object] = {
            "segment": segment,
            "accounts": len(rows_),
            "likely_loyal": float(rows_["likely_loyal"].mean()) if len(rows_) else None,
            "score": float(rows_["score"].mean()) if len(rows_) else None,
        }
        for name, (_, lower_is_better) in MEASURES.items():
            mean = rows_[name].mean()
            base_mean = base[name].mean
            row[name] = None if pd.isna(mean) else float(mean)
            better = None
            if base_mean and not pd.isna(mean):
                change = 100 * (float(mean) / base_mean - 1)
                better = -change if lower_is_better else change
            row[f"better_{name}"] = better
        rows.append(row)
    frame = pd.DataFrame(rows)
    # NaN, never None, where there is nothing to compare (e.g. a base average of 0).
    numbers = [column for column in frame.columns if column not in ("segment", "accounts")]
    frame[numbers] = frame[numbers].astype(float)
    return frame
