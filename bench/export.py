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

from sqlalchemy.engine import make_url

# Not bench.base: each export runs in a child that imports this module, and measures its peak.
from bench.measure import log, normalised_url, peak_rss_mb

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


# ---- The packed record against simpler shapes --------------------------------------------
#
# What the pack saves an export is reading and decoding each response's answers and scores.
# Everything else an export does (accounts, contacts, follow-ups, writing) is the same whatever
# shape the answers are stored in, so the shapes are compared on that part alone: every
# response's answers and 1-7 scores, in chunks of the export's size and id order, into the
# (responses x items) and (responses x scores) arrays the export builds its columns from.
#
# * ``pack``: ``response.export_pack``, unpacked with numpy (what exports do);
# * ``json``: the answers and the scores as two JSON objects per response (``{"TRU1": 5, …}``),
#   on a side table keyed by response id, decoded by Arrow's C++ JSON reader;
# * ``rows``: the answer and score rows themselves (no copy at all), pivoted with numpy.

JSON_TABLE = "bench_response_json"
SHAPES = ("pack", "json", "rows")


def prepare_json(url: str) -> float:
    """Fill the JSON side table once (SQLite only); returns the seconds it took (0 when kept)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    path = make_url(url).database or ""
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {JSON_TABLE} "
            "(response_id INTEGER PRIMARY KEY, answers TEXT, scores TEXT)"
        )
        if connection.execute(f"SELECT 1 FROM {JSON_TABLE} LIMIT 1").fetchone():
            return 0.0
        started = time.perf_counter()
        connection.execute(
            f"INSERT INTO {JSON_TABLE} (response_id, answers) SELECT response_id, "
            "json_group_object(item_code, value) FROM answer GROUP BY response_id"
        )
        connection.execute(f"INSERT OR IGNORE INTO {JSON_TABLE} (response_id) SELECT id FROM response")
        connection.execute(
            f"UPDATE {JSON_TABLE} SET scores = grouped.j FROM (SELECT response_id, "
            "json_group_object(subject || ':' || indicator, score) AS j FROM indicator_score "
            f"GROUP BY response_id) AS grouped WHERE grouped.response_id = {JSON_TABLE}.response_id"
        )
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def shape_once(url: str, shape: str, chunk: int = 20_000) -> tuple[float, float, int, int]:
    """Read and decode every response's answers and scores in ``shape``: seconds, peak RSS in MB,
    responses, and a checksum of the decoded arrays (so that the shapes can be seen to agree)."""
    import io

    import numpy as np
    import pyarrow.json as pajson

    from models.db import make_engine
    from survey.exports import packs
    from survey.instrument.definition import load_instrument

    instrument = load_instrument()
    layout = packs.layout(instrument.version)
    codes = list(layout.items)
    score_keys = [f"{subject}:{indicator}" for subject, indicator in layout.scores]
    code_at = {code: index for index, code in enumerate(codes)}
    score_at = {key: index for index, key in enumerate(score_keys)}
    engine = make_engine(url)
    total = checksum = 0
    started = time.perf_counter()
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        after = 0
        while True:
            if shape == "pack":
                rows = raw.execute(
                    "SELECT id, export_pack FROM response WHERE id > ? ORDER BY id LIMIT ?", (after, chunk)
                ).fetchall()
                if not rows:
                    break
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                unpacked = packs.unpack([row[1] for row in rows], ids)
                [(_, _, records)] = unpacked.versions
                answers, low = records["answers"], records["low"]
            elif shape == "json":
                rows = raw.execute(
                    f"SELECT response_id, answers, scores FROM {JSON_TABLE} WHERE response_id > ? "
                    "ORDER BY response_id LIMIT ?",
                    (after, chunk),
                ).fetchall()
                if not rows:
                    break
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                answers = np.full((len(rows), len(codes)), packs.NOT_ANSWERED, dtype=np.int8)
                low = np.full((len(rows), len(score_keys)), np.nan)
                for column, target, place in ((1, answers, code_at), (2, low, score_at)):
                    lines = "\n".join(row[column] or "{}" for row in rows).encode()
                    table = pajson.read_json(io.BytesIO(lines))
                    for name in table.column_names:
                        values = table.column(name).to_numpy(zero_copy_only=False)
                        given = ~np.isnan(values.astype(np.float64))
                        target[given, place[name]] = values[given]
            else:
                rows = raw.execute(
                    "SELECT id FROM response WHERE id > ? ORDER BY id LIMIT ?", (after, chunk)
                ).fetchall()
                if not rows:
                    break
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                low_id, high_id = int(ids[0]), int(ids[-1])
                answers = np.full((len(rows), len(codes)), packs.NOT_ANSWERED, dtype=np.int8)
                low = np.full((len(rows), len(score_keys)), np.nan)
                given = raw.execute(
                    "SELECT response_id, item_code, value FROM answer WHERE response_id BETWEEN ? AND ?",
                    (low_id, high_id),
                ).fetchall()
                if given:
                    rid, code, value = zip(*given, strict=True)
                    answers[np.searchsorted(ids, rid), [code_at[c] for c in code]] = value
                scored = raw.execute(
                    "SELECT response_id, subject || ':' || indicator, score FROM indicator_score "
                    "WHERE response_id BETWEEN ? AND ?",
                    (low_id, high_id),
                ).fetchall()
                if scored:
                    rid, key, value = zip(*scored, strict=True)
                    low[np.searchsorted(ids, rid), [score_at[k] for k in key]] = value
            total += len(ids)
            checksum += int(answers.astype(np.int64).sum()) + int(np.nansum(low) * 1000)
            after = int(ids[-1])
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, peak_rss_mb(), total, checksum


def in_fresh_process(call: Callable[..., Any], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(call, *args).result()


def main(argv: Sequence[str] | None = None) -> None:
    from bench.base import DEFAULT_RESPONSES, build, holds_data

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
    parser.add_argument(
        "--no-shapes", action="store_true", help="skip comparing the pack with JSON and plain rows"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="formats to export (default all)")
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
        if not args.no_shapes and make_url(url).get_backend_name() == "sqlite":
            log(f"JSON side table: {in_fresh_process(prepare_json, url):.0f} s to fill (0: kept from before)")
            measured = {shape: in_fresh_process(shape_once, url, shape) for shape in SHAPES}
            for shape, (seconds, peak, count, checksum) in measured.items():
                log(
                    f"shape {shape}: {count:,} responses decoded in {seconds:.1f} s, peak RSS {peak:.0f} MB, "
                    f"checksum {checksum}"
                )
            if len({checksum for *_, checksum in measured.values()}) != 1:
                log("the shapes decoded different values: see the checksums above")
            print(
                " ".join(f"{shape}_decode_s={seconds:.1f}" for shape, (seconds, *_) in measured.items())
                + " "
                + " ".join(
                    f"{shape}_decode_peak_rss_mb={peak:.0f}" for shape, (_, peak, *_) in measured.items()
                )
            )
        timings: dict[str, float] = {}
        peaks: dict[str, float] = {}
        rows = 0
        for fmt in args.formats.split(","):
            seconds, peak, rows = in_fresh_process(export_once, url, fmt, str(folder / f"export.{fmt}"))
            size = (folder / f"export.{fmt}").stat().st_size / 2**20
            log(f"{fmt}: {rows:,} rows in {seconds:.1f} s, peak RSS {peak:.0f} MB, file {size:.0f} MiB")
            timings[fmt] = seconds
            peaks[fmt] = peak
            (folder / f"export.{fmt}").unlink()
        if not args.no_naive and "csv" in timings:
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
    print(" ".join(f"{fmt}_peak_rss_mb={peak:.0f}" for fmt, peak in peaks.items()))
    print(
        " ".join(f"{fmt}_s={seconds:.1f}" for fmt, seconds in timings.items())
        + f" peak_rss_mb={max(peaks.values(), default=0):.0f} rows={rows}"
    )


if __name__ == "__main__":
    main()
