"""Benchmark: what My accounts computes for a manager's book, against one query per account.

    .venv/bin/python -m bench.my_accounts [--db FILE] [--accounts 300] [--responses 30000]
        [--manager-accounts M]

The base is the synthetic one of ``bench.base``, every account owned by ``alex.morgan`` (so
My accounts lists all of them), or only the first ``M`` with ``--manager-accounts`` (the
others share the rest: one book in a larger base). ``--db FILE`` measures that SQLite file,
building it there first when it does not exist (and keeping it); without ``--db`` a temporary
file is built and deleted.

* ``compute_ms``: median of warm runs of what the page reads, ``account_health`` for the
  manager's scope and ``disagreements_among`` its rows, each contact's latest answers kept
  between runs (``survey.accounts.answered``);
* ``naive_ms``: the same with those answers read afresh at every run, through the same
  definition (``answered.read``), as the page did before they were kept;
  ``ratio`` = naive_ms / compute_ms. Both must give the same figures, or the run fails.

Progress goes to stderr; stdout gets one line:
``case=my-accounts accounts=N queries=… naive_queries=… compute_ms=… naive_ms=… ratio=…``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import Engine, event
from sqlmodel import Session

from bench.base import build, log
from models.db import make_engine
from survey.accounts import answered
from survey.accounts.health import account_health
from survey.accounts.values import disagreements_among
from survey.people.access import owner_scope

MANAGER = "alex.morgan"
RUNS = 5


@contextmanager
def read_afresh() -> Iterator[None]:
    """Nothing kept: every call reads each contact's latest answers for itself."""
    with mock.patch.object(answered, "_current", return_value=None):
        yield


def page(engine: Engine, now: datetime) -> Callable[[], Any]:
    def call() -> Any:
        with Session(engine) as session:
            scope = owner_scope(session, MANAGER)
            rows = account_health(session, now, scope)
            gaps = disagreements_among(session, rows)
        return [(r.account_id, round(r.health, 9), r.customer_level) for r in rows], [
            (g.account_id, g.customer_level) for g in gaps
        ]

    return call


def measure(call: Callable[[], Any], engine: Engine) -> tuple[float, int, Any]:
    """Median milliseconds of warm runs, statements per run, and the result."""
    sent: list[int] = []

    def count(*_args: Any) -> None:
        sent.append(1)

    result = call()  # warm the database's pages
    times = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            result = call()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statistics.median(times), len(sent) // RUNS, result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="the SQLite file to measure (built when missing)")
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--responses", type=int, default=30_000)
    parser.add_argument("--manager-accounts", type=int, help="accounts of the manager (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "my-accounts.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            book = args.manager_accounts or args.accounts
            build(url, args.responses, accounts=args.accounts, manager_accounts=book)
        engine = make_engine(url)
        now = datetime.now(UTC)
        log("timing My accounts, latest answers kept")
        compute_ms, queries, batched = measure(page(engine, now), engine)
        log("timing My accounts, latest answers read afresh")
        with read_afresh():
            naive_ms, naive_queries, looped = measure(page(engine, now), engine)
        if batched != looped:
            raise SystemExit("the figures with kept and with fresh latest answers differ")
        engine.dispose()
    accounts = len(batched[0])
    print(
        f"case=my-accounts accounts={accounts} queries={queries} naive_queries={naive_queries} "
        f"compute_ms={compute_ms:.1f} naive_ms={naive_ms:.1f} ratio={naive_ms / compute_ms:.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
