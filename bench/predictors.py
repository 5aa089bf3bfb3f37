"""How long "What predicts what" takes on a large base, against reading every score into pandas.

Builds a synthetic SQLite database with ``bench.base``'s generator (``--responses``,
default 200,000 over two years), adds one row of transactional measures per account and
quarter, then times the score aggregation ``survey.behaviour.predictors.period_scores`` (summed per
period in the database) against a naive reader that loads every own score with its response
into pandas and groups there, and the whole ``predictions`` call fed by each. Both must give
the same table. Ends with one line:
``period_scores_ms=… naive_ms=… ratio=… predictions_ms=… predictions_naive_ms=… peak_rss_mb=…``.

    python -m bench.predictors [--responses N] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from bench.base import build
from bench.measure import log, peak_rss_mb
from models.db import make_engine
from models.tables import Account, TransactionMeasure
from survey.behaviour import predictors
from survey.demo.behaviour import full_quarters
from survey.imports.benchmarks import period_bounds
from survey.instrument.definition import load_instrument
from survey.people.access import Scope

LABELS = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}


def add_measures(engine: Engine, seed: int) -> int:
    """One row per account and full quarter of the last two years, random but plausible."""
    rng = np.random.default_rng(seed)
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    quarters = full_quarters(now - pd.Timedelta(days=731), now)
    with Session(engine) as session:
        accounts = list(session.execute(select(Account.id)).scalars())
        rows = []
        for account_id in accounts:
            for quarter in quarters:
                first, last = period_bounds(quarter) or (now.date(), now.date())
                sales = int(rng.poisson(6))
                days = rng.integers(0, 90, size=2)
                rows.append(
                    {
                        "account_id": account_id, "period": quarter, "period_start": first,
                        "period_end": last, "sales_transactions": sales,
                        "information_requests": int(rng.poisson(3)),
                        "positive_service_events": int(rng.poisson(2)),
                        "referral_sales": int(rng.poisson(0.4)),
                        "days_since_purchase": int(days[0]), "days_since_payment": int(days[1]),
                        "monetary_volume": float(rng.lognormal(8.5, 0.6)) * sales, "imported_at": now,
                    }
                )  # fmt: skip
        session.execute(insert(TransactionMeasure), rows)
        session.commit()
    return len(rows)


def naive_period_scores(session: Session, scope: Scope = predictors.EVERYTHING) -> pd.DataFrame:
    """The baseline: every own score with its response into pandas, then assigned and grouped."""
    del scope
    connection = session.connection()
    scores = pd.read_sql(
        "select r.account_id, r.touchpoint_id, r.submitted_at, s.indicator, s.score "
        "from indicator_score s join response r on r.id = s.response_id where s.subject = 'own'",
        connection,
    )
    periods = pd.read_sql(
        "select distinct period, period_start, period_end from transaction_measure", connection
    )
    submitted = pd.to_datetime(scores["submitted_at"], utc=True)
    parts = []
    for period in periods.itertuples(index=False):
        start = pd.Timestamp(period.period_start, tz="UTC")
        end = pd.Timestamp(period.period_end, tz="UTC") + pd.Timedelta(days=1)
        inside = scores[(submitted >= start) & (submitted < end)]
        grouped = inside.groupby(["account_id", "touchpoint_id", "indicator"], as_index=False)["score"].agg(
            n="count", total="sum"
        )
        grouped["period"] = period.period
        parts.append(grouped)
    columns = ["account_id", "period", "touchpoint_id", "indicator", "n", "total"]
    return pd.concat(parts, ignore_index=True)[columns].astype({"n": int, "total": float})


def timed_reads(
    engine: Engine, runs: int, reader: Callable[..., pd.DataFrame]
) -> tuple[list[float], pd.DataFrame]:
    laps, frame = [], pd.DataFrame()
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            frame = reader(session)
            laps.append((time.perf_counter() - started) * 1000)
    keys = ["period", "account_id", "touchpoint_id", "indicator"]
    return laps, frame.sort_values(keys, ignore_index=True)


def timed_runs(
    engine: Engine, runs: int, reader: Callable[..., pd.DataFrame] | None
) -> tuple[list[float], Any]:
    laps, result = [], None
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            if reader is None:
                result = predictors.predictions(session, min_n=5, labels=LABELS)
            else:
                with mock.patch.object(predictors, "period_scores", reader):
                    result = predictors.predictions(session, min_n=5, labels=LABELS)
            laps.append((time.perf_counter() - started) * 1000)
    return laps, result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=200_000, help="how many (default 200,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each (at least 3)")
    args = parser.parse_args(argv)
    if args.responses < 1 or args.runs < 3:
        parser.error("--responses must be positive and --runs at least 3")
    folder = Path(tempfile.mkdtemp(prefix="pulse-bench-predictors-"))
    try:
        url = f"sqlite:///{folder / 'bench.db'}"
        build(url, args.responses, args.seed)
        engine = make_engine(url)
        log(f"transactional measures: {add_measures(engine, args.seed):,} account-quarters")
        timed_reads(engine, 1, predictors.period_scores)  # warm the page cache once for both
        ours, summed = timed_reads(engine, args.runs, predictors.period_scores)
        naive, read = timed_reads(engine, args.runs, naive_period_scores)
        pd.testing.assert_frame_equal(summed, read, check_exact=False)
        log(f"same sums from both: {len(summed):,} rows from {args.responses:,} responses")
        whole, result = timed_runs(engine, 3, None)
        whole_naive, baseline = timed_runs(engine, 3, naive_period_scores)
        pd.testing.assert_frame_equal(result.table, baseline.table)
        log(f"same table from both: {len(result.table)} rows, {result.pairs:,} account-quarters")
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours_ms, naive_ms = statistics.median(ours), statistics.median(naive)
    print(
        f"period_scores_ms={ours_ms:.1f} naive_ms={naive_ms:.1f} ratio={naive_ms / ours_ms:.1f} "
        f"predictions_ms={statistics.median(whole):.1f} "
        f"predictions_naive_ms={statistics.median(whole_naive):.1f} "
        f"peak_rss_mb={peak_rss_mb():.0f}"
    )


if __name__ == "__main__":
    main()
