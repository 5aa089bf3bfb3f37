"""Bringing a database to a usable state: schema, reference data, one-time catching up and,
once, demo data.

Every command and the app call ``prepare_database`` at start, so on a database that is ready
it must cost next to nothing: the schema check reads one row, and each one-time job is found
absent by reading at most one row or an index of the rows it still has to do. When a job does
run (an upgraded or bulk-loaded database) ``say`` is told what it is doing, with progress.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from models.db import session_scope, upgrade_schema
from models.tables import (
    AccountDayRollup,
    AccountRespondentRollup,
    FollowUp,
    FormRollup,
    OneTimeWork,
    Response,
    ScoreSegmentRollup,
)
from survey.instrument.touchpoints import ensure_touchpoints

if TYPE_CHECKING:
    from survey.demo.data import DemoSummary

Say = Callable[[str], None]
PACK_CHUNK = 20_000
# Aggregates every response adds to, one read each at start: the scores' first, empty on a
# bulk-loaded base, and each added by an upgrade since. An empty one is filled at start
# (``aggregates.unfilled`` finds every such table; reading them all here would cost the
# import of the reporting code on every command).
FILLED_AT_START = (ScoreSegmentRollup, FormRollup, AccountDayRollup, AccountRespondentRollup)
ASSESSED = "follow-ups assessed"


def say_on_stderr(line: str) -> None:
    """Progress of one-time work, for a terminal or a server log (stdout stays the answer)."""
    print(line, file=sys.stderr, flush=True)


def _quiet(_line: str) -> None:
    return None


def prepare_database(engine: Engine | None = None, *, say: Say | None = None) -> None:
    """Upgrade the schema, add missing reference data and do the one-time work an older or
    bulk-loaded database still needs; safe to run any number of times, cheap when nothing is due."""
    say = say or _quiet
    upgrade_schema(engine, say=say)
    with session_scope(engine) as session:
        ensure_touchpoints(session)
        if session.exec(select(Response.id).limit(1)).first() is None:
            return
        sum_up = any(session.exec(select(table.n).limit(1)).first() is None for table in FILLED_AT_START)
        assess = (
            session.exec(select(FollowUp.id).limit(1)).first() is None
            and session.get(OneTimeWork, ASSESSED) is None
        )
    # Responses stored before the roll-ups, follow-ups or packs existed (or bulk-loaded) are
    # summed, assessed and packed once, each job in its own transaction.
    if sum_up:
        _sum_up(engine, say)
    if assess:
        _assess(engine, say)
    pack_missing(engine, say)


def _count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Response)).one())


def _sum_up(engine: Engine | None, say: Say) -> None:
    from survey.reporting import aggregates

    started = time.perf_counter()
    with session_scope(engine) as session:
        missing = aggregates.unfilled(session)
        names = ", ".join(aggregate.name for aggregate in missing)
        say(f"one-time work: summing {_count(session):,} responses into the reporting aggregates ({names})…")
        aggregates.rebuild(session, only=missing)
    say(f"one-time work: aggregates filled in {time.perf_counter() - started:.0f} s")


def _assess(engine: Engine | None, say: Say) -> None:
    from survey.followup import queue as followup

    started = time.perf_counter()
    with session_scope(engine) as session:
        say(f"one-time work: checking {_count(session):,} responses for follow-ups…")
        opened = followup.flag_all(session)
        # Remembered: when no response needed one, the empty queue must not bring this back.
        session.merge(OneTimeWork(name=ASSESSED, finished_at=datetime.now(UTC), items=opened))
    say(f"one-time work: {opened:,} follow-ups opened in {time.perf_counter() - started:.0f} s")


def pack_missing(engine: Engine | None, say: Say) -> None:
    """Pack every response stored without its export pack, a chunk per transaction."""
    with session_scope(engine) as session:  # through the partial index of unpacked responses
        unpacked = select(col(Response.id)).where(col(Response.export_pack).is_(None)).limit(1)
        if session.exec(unpacked).first() is None:
            return
    from survey.exports import packs  # numpy: only when there is packing to do

    with session_scope(engine) as session:
        total = packs.missing(session)
    say(f"one-time work: packing {total:,} responses for exports…")
    started = time.perf_counter()
    done = after = 0
    while True:
        # One transaction per chunk: an interrupted start keeps what it packed.
        with session_scope(engine) as session:
            count, after = packs.fill_next(session, after, PACK_CHUNK)
        if not count:
            break
        done += count
        say(f"one-time work: packed {done:,} of {total:,} responses ({time.perf_counter() - started:.0f} s)")
    say(f"one-time work: {done:,} responses packed in {time.perf_counter() - started:.0f} s")


# What the pages use that is slow to import (statistics, factor models, charts): the domain
# packages they call. The command line and the demo data only run as commands.
PAGE_PACKAGES = ("survey",)
NOT_FOR_PAGES = ("survey.cli", "survey.demo", "survey.__main__")
# Libraries the domain imports only where it uses them, to keep commands quick to start: the
# factor models' and the export formats'.
PAGE_LIBRARIES = ("semopy", "xlsxwriter", "pyreadstat")


def warm_up(*, figures: bool = False) -> threading.Thread:
    """Import, in the background, every module the pages may call, so that the first person to
    open a page after the server starts does not wait seconds for the statistics and chart
    libraries to load (a page waits only for a module still being imported). With
    ``figures``, then read each reader's first figures (``survey.operations.warming``)."""

    def load(package: str) -> None:
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__, f"{package}."):
            if module.name in NOT_FOR_PAGES:
                continue
            if module.ispkg:
                load(module.name)
            else:
                importlib.import_module(module.name)

    def load_all() -> None:
        for package in PAGE_PACKAGES:
            load(package)
        for library in PAGE_LIBRARIES:
            importlib.import_module(library)
        # Before the thread lowers its priority: a collection holds the interpreter throughout,
        # and a thread the system runs last would hold every page's thread up with it.
        gc.collect()
        if figures:
            from models.db import default_engine
            from models.settings import get_settings
            from survey.operations.warming import keep_warm, lower_priority, warm_figures, watched

            lower_priority()
            engine, min_n = default_engine(), get_settings().min_n

            def clock() -> datetime:
                return datetime.now(UTC)

            seen = watched(engine, clock())
            warm_figures(engine, now=clock, min_n=min_n, say=say_on_stderr)

            # Then again whenever they move: a thread of its own, started here, keeps this low priority.
            def watch() -> None:
                keep_warm(
                    engine, seen=seen, now=clock, min_n=min_n, say=say_on_stderr, stop=threading.Event()
                )

            threading.Thread(target=watch, name="keep-warm", daemon=True).start()
        settle_heap()

    thread = threading.Thread(target=load_all, name="warm-up", daemon=True)
    thread.start()
    return thread


def settle_heap() -> None:
    """Keep everything alive now (the libraries, the pages' modules, the figures read ahead)
    out of every later garbage collection. The server holds some 400,000 such objects; a full
    collection walks them all (0.1-0.2 s on this kind of machine) and Python runs one whenever
    enough new objects have outlived the young generations, so that any page's open could pay
    for it. Frozen, a full collection walks only what came after. (Freezing moves a list: it
    takes no time. The garbage left by the imports was collected before.)"""
    gc.freeze()


def seed_demo_if_empty(engine: Engine | None = None) -> DemoSummary | None:
    """Demo data for a first start, so the charts mean something; None when there is data."""
    from survey.demo.data import is_empty, seed_demo

    with session_scope(engine) as session:
        if not is_empty(session):
            return None
        return seed_demo(session, now=datetime.now(UTC))


def apply_retention(engine: Engine | None, months: int, now: datetime) -> int:
    """Purge comments past the retention period (0 keeps them); run at every app start."""
    if months < 1:
        return 0
    from survey.people.privacy import purge_comments

    with session_scope(engine) as session:
        return purge_comments(session, months=months, now=now, actor="system")
