"""Benchmark: exporting N responses to CSV, Parquet and SPSS, against pandas reading everything.

    .venv/bin/python -m bench.export [--responses N]      (or: python bench/export.py)

1. Builds N synthetic responses with ``bench.base.build`` (the same base as the dashboard
   benchmark: answers, scores, accounts, contacts), in a spawned child process. With ``--keep``
   the temporary SQLite file is kept; ``DATABASE_URL=sqlite:///that/file --reuse`` measures it
   again without rebuilding (a 1M base takes about 4 minutes to build here).
2. Exports every response with ``survey.exports.writers.export`` to CSV, Parquet and SPSS, each
   in a fresh spawned process, so that each peak RSS is that export's own.
3. The naive baseline, in its own process: responses, answers and scores read whole into pandas
   with ``pd.read_sql``, pivoted, merged and written with ``to_csv``.

Progress goes to stderr; stdout ends with
``naive_csv_s=<s> naive_peak_rss_mb=<mb> ratio=<naive/csv>``, then each format's own peak
``csv_peak_rss_mb=<mb> parquet_peak_rss_mb=<mb> sav_peak_rss_mb=<mb>`` and then the last line
``csv_s=<s> parquet_s=<s> sav_s=<s> peak_rss_mb=<max of the three exports> rows=<n>``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# Run as a file (``python bench/export.py``) the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base import DEFAULT_RESPONSES, build, holds_data, log, normalised_url, peak_rss_mb

FORMATS = ("csv", "parquet", "sav")


def export_once(url: str, fmt: str, out: str) -> tuple[float, float, int]:
    """One export in this (fresh) process: seconds, peak RSS in MB, rows."""
    from sqlmodel import Session

    from models.db import make_engine
    from survey.exports.writers import export

    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        rows = export(session, fmt, Path(out))  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, peak_rss_mb(), rows


def naive_once(url: str, out: str) -> tuple[float, float, int]:
    """Everything into pandas at once, pivoted there, then ``to_csv``."""
    import pandas as pd
    from sqlalchemy import select

    from models.db import make_engine
    from models.tables import Account, Answer, Contact, IndicatorScore, Response, Touchpoint

    engine = make_engine(url)
    started = time.perf_counter()
    with engine.connect() as connection:
        responses = pd.read_sql(
            select(
                Response.id.label("response_id"),
                Response.interaction_id,
                Response.account_id,
                Account.name.label("account"),
                Account.segment,
                Touchpoint.name.label("touchpoint"),
                Response.contact_id,
                Contact.name.label("contact_name"),
                Contact.email.label("contact_email"),
                Contact.role.label("contact_role"),
                Response.submitted_at,
                Response.instrument_version,
                Response.locale,
                Response.duration_seconds,
                Response.nps,
                Response.nps_category,
                Response.comment,
            )
            .join(Account, Account.id == Response.account_id)
            .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
            .outerjoin(Contact, Contact.id == Response.contact_id),
            connection,
        )
        answers = pd.read_sql(select(Answer.response_id, Answer.item_code, Answer.value), connection)
        scores = pd.read_sql(
            select(
                IndicatorScore.response_id,
                IndicatorScore.subject,
                IndicatorScore.indicator,
                IndicatorScore.score,
            ),
            connection,
        )
    items = answers.pivot(index="response_id", columns="item_code", values="value")
    scores["column"] = scores["subject"] + "_" + scores["indicator"]
    wide = scores.pivot(index="response_id", columns="column", values="score")
    frame = responses.merge(items, on="response_id", how="left").merge(wide, on="response_id", how="left")
    frame.to_csv(out, index=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, peak_rss_mb(), len(frame)


def in_fresh_process(call: Callable[..., Any], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(call, *args).result()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--responses", type=int, default=DEFAULT_RESPONSES, help="how many (default 1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database DATABASE_URL names as it is (no build)"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args(argv)
    if args.responses < 1:
        parser.error("--responses must be positive")

    folder = Path(tempfile.mkdtemp(prefix="pulse-bench-export-"))
    try:
        if args.reuse:
            if not os.environ.get("DATABASE_URL"):
                raise SystemExit("bench.export: --reuse measures the database DATABASE_URL names; set it")
            url = normalised_url(os.environ["DATABASE_URL"])
            log("database: DATABASE_URL, reused as it is")
        else:
            url = normalised_url(os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}")
            if os.environ.get("DATABASE_URL") and holds_data(url):
                raise SystemExit("bench.export: DATABASE_URL already holds data; use --reuse to measure it")
            in_fresh_process(build, url, args.responses, args.seed)
        timings: dict[str, float] = {}
        peaks: list[float] = []
        rows = 0
        for fmt in FORMATS:
            seconds, peak, rows = in_fresh_process(export_once, url, fmt, str(folder / f"export.{fmt}"))
            size = (folder / f"export.{fmt}").stat().st_size / 2**20
            log(f"{fmt}: {rows:,} rows in {seconds:.1f} s, peak RSS {peak:.0f} MB, file {size:.0f} MiB")
            timings[fmt] = seconds
            peaks.append(peak)
            (folder / f"export.{fmt}").unlink()
        if not args.no_naive:
            naive, naive_peak, naive_rows = in_fresh_process(naive_once, url, str(folder / "naive.csv"))
            log(f"naive pandas CSV: {naive_rows:,} rows in {naive:.1f} s, peak RSS {naive_peak:.0f} MB")
            print(
                f"naive_csv_s={naive:.1f} naive_peak_rss_mb={naive_peak:.0f} "
                f"ratio={naive / timings['csv']:.2f}"
            )
    finally:
        if args.keep and not os.environ.get("DATABASE_URL"):
            for name in ("export.csv", "export.parquet", "export.sav", "naive.csv"):
                (folder / name).unlink(missing_ok=True)
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(" ".join(f"{fmt}_peak_rss_mb={peak:.0f}" for fmt, peak in zip(FORMATS, peaks, strict=True)))
    print(
        f"csv_s={timings['csv']:.1f} parquet_s={timings['parquet']:.1f} sav_s={timings['sav']:.1f} "
        f"peak_rss_mb={max(peaks):.0f} rows={rows}"
    )


if __name__ == "__main__":
    main()
