"""Benchmark: concurrent respondents through the survey page's own submit path.

    .venv/bin/python -m bench.load [--clients 32] [--postgres URL]

Cases, each ending in one line
``case=<name> clients=<n> sent=<n> stored=<n> duplicates=<n> errors=<n> p50_ms=<x> p99_ms=<x> per_s=<x>``:

* ``respondents`` — each client opens its own link, saves two drafts and submits, all at once,
  on the app's SQLite settings (WAL, ``synchronous=NORMAL``, busy timeout 5 s); the times
  are those of the submit transaction.
* ``naive`` — the same on SQLite's defaults (rollback journal, no busy timeout), the
  baseline the settings are measured against; the line ends with how many submissions each
  lost (naive:ours).
* ``race`` — one link submitted by 10 threads at the same instant: exactly one response
  may be stored; the others are told it was already answered.
* ``respondents-postgresql`` — the respondents case on ``--postgres URL`` (an empty database).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, func
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Response
from survey.invitations import check_link, invite
from survey.responses import AlreadySubmitted, save_draft, submit
from survey.setup import prepare_database

ANSWERS = {
    **{f"SAT{i}": 6 for i in range(1, 5)}, **{f"TRU{i}": 5 for i in range(1, 6)},
    **{f"CTL{i}": 4 for i in range(1, 5)}, **{f"COM{i}": 6 for i in range(1, 5)},
    **{f"MIN{i}": 5 for i in range(1, 4)}, **{f"WOM{i}": 6 for i in range(1, 5)},
    "NPS": 9, "LEADER": "none", "VALUE_LEVEL": 3, "MOMENT": "as_expected", "COMMENT": "fine",
}  # fmt: skip


@dataclass
class Outcome:
    name: str
    clients: int
    sent: int
    stored: int
    errors: int
    times_ms: list[float]

    @property
    def duplicates(self) -> int:
        return max(0, self.stored - self.sent)

    @property
    def p99(self) -> float:
        ordered = sorted(self.times_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def line(self, extra: str = "") -> str:
        ordered = sorted(self.times_ms) or [0.0]
        p99 = self.p99
        wall = sum(self.times_ms) / 1000 / max(1, self.clients)
        per_s = self.stored / wall if wall else 0.0
        return (
            f"case={self.name} clients={self.clients} sent={self.sent} stored={self.stored} "
            f"duplicates={self.duplicates} errors={self.errors} p50_ms={statistics.median(ordered):.1f} "
            f"p99_ms={p99:.1f} per_s={per_s:.1f}{extra}"
        )


def links(engine: Engine, count: int, prefix: str) -> list[str]:
    now = datetime.now(UTC)
    tokens = []
    with Session(engine, expire_on_commit=False) as session:
        for number in range(count):
            result = invite(
                session, account_name=f"{prefix} account {number % 8}",
                contact_email=f"{prefix}{number}@load.example",
                touchpoint="delivery", now=now, base_url="http://load", valid_days=14,
            )  # fmt: skip
            tokens.append(result.link.split("?t=")[1])
        session.commit()
    return tokens


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Response)).one())


def respondents(engine: Engine, clients: int, name: str) -> Outcome:
    tokens = links(engine, clients, name)
    before = stored(engine)
    start = threading.Barrier(clients)
    times: list[float] = []
    errors: list[str] = []

    def respondent(token: str) -> None:
        try:
            with Session(engine) as session:
                check = check_link(session, token, datetime.now(UTC))
                invitation_id = check.context.invitation_id  # type: ignore[union-attr]
            start.wait()
            for step, part in enumerate((dict(list(ANSWERS.items())[:8]), dict(list(ANSWERS.items())[:20]))):
                with Session(engine) as session:
                    save_draft(session, invitation_id=invitation_id, answers=part, step=step, locale="en",
                               now=datetime.now(UTC))  # fmt: skip
                    session.commit()
            began = time.perf_counter()
            with Session(engine) as session:
                submit(
                    session, invitation_id=invitation_id, answers=ANSWERS, locale="en", now=datetime.now(UTC)
                )
                session.commit()
            times.append((time.perf_counter() - began) * 1000)
        except Exception as error:  # every failure counts, whatever its kind
            errors.append(type(error).__name__)

    threads = [threading.Thread(target=respondent, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome(name, clients, clients, stored(engine) - before, len(errors), times)


def race(engine: Engine, threads_count: int = 10) -> Outcome:
    [token] = links(engine, 1, "race")
    with Session(engine) as session:
        invitation_id = check_link(session, token, datetime.now(UTC)).context.invitation_id  # type: ignore[union-attr]
    before = stored(engine)
    start = threading.Barrier(threads_count)
    times: list[float] = []
    errors: list[str] = []

    def submitter() -> None:
        start.wait()
        began = time.perf_counter()
        try:
            with Session(engine) as session:
                submit(
                    session, invitation_id=invitation_id, answers=ANSWERS, locale="en", now=datetime.now(UTC)
                )
                session.commit()
        except AlreadySubmitted:
            pass  # the expected answer for all but one
        except Exception as error:  # anything else is a failure
            errors.append(type(error).__name__)
        times.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=submitter) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome("race", threads_count, 1, stored(engine) - before, len(errors), times)


def fresh_sqlite(folder: Path, name: str, naive: bool = False) -> Engine:
    url = f"sqlite:///{folder / name}"
    preparing = make_engine(url)
    prepare_database(preparing)
    preparing.dispose()
    # The naive engine keeps SQLite's defaults: rollback journal, no busy timeout.
    return create_engine(url, connect_args={"timeout": 0}) if naive else make_engine(url)


def main(argv: list[str] | None = None) -> list[Outcome]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--postgres", default=None, help="an empty PostgreSQL database for the last case")
    args = parser.parse_args(argv)
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        ours = respondents(fresh_sqlite(Path(folder), "ours.db"), args.clients, "respondents")
        naive_engine = fresh_sqlite(Path(folder), "naive.db", naive=True)
        with naive_engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
        naive = respondents(naive_engine, args.clients, "naive")
        raced = race(fresh_sqlite(Path(folder), "race.db"))
        outcomes += [ours, naive, raced]
        print(ours.line(), flush=True)
        print(naive.line(f" lost_vs_ours={naive.sent - naive.stored}:{ours.sent - ours.stored}"), flush=True)
        print(raced.line(), flush=True)
    if args.postgres:
        engine = make_engine(args.postgres)
        prepare_database(engine)
        pg = respondents(engine, args.clients, "respondents-postgresql")
        outcomes.append(pg)
        print(pg.line(), flush=True)
    return outcomes


if __name__ == "__main__":
    main(sys.argv[1:])
