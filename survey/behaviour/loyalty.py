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

**Segments.** Each segment is compared with *the rest of the base* (every other account with a
row for the period), never with a base that contains the segment itself. For each measure the
page shows how much better (+) or worse (-) the segment's mean is, in percent of the rest's
mean, with the Welch 95% interval of the difference of the two means
(``survey.reporting.intervals.difference_interval``) on the same percent scale (the rest's mean
taken as the fixed reference), and both n (accounts with a value).
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
from survey.reporting.intervals import difference_interval

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
    # likely_loyal (share 0-1), mean score, and for each measure its mean, n_<measure> and
    # n_rest_<measure> (accounts with a value in the segment and in the rest of the base), and
    # better_<measure> with better_<measure>_low/_high: % better (+) than the rest of the base
    # with its 95% interval (NaN on "Whole base", which has nothing to be compared with).
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
    return Loyalty(period=period, base=base, accounts=visible, segments=_segments(visible, frame))


def _segments(visible: pd.DataFrame, every: pd.DataFrame) -> pd.DataFrame:
    """Each segment's share of likely loyal accounts and its means against the rest of the base."""
    rows = []
    groups = [(segment or "(no segment)", rows_) for segment, rows_ in visible.groupby("segment", sort=True)]
    for segment, rows_ in [*groups, ("Whole base", every)]:
        row: dict[str, object] = {
            "segment": segment,
            "accounts": len(rows_),
            "likely_loyal": float(rows_["likely_loyal"].mean()) if len(rows_) else None,
            "score": float(rows_["score"].mean()) if len(rows_) else None,
        }
        rest = every.iloc[0:0] if rows_ is every else every[~every["account_id"].isin(rows_["account_id"])]
        for name, (_, lower_is_better) in MEASURES.items():
            mine, others = rows_[name].dropna(), rest[name].dropna()
            row[name] = float(mine.mean()) if len(mine) else None
            row[f"n_{name}"] = len(mine)
            row[f"n_rest_{name}"] = len(others)
            row |= _better(mine, others, lower_is_better, name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    # NaN, never None, where there is nothing to compare (e.g. a base average of 0).
    numbers = [column for column in frame.columns if column not in ("segment", "accounts")]
    frame[numbers] = frame[numbers].astype(float)
    return frame


def _better(mine: pd.Series, others: pd.Series, lower_is_better: bool, name: str) -> dict[str, float | None]:
    """% better than the rest of the base, with the Welch interval of the difference on the
    same scale; None where either side has no value or the rest's mean is 0."""
    keys = (f"better_{name}", f"better_{name}_low", f"better_{name}_high")
    if not len(mine) or not len(others) or not float(others.mean()):
        return dict.fromkeys(keys)
    reference = float(others.mean())
    sign = -1.0 if lower_is_better else 1.0
    better = sign * 100 * (float(mine.mean()) - reference) / reference
    interval = difference_interval(
        float(mine.mean()),
        float(mine.std(ddof=1)) if len(mine) > 1 else 0.0,
        len(mine),
        reference,
        float(others.std(ddof=1)) if len(others) > 1 else 0.0,
        len(others),
    )
    if interval is None:
        return {keys[0]: better, keys[1]: None, keys[2]: None}
    ends = sorted(sign * 100 * end / reference for end in interval)
    return {keys[0]: better, keys[1]: ends[0], keys[2]: ends[1]}
