"""What the dashboard shows, computed from the aggregates.

Every function takes the same ``Filters``. Each figure's sums are read from the smallest
aggregate that can answer (``survey.reporting.aggregates``), through the incremental cache
(``survey.reporting.cache``), grouped with numpy (``survey.reporting.cells``), and become
pandas frames only as finished figures, with their intervals from
``survey.reporting.intervals``. Only one instrument version is shown at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache as memoised
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Account, Benchmark, Competitor, Contact, Response, ScoreSegmentRollup, Touchpoint
from survey.instrument.definition import Instrument, load_instrument
from survey.reporting import cache, moments
from survey.reporting.aggregates import COUNTERS, Measure
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters, Grain, period_months, period_of, periods_of, recent_period
from survey.reporting.forms import reliability_by_form
from survey.reporting.gaps import Gap, gaps
from survey.reporting.intervals import (
    Change,
    NpsFigure,
    clustered_changes_from_moments,
    clustered_from_moments,
    difference_interval,
    difference_intervals,
    mean_from_sums,
    moment_tau2,
    nps_from_moments,
    nps_interval,
    shrink_many,
    to_100,
)
from survey.reporting.moments import CLUSTER, MOMENTS, PERIOD, RESPONDENT
from survey.reporting.people import Enough, People

# Over the whole period only, so the database sums the months: a few rows per account.
# Whose scores: ours, or the leaders' ratings.
Subject = Literal["own", "leader"]
MEASURES: dict[Subject, Measure] = {"own": "own_scores", "leader": "leader_scores"}
NPS_ITEM = moments.RECOMMENDATION_ITEM
RECENT_MONTHS = 12  # the Dashboard opens on the last 12 months with data


def one_version(cells: Cells, version: int) -> Cells:
    """The cells of one instrument version, without the version key."""
    kept = cells.where(cells.keys["version"] == version)
    return Cells({k: v for k, v in kept.keys.items() if k != "version"}, kept.sums)


def shown_version(session: Session, filters: Filters) -> int | None:
    """The instrument version the figures are computed on: the chosen one, or the newest with
    responses under the filters (``None`` when there are none)."""
    if filters.version is not None:
        return filters.version
    answered = answered_versions(session, filters)
    return answered[-1] if answered else None


def answered_versions(session: Session, filters: Filters) -> list[int]:
    """The instrument versions with our own scores under ``filters`` (whatever their version),
    oldest first: of the versions answered at all (a read of the smallest aggregate), those
    with scores under ``filters``, each read with its version named, as the account-keyed
    sums' key asks (the version before the account)."""
    everywhere = cache.read(session, "own_scores", ["version"], Filters())
    if not filters.dimensions and not (filters.start or filters.end):
        return sorted(int(version) for version in everywhere.keys["version"])
    return sorted(
        int(version)
        for version in everywhere.keys["version"]
        if len(cache.read(session, "own_scores", ["version"], replace(filters, version=int(version))))
    )


def statement_codes(instrument: Instrument) -> dict[str, tuple[str, ...]]:
    """Each indicator's statements by code. A published version never changes a statement under
    its code (a reworded statement gets a new one), so equal codes mean the same score."""
    return {
        indicator.code: tuple(sorted(item.code for item in instrument.indicator_items(indicator.code)))
        for indicator in instrument.indicators
    }


def _linked(versions: list[int], instrument: Instrument) -> dict[int, list[str]]:
    """Each other version of ``versions`` with the indicators whose statements it shares with
    ``instrument``'s (``statement_codes``)."""
    codes = statement_codes(instrument)
    found = {}
    for other in sorted(set(versions) - {instrument.version}):
        theirs = statement_codes(load_instrument(other))
        same = [code for code, items in codes.items() if theirs.get(code) == items]
        if same:
            found[other] = same
    return found


def linked_versions(session: Session, filters: Filters, instrument: Instrument) -> dict[str, tuple[int, ...]]:
    """Per indicator, the instrument versions its trend line pools: ``instrument``'s own and
    those with answers and the same statements. Same statements give the same score, so such
    an indicator's line runs on across a version change; an indicator whose statements changed
    starts afresh where its version starts."""
    pooled = {indicator.code: [instrument.version] for indicator in instrument.indicators}
    for other, same in _linked(answered_versions(session, filters), instrument).items():
        for code in same:
            pooled[code].append(other)
    return {code: tuple(sorted(versions)) for code, versions in pooled.items()}


def scores(session: Session, subject: Subject, by: list[str], filters: Filters, **pooling: Any) -> Cells:
    """The moments of our own scores (or the leaders' ratings) by ``by``, clustered by account
    (``moments.read``, with its ``grain`` and ``versions``): what every interval of those
    scores is computed from."""
    return moments.read(session, MEASURES[subject], by, filters, **pooling)


def leader_pairs(session: Session, filters: Filters, names: dict[Any, str]) -> pd.DataFrame:
    """Paired ratings of each named leader and of us on the matching statement, over the
    filtered period, clustered by account (``moments.PAIRED``): indicator, name,
    competitor_id, the pair sums and the clusters' moments of the difference (what ``gaps``
    tests)."""
    cells = moments.read(session, "leader_pairs", ["indicator", "competitor_id"], filters)
    named = cells.where(cells.keys["competitor_id"] > 0)
    return pd.DataFrame(
        {
            "indicator": named.keys["indicator"].astype(object),
            "name": [names.get(int(value), str(value)) for value in named.keys["competitor_id"]],
            "competitor_id": named.keys["competitor_id"],
        }
        | dict(named.sums)
    )


@dataclass(frozen=True)
class ItemCounts:
    """How often each answer (0-10) was given to each item over the filtered period."""

    item_code: np.ndarray
    counts: np.ndarray  # one row per item, one column per answer 0..10


def item_counts(session: Session, filters: Filters, instrument: Instrument) -> ItemCounts:
    """How often each answer was given to each item of ``instrument`` (its version's) over the
    filtered period: summed by the database over the months (by month, a manager's base of
    2,000 accounts costs twice as long to group). The items are named, as every read of the
    account-keyed counts names them (``AccountItemRollup``: the item leads its key)."""
    items = tuple(item.code for item in instrument.items)
    cells = cache.read(session, "answers", ["version", "item_code"], filters, items=items)
    cells = one_version(cells, instrument.version)
    return ItemCounts(
        item_code=cells.keys["item_code"].astype(object),
        counts=np.column_stack([cells.sums[name] for name in COUNTERS]).astype(np.int64)
        if len(cells)
        else np.zeros((0, len(COUNTERS)), dtype=np.int64),
    )


def few(
    cells: Cells, min_n: int, people: Enough | None = None, at_least: np.ndarray | None = None
) -> np.ndarray:
    """Per cell, whether it is too small to show: fewer than ``min_n`` answers or, asked of
    ``people`` (``survey.reporting.people``), answers from fewer than ``min_n`` people.
    ``at_least``: per cell, how many people it is known to rest on; a cell known to rest on
    ``min_n`` is not asked about. A cell's clusters (``moments``' ``clusters``) are such a
    count: by respondent they are the people themselves; by account, each brings at least one
    person of its own, as a contact belongs to one account and is invited only to its
    interactions (``create_invitation``) and an anonymous answer is a person apart. So a cell
    from ``min_n`` accounts rests on ``min_n`` people, and only cells from fewer ask the
    database."""
    hidden = cells.n < min_n
    if people is not None:
        unknown = ~hidden if at_least is None else ~hidden & (at_least < min_n)
        for at in np.flatnonzero(unknown):
            hidden[at] = not people(
                {name: values[at] for name, values in cells.keys.items()}, int(cells.n[at])
            )
    return hidden


def describe(
    cells: Cells, min_n: int, people: Enough | None = None, at_least: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per cell: n, mean, sd and the t-based 95% interval on 0-100, and whether it is too
    small to show (``few``, with ``at_least``)."""
    figures = mean_from_sums(cells.n, cells.sums["total"], cells.sums["total_sq"])
    return {
        "n": cells.n,
        "mean": figures.mean,
        "sd": figures.sd,
        "low": figures.low,
        "high": figures.high,
        "suppressed": few(cells, min_n, people, at_least),
    }


def summary(
    moments: Cells,
    by: list[str],
    min_n: int,
    *,
    keep_small: bool = False,
    by_people: bool = False,
    people: Enough | None = None,
) -> pd.DataFrame:
    """``by``, n, mean, sd, low, high, n_eff and clusters per group of ``moments`` (keyed by
    ``by``, with the sums ``moments.MOMENTS``): the interval is cluster-robust
    (``clustered_from_moments``), and ``n_eff`` and ``clusters`` say how many independent
    answers and clusters it rests on. A group from one cluster only keeps the Student-t
    interval, its n_eff the raw n: there are no clusters to compare it across.

    Groups too small to show (``few``, knowing each rests on at least its clusters' people)
    are left out (or, with ``keep_small``, kept with a ``suppressed`` column). ``by_people``:
    the clusters are the people themselves (respondents), and a group needs ``min_n`` of them."""
    clusters = moments.sums["clusters"].astype(np.int64)
    figures = describe(moments, min_n, people, clusters)
    suppressed = figures.pop("suppressed")
    columns = {name: moments.keys[name] for name in by} | figures
    if len(moments):
        robust = clustered_from_moments(*(moments.sums[name] for name in MOMENTS))
        several = robust.clusters > 1
        columns |= {
            "low": np.where(several, to_100(robust.low), columns["low"]),
            "high": np.where(several, to_100(robust.high), columns["high"]),
            "n_eff": np.where(several, robust.n_eff, moments.n),
            "clusters": robust.clusters,
        }
    else:
        columns |= {"n_eff": np.zeros(0), "clusters": np.zeros(0, dtype=np.int64)}
    if by_people:
        suppressed = suppressed | (clusters < min_n)
    if keep_small:
        return pd.DataFrame(columns | {"suppressed": suppressed})
    return pd.DataFrame({name: values[~suppressed] for name, values in columns.items()})


def change_from(changes: Cells, at: int) -> Change | None:
    """The change in our mean score (0-100) of group ``at`` of ``changes`` (its moments,
    ``moments.CHANGE``), with its 95% interval and standard error: cluster-robust across
    accounts (``clustered_changes_from_moments``), or, within one account, Welch's from the
    two summaries. None where a side has too few answers."""
    row = {name: values[at : at + 1] for name, values in changes.sums.items()}
    robust = clustered_changes_from_moments(row)
    if np.isfinite(robust.se[0]):
        return Change(
            *(float(values[0]) * 100 / 6 for values in (robust.change, robust.low, robust.high, robust.se))
        )
    first, second = (
        mean_from_sums(row[f"n{side}"][0], row[f"total{side}"][0], row[f"total_sq{side}"][0]) for side in "01"
    )
    if first.n < 2 or second.n < 2:
        return None
    welch = difference_interval(
        float(second.mean), float(second.sd), int(second.n), float(first.mean), float(first.sd), int(first.n)
    )
    if welch is None:
        return None
    se = float(np.sqrt(second.sd**2 / second.n + first.sd**2 / first.n))
    return Change(float(second.mean - first.mean), *welch, se)


def changes_by_indicator(
    session: Session,
    filters: Filters,
    before: tuple[str, str],
    after: tuple[str, str],
    versions: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, Change | None]:
    """Per indicator, the change in our mean score from the months ``before`` (first, last)
    to the months ``after`` (``change_from``), within ``filters``."""
    span = replace(
        filters, start=max(before[0], filters.start or before[0]), end=min(after[1], filters.end or after[1])
    )
    changes = scores(session, "own", ["indicator"], span, versions=versions, after=after[0])
    return {str(code): change_from(changes, at) for at, code in enumerate(changes.keys["indicator"])}


def one_total(periods: np.ndarray) -> np.ndarray:
    """Every period adds up to one figure shown beside the trend (the dashboard's profile)."""
    return np.zeros(len(periods), dtype=np.int64)


def trend(
    leaders: Cells | None,
    min_n: int,
    own: Cells,
    *,
    by_people: bool = False,
    people: People | None = None,
    totals: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per period, indicator, subject and named leader (competitor 0 is us or an unlisted one).
    ``own``: the moments (``survey.reporting.moments``) of our scores by period and indicator,
    clustered by account (or, with ``by_people``, within one account by respondent);
    ``leaders``: those of the leaders' ratings by period, indicator and leader (``None``: our
    rows alone). Every row's interval is cluster-robust (``summary``): the same people rate us
    and the leader, answer again and again, and work for the same accounts.

    A period too small to show (``few``; ``people`` counts the people of our own scores, and
    of the leaders' ratings for theirs) is left out. ``totals`` labels each period with the
    figure it adds up to where such a figure is shown beside the trend (equal labels: one
    figure): a series hiding exactly one period of a figure hides its next smallest too
    (``complementary``), so the hidden one is not the shown figure minus the shown periods."""
    columns = ["period", "indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
    keys = ["period", "indicator", "subject", "competitor_id"]

    def shown(frame: pd.DataFrame, series: list[str]) -> pd.DataFrame:
        hidden = frame.pop("suppressed").to_numpy(dtype=bool)
        if totals is not None and len(frame):
            total = np.asarray(totals(frame["period"].to_numpy())).astype(str)
            for name in series:
                total = np.char.add(np.char.add(frame[name].to_numpy().astype(str), "|"), total)
            hidden = complementary(hidden, frame["n"].to_numpy(), total)
        return frame[~hidden].reset_index(drop=True)

    theirs = pd.DataFrame(columns=columns)
    if leaders is not None and len(leaders):
        rated = summary(
            leaders,
            ["period", "indicator", "competitor_id"],
            min_n,
            keep_small=True,
            people=None if people is None else people.on("leader_scores"),
        )
        theirs = shown(rated, ["indicator", "competitor_id"]).assign(subject="leader")
    ours = pd.DataFrame(columns=columns)
    if len(own):
        mine = summary(
            own, ["period", "indicator"], min_n, keep_small=True, by_people=by_people, people=people
        )
        ours = shown(mine, ["indicator"])
    return _ours_and_leaders(ours, theirs, keys, columns)


@dataclass(frozen=True)
class Headline:
    """An indicator's latest shown period and its change against the shown period before,
    with the 95% interval of that change (``change_interval``: cluster-robust across accounts)."""

    period: str
    mean: float
    n: int
    low: float
    high: float
    n_eff: float | None = None
    previous_period: str | None = None
    change: float | None = None
    change_interval: tuple[float, float] | None = None


def headlines(
    trend: pd.DataFrame, changes: Callable[[str, str], Mapping[str, Change | None]]
) -> dict[str, Headline]:
    """Per indicator, our latest period of ``trend`` against the shown period before it, the
    change's interval from ``changes(before, after)`` (per indicator, ``changes_by_indicator``
    between those periods: one read for the indicators comparing the same two)."""
    ours = trend[trend["subject"] == "own"].sort_values("period")
    found = {}
    for code, series in ours.groupby("indicator", sort=False):
        last = series.iloc[-1]
        n_eff = last.get("n_eff")
        headline = Headline(
            str(last["period"]),
            float(last["mean"]),
            int(last["n"]),
            float(last["low"]),
            float(last["high"]),
            None if n_eff is None or pd.isna(n_eff) else float(n_eff),
        )
        if len(series) > 1:
            before = series.iloc[-2]
            change = changes(str(before["period"]), str(last["period"])).get(str(code))
            headline = replace(
                headline,
                previous_period=str(before["period"]),
                change=float(last["mean"] - before["mean"]),
                change_interval=None if change is None else (change.low, change.high),
            )
        found[str(code)] = headline
    return found


def profile(own: Cells, leaders: Cells, min_n: int, *, people: People | None = None) -> pd.DataFrame:
    """Each indicator over the whole filtered period, for us and each named leader, with
    cluster-robust intervals: ``own``, the moments of our scores by indicator, and
    ``leaders``, of the leaders' ratings by indicator and leader (``people`` as ``trend``'s)."""
    columns = ["indicator", "subject", "competitor_id", "n", "mean", "sd", "low", "high"]
    rated = None if people is None else people.on("leader_scores")
    ours = summary(own, ["indicator"], min_n, people=people)
    theirs = summary(leaders, ["indicator", "competitor_id"], min_n, people=rated)
    keys = ["indicator", "subject", "competitor_id"]
    return _ours_and_leaders(ours, theirs.assign(subject="leader"), keys, columns)


def _ours_and_leaders(
    ours: pd.DataFrame, leaders: pd.DataFrame, keys: list[str], columns: list[str]
) -> pd.DataFrame:
    """Our clustered rows and the leaders' rows in one frame, sorted by ``keys``."""
    columns = [*columns, "n_eff", "clusters"]
    parts = [frame for frame in (ours.assign(subject="own", competitor_id=0), leaders) if len(frame)]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts).sort_values(keys, kind="stable").reset_index(drop=True).reindex(columns=columns)


def complementary(hidden: np.ndarray, n: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Complementary suppression: cells sharing a value of ``total`` add up to a figure shown
    elsewhere (an indicator's profile or period), so where exactly one of them is hidden, the
    smallest shown one is hidden too, and the hidden ones are only ever known together."""
    hidden = hidden.copy()
    for value in np.unique(total):
        at = np.flatnonzero(total == value)
        if int(hidden[at].sum()) == 1 and len(at) > 1:
            shown = at[~hidden[at]]
            hidden[shown[np.argmin(n[shown])]] = True  # the first of the smallest
    return hidden


def heat_map(own: Cells, min_n: int, people: Enough | None = None) -> pd.DataFrame:
    """Touchpoint x indicator mean (0-100) of our own scores (``own``: their moments by
    touchpoint and indicator, clustered by account) with its cluster-robust 95% interval and
    effective n (``summary``). A cell with fewer than ``min_n`` responses (or people: ``few``)
    is hidden: mean, interval *and* n. The indicator's profile (its whole-period figure) is
    shown beside the map, so one hidden cell in a column could be recovered by subtracting the
    visible ones from it: wherever a column hides exactly one cell, its next smallest cell is
    hidden too (complementary suppression), so the hidden ones are only ever known together."""
    columns = ["touchpoint_id", "indicator", "n", "mean", "low", "high", "n_eff"]
    if not len(own):
        return pd.DataFrame(columns=columns)
    by = ["touchpoint_id", "indicator"]
    frame = summary(own, by, min_n, keep_small=True, people=people)
    hidden = complementary(
        frame.pop("suppressed").to_numpy(dtype=bool), frame["n"].to_numpy(), frame["indicator"].to_numpy()
    )
    figures = frame[columns].astype({"n": float})
    figures.loc[hidden, columns[2:]] = np.nan
    return figures


MOVER_FLOOR_TAU2 = 1.0  # (1 point)²: groups are never assumed to move exactly alike


def movers(
    cells: Cells | pd.DataFrame, by: str, grain: Grain, min_n: int, people: Enough | None = None
) -> pd.DataFrame:
    """Where each indicator moved most between the last two periods, per ``by`` group
    (segment, touchpoint or account); groups too small to show (``few``) are left out, and where
    a period and indicator leave out exactly one group, its next smallest too (``complementary``).

    Ranking raw changes would put the smallest, noisiest groups first (regression to the mean).
    So each change comes with its 95% interval (``change_low``/``change_high``): cluster-robust
    across accounts when ``cells`` are also keyed by account (``clustered_changes``: a group's
    accounts answer in both periods), or, per account, across its contacts when they are keyed
    by ``respondent``; else Welch's from the two summaries; and it is
    shrunk toward the indicator's change over all groups (``shrink_many``: the precision-weighted
    mean change, and the spread of true changes by ``moment_tau2``); rows are ordered by the
    shrunk change (``shrunk``, with its interval), largest falls first.

    ``cells``: score sums with month, ``by`` and indicator keys, and optionally ``account_id``
    (or, by account, ``respondent``); of a subject key, if any, only our own scores count."""
    own = Cells.from_frame(cells) if isinstance(cells, pd.DataFrame) else cells
    if "subject" in own.keys:
        own = own.where(own.keys["subject"] == "own")
    if not len(own):
        return pd.DataFrame(columns=mover_columns(by))
    period = periods_of(own.keys["month"], grain)
    periods = np.unique(period)
    if len(periods) < 2:
        return pd.DataFrame(columns=mover_columns(by))
    before, after = (str(value) for value in periods[-2:])
    recent = own.with_key(PERIOD, period).where(np.isin(period, periods[-2:]))
    cluster = next((name for name in (RESPONDENT, CLUSTER) if name in recent.keys and name != by), None)
    # Without a cluster key, each cell stands alone: no cluster-robust change.
    alone = "cell"
    if cluster is None:
        recent = recent.with_key(alone, np.arange(len(recent)))
    change = moments.change_of_cells(recent, [by, "indicator"], cluster or alone, period_months(after)[0])
    return movers_of(
        change,
        by,
        (before, after),
        min_n,
        people,
        by_people=cluster == RESPONDENT,
        clustered=cluster is not None,
    )


def mover_columns(by: str) -> list[str]:
    """The columns of ``movers``."""
    return [
        by, "indicator", "before", "after", "change", "change_low", "change_high",
        "shrunk", "shrunk_low", "shrunk_high", "n_before", "n_after", "period",
    ]  # fmt: skip


def movers_of(
    changes: Cells,
    by: str,
    periods: tuple[str, str],
    min_n: int,
    people: Enough | None = None,
    *,
    by_people: bool = False,
    clustered: bool = True,
) -> pd.DataFrame:
    """``movers`` from each group's change moments (``changes``: ``moments.CHANGE``, keyed by ``by`` and
    indicator) between the ``periods`` (before, after): clustered unless ``clustered`` is
    false; ``by_people``: the clusters are people (respondents)."""
    columns = mover_columns(by)
    after = periods[1]
    # Each group's figures per period, the period before first, as the trend's cells.
    sides = [moments.side(changes, number).where(changes.sums[f"n{number}"] > 0) for number in moments.SIDES]
    # The row of ``changes`` each row of ``grouped`` comes from.
    origin = np.concatenate([np.flatnonzero(changes.sums[f"n{number}"] > 0) for number in moments.SIDES])
    grouped = Cells.stacked(
        [
            part.with_key("period", np.full(len(part), label))
            for part, label in zip(sides, periods, strict=True)
        ]
    )
    clusters = grouped.sums["clusters"].astype(np.int64)
    figures = describe(grouped, min_n, people, clusters if clustered else None)
    if by_people:
        figures["suppressed"] = figures["suppressed"] | (clusters < min_n)
    # The groups of one period and indicator add up to the trend's figure for it.
    total = np.char.add(
        grouped.keys["period"].astype(str), np.char.add("|", grouped.keys["indicator"].astype(str))
    )
    shown = ~complementary(figures["suppressed"], figures["n"], total)
    key = list(zip(grouped.keys[by][shown].tolist(), grouped.keys["indicator"][shown].tolist(), strict=True))
    mean, n, is_after = figures["mean"][shown], figures["n"][shown], grouped.keys["period"][shown] == after
    later = {k: i for i, k in enumerate(key) if is_after[i]}
    # Groups shown in both periods, in (by, indicator) order, as a pivot would give them.
    pairs = [(i, later[k]) for i, k in enumerate(key) if not is_after[i] and k in later]
    if not pairs:
        return pd.DataFrame(columns=columns)
    earlier_at, later_at = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    sd = figures["sd"][shown]
    change = mean[later_at] - mean[earlier_at]
    indicators = grouped.keys["indicator"][shown][earlier_at]
    variance = sd[later_at] ** 2 / n[later_at] + sd[earlier_at] ** 2 / n[earlier_at]
    bounds = np.column_stack(
        difference_intervals(
            mean[later_at], sd[later_at], n[later_at], mean[earlier_at], sd[earlier_at], n[earlier_at]
        )
    )
    if clustered:
        # Cluster-robust where a group's answers come from two or more accounts (or, for one
        # account, contacts): where that is defined, the change's se and interval on 0-100.
        robust = clustered_changes_from_moments(changes.sums)
        rows = origin[np.flatnonzero(shown)[earlier_at]]
        se = robust.se[rows] * 100 / 6
        defined = np.isfinite(se)
        variance = np.where(defined, se**2, variance)
        robust_bounds = np.column_stack([robust.low[rows] * 100 / 6, robust.high[rows] * 100 / 6])
        bounds = np.where(defined[:, None], robust_bounds, bounds)
    priors: dict[str, tuple[float, float]] = {}  # indicator -> centre, tau²
    for code in np.unique(indicators):
        at = np.flatnonzero(indicators == code)
        known = at[np.isfinite(variance[at])]  # a group of one response has no variance
        if len(known):
            weights = 1 / np.maximum(variance[known], 1e-9)
            centre = float(np.sum(weights * change[known]) / np.sum(weights))
        else:
            centre = float(np.mean(change[at]))
        priors[str(code)] = (
            centre,
            moment_tau2(change[known].tolist(), variance[known].tolist(), centre, MOVER_FLOOR_TAU2),
        )
    centres, spreads = (
        np.array([priors[str(code)][part] for code in indicators], dtype=np.float64) for part in (0, 1)
    )
    value, shrunk_low, shrunk_high, _ = shrink_many(change, variance, centres, spreads)
    # Largest (shrunk) falls first: numpy's argsort with the kind pandas' sort_values uses.
    order = np.argsort(value, kind="quicksort")
    earlier_at, later_at = earlier_at[order], later_at[order]
    return pd.DataFrame(
        {
            by: grouped.keys[by][shown][earlier_at],
            "indicator": indicators[order],
            "before": mean[earlier_at],
            "after": mean[later_at],
            "change": change[order],
            "change_low": bounds[order, 0],
            "change_high": bounds[order, 1],
            "shrunk": value[order],
            "shrunk_low": shrunk_low[order],
            "shrunk_high": shrunk_high[order],
            "n_before": n[earlier_at],
            "n_after": n[later_at],
            "period": np.full(len(order), after),
        },
        columns=columns,
    )


def account_movers(session: Session, filters: Filters, min_n: int) -> pd.DataFrame:
    """Like ``movers`` per account, each change clustered by contact: the moments of our
    scores' change between the last two periods per account and indicator, over the people
    who answered (``moments.CHANGE`` clustered by ``RESPONDENT``, summed by the database from
    ``AccountRespondentRollup``; with a touchpoint chosen, from the raw rows); computed on
    request rather than with the rest of the dashboard. The people are the clusters, so a
    change needs ``min_n`` of them on each side."""
    version = shown_version(session, filters)
    found = None
    if version is not None:
        found = mover_changes(session, replace(filters, version=version), version, CLUSTER, RESPONDENT)
    if found is None:
        return pd.DataFrame(columns=mover_columns(CLUSTER)).drop(columns="period")
    return movers_of(found[0], CLUSTER, found[1], min_n, by_people=True).drop(columns="period")


def last_two_periods(
    session: Session, filters: Filters, version: int
) -> tuple[Filters, tuple[str, str]] | None:
    """``filters`` narrowed to the last two periods with answers to ``version`` (what the
    movers compare), and those periods (the one before, the later one); None with answers in
    fewer than two periods."""
    months = cache.read(session, "own_scores", ["version", "month"], filters)
    month_list = sorted(one_version(months, version).keys["month"].tolist()) if len(months) else []
    periods = period_of(pd.Series(month_list, dtype=object), filters.grain).tolist()
    recent = sorted(set(periods))[-2:]
    if len(recent) < 2:
        return None
    first_month = min(m for m, p in zip(month_list, periods, strict=True) if p in recent)
    return replace(filters, start=max(first_month, filters.start or first_month)), (recent[0], recent[1])


def mover_changes(
    session: Session, filters: Filters, version: int, by: str, cluster: str = CLUSTER
) -> tuple[Cells, tuple[str, str]] | None:
    """Per ``by`` group (segment, touchpoint or account) and indicator, the moments of our
    scores' change between the last two periods (``last_two_periods``), clustered by account
    or ``cluster`` (``moments.CHANGE``), and those periods; None without two periods."""
    recent = last_two_periods(session, filters, version)
    if recent is None:
        return None
    narrowed, periods = recent
    after = period_months(periods[1])[0]
    return scores(session, "own", [by, "indicator"], narrowed, after=after, cluster=cluster), periods


def distribution(
    counts: ItemCounts, items: list[str], low: int, high: int, min_n: int = 0, people: Enough | None = None
) -> pd.DataFrame:
    """Share of each answer per item over the period (rows: items, columns: scale points).
    An item answered fewer than ``min_n`` times, or (``people``, on answer counts) by fewer
    than ``min_n`` people, is left out."""
    given = set(counts.item_code.tolist())
    shown = [item for item in items if item in given]
    row = {item: index for index, item in enumerate(shown)}
    at = np.array([row.get(code, -1) for code in counts.item_code], dtype=np.int64)
    totals = np.zeros((len(shown), high - low + 1), dtype=np.int64)
    np.add.at(totals, at[at >= 0], counts.counts[at >= 0, low : high + 1])
    n = totals.sum(axis=1)
    with np.errstate(invalid="ignore"):
        shares = totals / np.where(n > 0, n, np.nan)[:, None] * 100
    frame = pd.DataFrame(shares, index=pd.Index(shown, name="item_code"), columns=list(range(low, high + 1)))
    frame["n"] = n
    kept = [
        n[at] >= min_n and (people is None or people({"item_code": code}, int(n[at])))
        for at, code in enumerate(shown)
    ]
    return frame[np.array(kept, dtype=bool)] if len(frame) else frame


def recommendation(session: Session, by: list[str], filters: Filters, grain: Grain = "month") -> Cells:
    """The moments of the recommendation's score (+1, 0, -1: ``moments.recommendation_sums``)
    by ``by`` under ``filters``, clustered by account: what every NPS interval comes from."""
    return moments.read(session, moments.RECOMMENDATION, by, filters, grain=grain)


def nps_of(cells: Cells, at: int = 0) -> NpsFigure:
    """NPS and its interval, clustered by account (``nps_from_moments``), of row ``at`` of
    ``recommendation``'s moments; no answers without that row, or where it counts none (a
    read over no group is one row of empty sums when nothing matches)."""
    if at >= len(cells):
        return nps_interval(0, 0, 0)
    sums = [cells.sums[name][at] for name in MOMENTS]
    if not sums[0] > 0:  # n: zero, or NaN from an aggregate over no rows
        return nps_interval(0, 0, 0)
    return nps_from_moments(*sums)


def nps_by_period(cells: Cells, min_n: int, people: Enough | None = None) -> pd.DataFrame:
    """Promoters, passives, detractors and NPS per period, with an adjusted-Wald 95% interval at
    the effective n (``nps_of``); ``cells``: ``recommendation``'s moments by ``PERIOD``. A
    period with fewer than ``min_n`` answers, or (``people``, on answer counts) people, is
    left out."""
    columns = ["period", "promoters", "passives", "detractors", "n", "nps", "low", "high", "n_eff"]
    figures = (
        {str(value): nps_of(cells, at) for at, value in enumerate(cells.keys[PERIOD])} if len(cells) else {}
    )
    shown = {
        value: figure
        for value, figure in figures.items()
        if figure.n >= min_n
        and (people is None or people({"period": value, "item_code": NPS_ITEM}, figure.n))
    }
    return pd.DataFrame(
        {
            "period": list(shown),
            "promoters": np.array([f.promoters for f in shown.values()], dtype=np.int64),
            "passives": np.array([f.passives for f in shown.values()], dtype=np.int64),
            "detractors": np.array([f.detractors for f in shown.values()], dtype=np.int64),
            "n": np.array([f.n for f in shown.values()], dtype=np.int64),
            "nps": np.array([f.nps for f in shown.values()], dtype=np.float64),
            "low": np.array([f.low for f in shown.values()], dtype=np.float64),
            "high": np.array([f.high for f in shown.values()], dtype=np.float64),
            "n_eff": np.array([f.n_eff for f in shown.values()], dtype=np.float64),
        },
        columns=columns,
    )


def benchmarks(session: Session, filters: Filters) -> pd.DataFrame:
    """Imported figures whose period overlaps the filtered months, on 0-100."""
    statement = select(Benchmark)
    if filters.start:
        statement = statement.where(Benchmark.period_end >= date.fromisoformat(f"{filters.start}-01"))
    if filters.end:
        year, month = (int(part) for part in filters.end.split("-"))
        statement = statement.where(Benchmark.period_start <= date(year, month, 28))
    rows = [
        {
            "kind": b.kind,
            "name": b.name,
            "indicator": b.indicator,
            "period": b.period,
            "period_start": b.period_start,
            "period_end": b.period_end,
            "value_100": b.value_100,
            "sd_100": None if b.sd is None else b.sd * 100 / (b.scale_max - b.scale_min),
            "n": b.n,
            "source": b.source,
        }
        for b in session.exec(statement).all()
    ]
    columns = [
        "kind",
        "name",
        "indicator",
        "period",
        "period_start",
        "period_end",
        "value_100",
        "sd_100",
        "n",
        "source",
    ]
    return pd.DataFrame(rows, columns=columns)


def with_periods(figures: pd.DataFrame, grain: Grain) -> pd.DataFrame:
    """Add the first and last chart period each figure covers."""

    def label(day: date) -> str:
        return f"{day:%Y-%m}" if grain == "month" else f"{day.year}-Q{(day.month - 1) // 3 + 1}"

    return figures.assign(
        first_period=figures["period_start"].map(label), last_period=figures["period_end"].map(label)
    )


def data_version(session: Session) -> tuple[int, int, str]:
    """Changes whenever a response or a benchmark figure arrives: the cache key of the page."""
    latest = session.exec(select(func.max(Response.id))).one() or 0
    figures = session.exec(select(func.count(), func.max(Benchmark.imported_at)).select_from(Benchmark)).one()
    return int(latest), int(figures[0]), str(figures[1])


def default_filters(options: Mapping[str, Any], recent_months: int | None = RECENT_MONTHS) -> Filters:
    """The filter bar before anyone touches it (``options``: ``filter_options``): the last
    ``recent_months`` months with data (``None``: all of them; the Dashboard's
    ``RECENT_MONTHS``), by quarter, on the newest version when several were answered; empty
    filters when nothing was."""
    if options["first_month"] is None:
        return Filters()
    start, end = recent_period(options["first_month"], options["last_month"], recent_months)
    versions = options["versions"]
    return Filters(start=start, end=end, version=versions[-1] if len(versions) > 1 else None)


def filter_options(session: Session) -> dict[str, Any]:
    """What the filters can offer: months with data, segments, touchpoints, roles, accounts,
    and the instrument versions answered (newest last)."""
    # From the small aggregate: min and max together make SQLite scan a table whole.
    months = session.exec(
        select(func.min(ScoreSegmentRollup.month), func.max(ScoreSegmentRollup.month))
    ).one()
    versions = session.exec(select(ScoreSegmentRollup.version).distinct()).all()
    return {
        "first_month": months[0],
        "last_month": months[1],
        "versions": sorted(int(version) for version in versions),
        "segments": sorted({s for s in session.exec(select(Account.segment).distinct()).all() if s}),
        "touchpoints": dict(
            session.exec(select(Touchpoint.id, Touchpoint.name).order_by(col(Touchpoint.stage))).all()
        ),
        # From contacts, not the aggregates: a distinct over an aggregate scans it whole.
        "roles": sorted({role for role in session.exec(select(Contact.role).distinct()).all() if role}),
        "accounts": dict(session.exec(select(Account.id, Account.name).order_by(Account.name)).all()),
        "competitors": dict(session.exec(select(Competitor.id, Competitor.name)).all()),
    }


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard page draws, for one set of filters."""

    responses: int
    version: int  # the instrument version every figure is computed on
    trend: pd.DataFrame
    headlines: dict[str, Headline]
    profile: pd.DataFrame
    heat_map: pd.DataFrame
    segment_movers: pd.DataFrame
    touchpoint_movers: pd.DataFrame
    distribution: pd.DataFrame
    nps: pd.DataFrame
    benchmarks: pd.DataFrame
    gaps: list[Gap]


def _on_shown_version(
    session: Session, filters: Filters, instrument: Instrument
) -> tuple[Filters, Instrument]:
    """The filters pinned to ``shown_version`` (0: no responses, every figure empty), and that
    version's instrument when it is not ``instrument``."""
    version = shown_version(session, filters) or 0
    if version and instrument.version != version:
        instrument = load_instrument(version)
    return replace(filters, version=version), instrument


def compute(session: Session, filters: Filters, instrument: Instrument, min_n: int) -> DashboardData:
    """Run every query and computation of the dashboard once, on one instrument version
    (``shown_version``; ``instrument`` is replaced by that version's when it differs)."""
    filters, instrument = _on_shown_version(session, filters, instrument)
    version = filters.version or 0
    labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
    pooled = linked_versions(session, filters, instrument)
    names = dict(session.exec(select(Competitor.id, Competitor.name)).all())
    trend_of = {"grain": filters.grain, "versions": pooled}
    # The figures' reads, independent of one another, run at once (``cache.read_together``),
    # the longest first (those over the most aggregate rows when nothing is kept), so that
    # the workers finish together rather than one waiting on a long read started last.
    reads: dict[str, Callable[[Session], Any]] = {
        "leader_trend": lambda s: scores(
            s, "leader", [PERIOD, "indicator", "competitor_id"], filters, **trend_of
        ),
        "touchpoints": lambda s: scores(s, "own", ["touchpoint_id", "indicator"], filters),
        "touchpoint_movers": lambda s: mover_changes(s, filters, version, "touchpoint_id"),
        "pairs": lambda s: leader_pairs(s, filters, names),
        "leaders": lambda s: scores(s, "leader", ["indicator", "competitor_id"], filters),
        "own_trend": lambda s: scores(s, "own", [PERIOD, "indicator"], filters, **trend_of),
        "nps": lambda s: recommendation(s, [PERIOD], filters, filters.grain),
        "own": lambda s: scores(s, "own", ["indicator"], filters),
        "segment_movers": lambda s: mover_changes(s, filters, version, "segment"),
        "counts": lambda s: item_counts(s, filters, instrument),
    }
    read = dict(zip(reads, cache.read_together(session, list(reads.values())), strict=True))
    counts = read["counts"]
    people = People(session, filters, min_n)
    overall = profile(read["own"], read["leaders"], min_n, people=people)
    trends = trend(
        read["leader_trend"], min_n, read["own_trend"], people=people.pooling(pooled), totals=one_total
    )

    @memoised
    def compared(before: str, after: str) -> Mapping[str, Change | None]:
        return changes_by_indicator(session, filters, period_months(before), period_months(after), pooled)

    statements = {
        code: f"{item.code} “{item.text['en']}”"
        for code in labels
        if (item := instrument.leader_counterpart(code)) is not None
    }
    figures = with_periods(benchmarks(session, filters), filters.grain)
    # Compare with each study's most recent figure only.
    latest = figures.sort_values("period_end").groupby(["name", "indicator"], as_index=False).tail(1)
    own = overall[overall["subject"] == "own"]
    items = [
        item.code
        for indicator in instrument.indicators
        for item in instrument.indicator_items(indicator.code)
    ]
    scale = instrument.agree_scale

    def falls(by: str) -> pd.DataFrame:
        found = read[f"{by.removesuffix('_id')}_movers"]
        if found is None:
            return pd.DataFrame(columns=mover_columns(by))
        return movers_of(found[0], by, found[1], min_n, people)

    return DashboardData(
        responses=int(counts.counts[counts.item_code == "NPS"].sum()),
        version=version,
        trend=trends,
        headlines=headlines(trends, compared),
        profile=overall,
        heat_map=heat_map(read["touchpoints"], min_n, people),
        segment_movers=falls("segment"),
        touchpoint_movers=falls("touchpoint_id"),
        distribution=distribution(counts, items, scale.min, scale.max, min_n, people.on("answers")),
        nps=nps_by_period(read["nps"], min_n, people.on("answers")),
        benchmarks=figures,
        gaps=gaps(
            own,
            read["pairs"],
            latest,
            labels,
            min_n,
            statements,
            people=people.on("leader_pairs"),
        ),
    )


def reliability(session: Session, filters: Filters, instrument: Instrument, min_n: int) -> pd.DataFrame:
    """The reliability of each scale by form (``reliability_by_form``) on the version the
    dashboard shows. Kept apart from ``compute``: it reads the selection's answers, so the page
    runs it at once only for selections up to ``forms.READ_AT_ONCE`` responses."""
    filters, instrument = _on_shown_version(session, filters, instrument)
    return reliability_by_form(session, filters, instrument, min_n)
