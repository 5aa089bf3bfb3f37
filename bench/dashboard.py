"""Benchmark: what the Dashboard and the Overview compute, per reader's scope, against pandas.

    .venv/bin/python -m bench.dashboard [--db FILE] [--responses N] [--accounts A]
                                        [--manager-accounts M] [--cases base,segment,...]

The base is the synthetic one of ``bench.base`` (its aggregates filled by the product's own
rebuild): ``--db FILE`` measures that SQLite file, building it there first when it does not
exist (and keeping it); without ``--db`` a temporary file is built and deleted. Cases:

* ``base``: the whole base, the last 12 months; ``segment``: its largest segment;
* ``account``: one account (the first); ``manager``: the accounts ``alex.morgan`` owns, as
  the page narrows the filters to a manager's scope (``--manager-accounts 2000`` on a base of
  5,000 accounts names this case ``manager-2000``).

Per case and page (``dashboard``: ``survey.reporting.dashboard.compute`` after the filter
options and cache key the page reads; ``overview``: ``survey.reporting.overview.overview``;
``account_falls``: ``survey.reporting.dashboard.account_movers``, what the Dashboard's toggle
for falls account by account reads):

* ``compute_ms``: median of warm runs that read the aggregates from the database (the
  process's aggregate cache emptied before each run; the database's own pages warm);
* ``cached_ms``: median when nothing arrived since the last read (the cache answers);
* ``after_new_response_ms``: one new response is submitted through the survey's own submit
  transaction (an invitation in scope, answered and committed), then the first compute is
  timed, with the cache as the previous read left it; median over ``--new-responses`` rounds;
* ``naive_ms``: every indicator score in scope read into pandas with ``pd.read_sql`` and
  grouped by month, indicator and subject; ``ratio`` = naive_ms / compute_ms;
* ``peak_rss_mb``: this process's peak after the case's timings (the naive runs go in a
  process of their own).

Progress goes to stderr; stdout gets one line per case and page:
``case=… page=… compute_ms=… cached_ms=… after_new_response_ms=… naive_ms=… ratio=… peak_rss_mb=…``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a file (``python bench/dashboard.py``) the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
from sqlalchemy import Engine, select
from sqlmodel import Session

from bench.base import ACCOUNTS, DEFAULT_RESPONSES, build, existing
from bench.measure import log, peak_rss_mb
from models.db import make_engine
from models.settings import get_settings
from models.tables import Account, Contact, IndicatorScore, Response
from survey.collecting.invitations import invite
from survey.collecting.responses import submit
from survey.instrument.definition import Instrument, load_instrument
from survey.people.access import EVERYTHING, Scope, owner_scope, restrict_filters
from survey.reporting import cache, dashboard, overview
from survey.reporting.filters import Filters, month_of

MANAGER = "alex.morgan"
CASES = ("base", "segment", "account", "manager")
PAGES = ("dashboard", "overview", "account_falls")


@dataclass(frozen=True)
class Case:
    name: str
    filters: Filters  # the dashboard's, already narrowed to the reader's scope
    scope: Scope  # the overview's
    account_id: int  # where a new response goes


def time_ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def dashboard_call(engine: Engine, case: Case, instrument: Instrument, min_n: int) -> Callable[[], Any]:
    def call() -> Any:
        # What pages/dashboard.py runs when its page cache misses: the filter options and the
        # cache key, then every figure.
        with Session(engine) as session:
            dashboard.filter_options(session)
            dashboard.data_version(session)
            return dashboard.compute(session, case.filters, instrument, min_n)

    return call


def overview_call(engine: Engine, case: Case, min_n: int) -> Callable[[], Any]:
    def call() -> Any:
        with Session(engine) as session:
            return overview.overview(session, now=datetime.now(UTC), min_n=min_n, scope=case.scope)

    return call


def account_falls_call(engine: Engine, case: Case, min_n: int) -> Callable[[], Any]:
    def call() -> Any:
        # What pages/dashboard.py runs when its reader turns on the falls account by account.
        with Session(engine) as session:
            return dashboard.account_movers(session, case.filters, min_n)

    return call


def new_response(engine: Engine, account_id: int, number: int) -> int:
    """One response to an account, through the survey's own invitation and submit."""
    instrument = load_instrument()
    answers: dict[str, Any] = {item.code: 5 for item in instrument.items if item.indicator}
    answers |= {"NPS": 8, "LEADER": "none"}
    now = datetime.now(UTC)
    with Session(engine) as session:
        account = session.get_one(Account, account_id)
        result = invite(
            session,
            account_name=account.name,
            contact_email=f"bench.{now:%Y%m%d%H%M%S}.{number}@example.com",
            touchpoint="delivery",
            now=now,
            base_url="http://localhost",
            valid_days=14,
        )
        session.commit()
        response_id = submit(
            session, invitation_id=result.invitation_id, answers=answers, locale="en", now=now
        )
        session.commit()
    return response_id


def naive(engine: Engine, case: Case) -> float:
    """Every indicator score in scope into pandas, grouped there."""
    month = month_of(Response.submitted_at, engine.dialect.name).label("month")
    statement = (
        select(month, Account.segment, IndicatorScore.indicator, IndicatorScore.subject, IndicatorScore.score)
        .join(Response, Response.id == IndicatorScore.response_id)
        .join(Account, Account.id == Response.account_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
    )
    if case.filters.account_ids:
        statement = statement.where(Response.account_id.in_(case.filters.account_ids))
    if case.filters.segments:
        statement = statement.where(Account.segment.in_(case.filters.segments))

    def call() -> None:
        with engine.connect() as connection:
            frame = pd.read_sql(statement, connection)
        frame = frame[(frame["month"] >= case.filters.start) & (frame["month"] <= case.filters.end)]
        frame.groupby(["month", "indicator", "subject"])["score"].agg(["count", "mean", "std"])

    return time_ms(call)


def naive_of(url: str, case: Case) -> float:
    """``naive`` on a database of its own process's engine."""
    engine = make_engine(url)
    try:
        return naive(engine, case)
    finally:
        engine.dispose()


def cases(
    engine: Engine, built: dict[str, Any], wanted: Sequence[str], manager_accounts: int | None
) -> list[Case]:
    period = Filters(start=built["start"], end=built["end"])
    with Session(engine) as session:
        first = session.execute(select(Account.id).order_by(Account.id).limit(1)).scalar_one()
        manager = owner_scope(session, MANAGER)
    found = {
        "base": Case("base", period, EVERYTHING, first),
        "segment": Case(
            "segment", Filters(**{**period.__dict__, "segments": (built["segment"],)}), EVERYTHING, first
        ),
        "account": Case(
            "account",
            Filters(**{**period.__dict__, "account_ids": (first,)}),
            Scope.of_accounts([first]),
            first,
        ),
    }
    manager_filters = restrict_filters(period, manager)
    if manager_filters is None:
        raise SystemExit(f"bench.dashboard: {MANAGER} owns no account in this base")
    name = f"manager-{manager_accounts}" if manager_accounts else "manager"
    found["manager"] = Case(name, manager_filters, manager, min(manager.account_ids or [first]))
    return [found[name] for name in wanted]


def measure(
    engine: Engine, case: Case, page: str, runs: int, rounds: int, counter: list[int]
) -> dict[str, float]:
    instrument = load_instrument()
    min_n = get_settings().min_n
    calls = {
        "dashboard": lambda: dashboard_call(engine, case, instrument, min_n),
        "overview": lambda: overview_call(engine, case, min_n),
        "account_falls": lambda: account_falls_call(engine, case, min_n),
    }
    call = calls[page]()
    cache.clear()
    log(f"{case.name} {page}: first call {time_ms(call):.0f} ms")
    cold = []
    for _ in range(runs):
        cache.clear()
        cold.append(time_ms(call))
    cached = [time_ms(call) for _ in range(runs)]
    after = []
    for _ in range(rounds):
        counter[0] += 1
        new_response(engine, case.account_id, counter[0])
        after.append(time_ms(call))
        time_ms(call)
    log(
        f"{case.name} {page}: compute {', '.join(f'{t:.0f}' for t in cold)} ms; "
        f"cached {', '.join(f'{t:.1f}' for t in cached)}; "
        f"after a new response {', '.join(f'{t:.0f}' for t in after)}"
    )
    return {
        "compute_ms": statistics.median(cold),
        "cached_ms": statistics.median(cached),
        "after_new_response_ms": statistics.median(after),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", type=Path, help="the base's SQLite file (built there when missing, then kept)"
    )
    parser.add_argument("--responses", type=int, default=DEFAULT_RESPONSES)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--manager-accounts", type=int, default=None)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--runs", type=int, default=7, help="warm runs per measure (at least 5)")
    parser.add_argument("--new-responses", type=int, default=5, help="rounds of one new response each")
    parser.add_argument("--naive-runs", type=int, default=3)
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.cases.split(",") if name.strip()]
    if any(name not in CASES for name in wanted) or args.runs < 5 or args.new_responses < 1:
        parser.error(f"--cases takes {', '.join(CASES)}; --runs at least 5; --new-responses at least 1")

    folder = None
    if args.db is None:
        folder = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
        path = folder / "bench.db"
    else:
        path = args.db.resolve()
    url = f"sqlite:///{path}"
    try:
        if path.exists():
            built = existing(url)
        else:
            built = build(url, args.responses, accounts=args.accounts, manager_accounts=args.manager_accounts)
        engine = make_engine(url)
        counter = [0]
        lines = []
        for case in cases(engine, built, wanted, args.manager_accounts):
            figures = {
                page: measure(engine, case, page, args.runs, args.new_responses, counter) for page in PAGES
            }
            peak = peak_rss_mb()
            # In a process of its own: pandas holding every score would otherwise be the peak
            # every later case reports.
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                baseline = statistics.median(
                    pool.map(naive_of, [url] * args.naive_runs, [case] * args.naive_runs)
                )
            log(f"{case.name}: naive {baseline:.0f} ms")
            for page, values in figures.items():
                line = (
                    f"case={case.name} page={page} compute_ms={values['compute_ms']:.1f} "
                    f"cached_ms={values['cached_ms']:.1f} "
                    f"after_new_response_ms={values['after_new_response_ms']:.1f} naive_ms={baseline:.0f} "
                    f"ratio={baseline / values['compute_ms']:.1f} peak_rss_mb={peak:.0f}"
                )
                lines.append(line)
                print(line, flush=True)
        engine.dispose()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
