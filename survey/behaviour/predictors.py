"""What predicts what: how the six indicators relate to what accounts do *next* (seed 000's
Action -> Response behaviour -> Feedback loop, seed 004's predictive measures).

**The pairs.** For every account and period with transactional measures, the account's
mean own score per indicator from the responses submitted in that period (all touchpoints,
or one touchpoint) is paired with the account's behaviour in the *next* period: the period
of the same length that starts the day after (2026-Q2 -> 2026-Q3). Outcomes: sales
transactions, monetary volume, and retention (1 when the account made at least one sales
transaction in the next period, else 0).

**The statistic.** Pearson's r with its 95% interval (Fisher z) and p from ``pingouin.corr``
(R: ``cor.test(x, y)``); for the 0/1 retention outcome r is the point-biserial correlation.
Every pair is one account-period, so an account contributes one pair per period: the
intervals treat pairs as independent, which makes them somewhat too narrow when few
accounts contribute many periods. The p values are corrected across every correlation
computed at once (Benjamini-Hochberg), and a sentence claims a link only when the corrected
p is below 0.05. Fewer than ``min_n`` pairs (and never fewer than four): no r is shown.

**The plain reading** splits the pairs at the indicator's median and compares the next
period's mean outcome above it with the mean below it ("accounts with commitment above the
median bought 18% more the next quarter (r = 0.31, 95% CI 0.07 to 0.52, n = 62)").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd
import pingouin as pg
from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from models.tables import Account, IndicatorScore, Response, Touchpoint, TransactionMeasure
from survey.people.access import Scope

EVERYTHING = Scope.everything()
OUTCOMES = {
    "sales_transactions": "Sales transactions",
    "monetary_volume": "Monetary volume",
    "retained": "Retention (bought again)",
}
GROUP_KINDS = ("all", "segment", "touchpoint")
ALL = "All accounts"
SMALLEST_N = 4  # below this a correlation's interval is not defined
SIGNIFICANT = 0.05
COLUMNS = [
    "kind", "group", "indicator", "outcome", "n", "r", "low", "high", "p", "p_corrected",
    "above", "below", "reading", "shown", "claim",
]  # fmt: skip


@dataclass(frozen=True)
class Predictions:
    # One row per group x indicator x outcome: kind (all, segment, touchpoint), group, indicator,
    # outcome, n, r, low, high (95% CI), p, p_corrected, above / below (mean next-period
    # outcome above and below the indicator's median), reading, shown (n large enough),
    # claim (corrected p < 0.05).
    table: pd.DataFrame
    pairs: int  # account-periods with scores and a next period, all touchpoints
    grain: str  # "quarter", "month", "year" or "period" when the file mixes them
    min_n: int


def data_version(session: Session) -> tuple[int, str, int]:
    """Changes whenever measures are imported or a response arrives: a cache key for the page."""
    count, imported = session.exec(
        select(func.count(col(TransactionMeasure.id)), func.max(TransactionMeasure.imported_at))
    ).one()
    latest = session.exec(select(func.max(Response.id))).one()
    return int(count or 0), str(imported), int(latest or 0)


def grain_of(periods: list[str]) -> str:
    kinds = {"quarter" if "Q" in p else "month" if len(p) == 7 else "year" for p in periods}
    return kinds.pop() if len(kinds) == 1 else "period"


def _at(day: object) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)  # type: ignore[arg-type]


def period_scores(session: Session, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """account_id, period, touchpoint_id, indicator, n, total: own scores (1-7) summed in the
    database for each period on file; one query per period, each a range on submitted_at."""
    periods = session.exec(
        select(
            col(TransactionMeasure.period),
            col(TransactionMeasure.period_start),
            col(TransactionMeasure.period_end),
        )
        .distinct()
        .order_by(col(TransactionMeasure.period_start))
    ).all()
    parts = []
    for period, start, end in periods:
        statement = (
            select_rows(
                col(Response.account_id),
                col(Response.touchpoint_id),
                col(IndicatorScore.indicator),
                func.count(),
                func.sum(IndicatorScore.score),
            )
            .join(IndicatorScore, col(IndicatorScore.response_id) == Response.id)
            .where(
                col(IndicatorScore.subject) == "own",
                col(Response.submitted_at) >= _at(start),
                col(Response.submitted_at) < _at(end + timedelta(days=1)),
                scope.condition(Response.account_id),
            )
            .group_by(col(Response.account_id), col(Response.touchpoint_id), col(IndicatorScore.indicator))
        )
        rows = session.execute(statement).all()
        part = pd.DataFrame(rows, columns=["account_id", "touchpoint_id", "indicator", "n", "total"])
        part["period"] = period
        parts.append(part)
    columns = ["account_id", "period", "touchpoint_id", "indicator", "n", "total"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns].astype({"n": int, "total": float})


def next_period_outcomes(session: Session, scope: Scope = EVERYTHING) -> pd.DataFrame:
    """account_id, segment, period, and the next period's sales_transactions,
    monetary_volume and retained (0/1), for every account-period that has a next one."""
    rows = session.execute(
        select_rows(
            col(TransactionMeasure.account_id),
            col(Account.segment),
            col(TransactionMeasure.period),
            col(TransactionMeasure.period_start),
            col(TransactionMeasure.period_end),
            col(TransactionMeasure.sales_transactions),
            col(TransactionMeasure.monetary_volume),
        )
        .join(Account, col(Account.id) == TransactionMeasure.account_id)
        .where(scope.condition(TransactionMeasure.account_id))
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=["account_id", "segment", "period", "start", "end", "sales_transactions", "monetary_volume"],
    )
    frame["next_start"] = frame["end"].map(lambda day: day + timedelta(days=1))
    following = frame[["account_id", "start", "period", "sales_transactions", "monetary_volume"]].rename(
        columns={"start": "next_start", "period": "next_period"}
    )
    pairs = frame[["account_id", "segment", "period", "next_start"]].merge(
        following, on=["account_id", "next_start"]
    )
    # The next period must be as long as this one: 2026-Q4 is followed by 2027-Q1, not 2027.
    pairs = pairs[pairs["period"].str.len() == pairs["next_period"].str.len()]
    pairs["retained"] = (pairs["sales_transactions"] > 0).astype(float)
    return pairs[["account_id", "segment", "period", "next_period", *OUTCOMES]].reset_index(drop=True)


def _reading(indicator: str, outcome: str, grain: str, above: float, below: float) -> str:
    """What the median split says, in a manager's words (without the statistics)."""
    who = f"Accounts with {indicator.lower()} above the median"
    if outcome == "retained":
        return f"{who} bought again the next {grain} {above:.0%} of the time, against {below:.0%} below it"
    verb = "bought" if outcome == "sales_transactions" else "spent"
    if below <= 0:
        return f"{who} {verb} {above:,.1f} on average the next {grain}, those below it nothing"
    change = 100 * (above / below - 1)
    more = "more" if change >= 0 else "less"
    return f"{who} {verb} {abs(change):.0f}% {more} the next {grain}"


def _correlate(x: pd.Series, y: pd.Series) -> tuple[float, float, float, float] | None:
    """(r, low, high, p), or None when either side does not vary."""
    if x.nunique() < 2 or y.nunique() < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pg.corr(x.to_numpy(), y.to_numpy())
    r, (low, high), p = float(result["r"].iloc[0]), result["CI95"].iloc[0], float(result["p_val"].iloc[0])
    if not math.isfinite(r):
        return None
    return r, float(low), float(high), p


def predictions(
    session: Session, *, min_n: int = 5, labels: dict[str, str] | None = None, scope: Scope = EVERYTHING
) -> Predictions:
    """Every indicator against every next-period outcome: for all accounts, by segment and
    by touchpoint. See the module docstring for the method."""
    labels = labels or {}
    smallest = max(min_n, SMALLEST_N)
    scores = period_scores(session, scope)
    outcomes = next_period_outcomes(session, scope)
    names = dict(session.exec(select(Touchpoint.id, Touchpoint.name)).all())
    stages = dict(session.exec(select(Touchpoint.id, Touchpoint.stage)).all())
    grain = grain_of(sorted(set(outcomes["period"]))) if len(outcomes) else "period"
    everywhere = scores.groupby(["account_id", "period", "indicator"], as_index=False)[["n", "total"]].sum()
    # Rounded far below any real difference, so that the median split does not depend on the
    # order in which the database happened to add the scores up.
    everywhere["score"] = (everywhere["total"] / everywhere["n"]).round(9)
    by_touchpoint = scores.assign(score=(scores["total"] / scores["n"]).round(9))
    base = everywhere.merge(outcomes, on=["account_id", "period"])
    groups: list[tuple[str, str, pd.DataFrame]] = [("all", ALL, base)]
    groups += [
        ("segment", segment or "(no segment)", rows) for segment, rows in base.groupby("segment", sort=True)
    ]
    touched = by_touchpoint.merge(outcomes, on=["account_id", "period"])
    for touchpoint_id in sorted(set(touched["touchpoint_id"]), key=lambda tp: (stages.get(tp, 0), tp)):
        groups.append(
            (
                "touchpoint",
                names.get(touchpoint_id, str(touchpoint_id)),
                touched[touched["touchpoint_id"] == touchpoint_id],
            )
        )
    rows = []
    indicators = list(labels) or sorted(set(scores["indicator"]))
    for kind, group, data in groups:
        for indicator in indicators:
            pairs = data[data["indicator"] == indicator]
            for outcome in OUTCOMES:
                row = dict.fromkeys(COLUMNS)
                row |= {"kind": kind, "group": group, "indicator": indicator, "outcome": outcome}
                row |= {"n": len(pairs), "shown": False, "claim": False}
                if len(pairs) >= smallest:
                    result = _correlate(pairs["score"], pairs[outcome])
                    if result is not None:
                        high_half = pairs["score"] > pairs["score"].median()
                        row |= dict(zip(("r", "low", "high", "p"), result, strict=True))
                        row |= {
                            "shown": True,
                            "above": float(pairs.loc[high_half, outcome].mean()),
                            "below": float(pairs.loc[~high_half, outcome].mean()),
                        }
                rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Missing figures are NaN, never None, whichever rows were computed.
    numbers = ["r", "low", "high", "p", "p_corrected", "above", "below"]
    table[numbers] = table[numbers].astype(float)
    shown = table["shown"].astype(bool)
    if shown.any():
        _, corrected = pg.multicomp(table.loc[shown, "p"].astype(float).to_numpy(), method="fdr_bh")
        table.loc[shown, "p_corrected"] = corrected
        table.loc[shown, "claim"] = corrected < SIGNIFICANT
    table["reading"] = [_sentence(row, labels, grain, smallest) for row in table.itertuples(index=False)]
    pairs_all = int(base[["account_id", "period"]].drop_duplicates().shape[0]) if len(base) else 0
    return Predictions(table=table, pairs=pairs_all, grain=grain, min_n=smallest)


def _two(value: float) -> str:
    """Two decimals, without the "-0.00" a tiny negative value would print."""
    return f"{round(value, 2) + 0.0:.2f}"


def _sentence(row: Any, labels: dict[str, str], grain: str, smallest: int) -> str:
    """The reading of one row, always with its n and, when shown, its interval."""
    name = labels.get(row.indicator, row.indicator)
    outcome = OUTCOMES[row.outcome].lower()
    n = row.n
    if not row.shown:
        if n < smallest:
            return f"Too few account-{grain}s to say (n = {n}, at least {smallest} needed)"
        return f"No variation to relate (n = {n})"
    stats = f"r = {_two(row.r)}, 95% CI {_two(row.low)} to {_two(row.high)}, n = {n}"
    if not row.claim:
        return f"No clear link between {name.lower()} and the next {grain}'s {outcome} ({stats})"
    text = _reading(name, row.outcome, grain, row.above, row.below)
    return f"{text} ({stats})"


def strongest(table: pd.DataFrame, outcome: str, kind: str | None = None, count: int = 5) -> pd.DataFrame:
    """The claimed links for ``outcome`` (optionally one group kind), strongest r first."""
    rows = table[(table["outcome"] == outcome) & table["claim"].astype(bool)]
    if kind is not None:
        rows = rows[rows["kind"] == kind]
    return rows.sort_values("r", ascending=False, key=lambda r: r.abs()).head(count)
