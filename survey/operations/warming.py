"""Each reader's first figures, read in the background as the server starts.

Once read, a page's figures are kept (``survey.reporting.cache``) and a new response brings
them up to date at a small part of a first read's cost; the first read itself, on a large
base, takes seconds (a manager owning 2,000 of 5,000 accounts: the Dashboard's reads cost
about four seconds of database work, the whole base's about eight). So the server reads, as
it starts, what each reader's pages show before anyone touches a filter: for each scope the
active users read (``users.reader_scopes``, the widest first, at most ``MAX_SCOPES``), the
Overview, the Dashboard on its default filters (and, in a month nobody has answered yet, on
those its first answer brings: ``dashboard_windows``) and My accounts' account health, and, when an
analyst or admin reads the whole base, the Instrument quality page's models. Before those, the
day's check across languages and versions when the day has none (``day_check``). Whoever opens
one of those pages afterwards finds its figures kept, whatever arrived in between; a page
opened while this runs waits for the read under way instead of repeating it.

Nothing here changes a figure: these are the pages' own calls, made early. A failure is
reported and the rest goes on; the pages then read for themselves, as without this.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session

from survey.people.access import EVERYTHING, Scope, restrict_filters

if TYPE_CHECKING:
    from survey.reporting.filters import Filters

# Each scope keeps about twenty reads (thirty in a month nobody has answered yet: two Dashboard
# windows); this many scopes stay well within what the cache keeps (``cache.MAX_ENTRIES``), so
# warming never pushes out its own figures.
MAX_SCOPES = 8
# Below normal priority (Linux ``nice``): a person's page comes first.
NICENESS = 10
# How often the server looks whether the first figures have moved (``keep_warm``): a look reads
# two small tables.
WATCH_SECONDS = 10.0


def first_figures(session: Session, scope: Scope, *, now: datetime, min_n: int) -> None:
    """What the Overview, the Dashboard (on ``dashboard.default_filters``) and My accounts
    read for ``scope`` when first opened, read now and kept."""
    from survey.accounts.health import account_health
    from survey.instrument.definition import load_instrument
    from survey.reporting import dashboard, overview
    from survey.reporting.forms import responses_by_form

    overview.overview(session, now=now, min_n=min_n, scope=scope)
    options = dashboard.filter_options(session)
    for window in dashboard_windows(options, now):
        filters = restrict_filters(window, scope)
        if filters is not None:
            dashboard.compute(session, filters, load_instrument(), min_n)
            responses_by_form(session, filters)
    account_health(session, now, scope)


def dashboard_windows(options: Mapping[str, Any], now: datetime) -> list[Filters]:
    """The Dashboard's default filters (``dashboard.default_filters``), and, in a month with no
    answers yet, those its first answer will bring: the window moves on to end in that month.
    Read ahead too, that window is kept before anyone answers, and the first answer of the
    month is then added to it as any new answer is (otherwise whoever opens the Dashboard
    next reads the moved window whole: seconds on a large base)."""
    from survey.reporting import dashboard

    if options["first_month"] is None:
        return []
    windows = [dashboard.default_filters(options)]
    month = f"{now:%Y-%m}"
    if options["last_month"] < month:
        windows.append(dashboard.default_filters({**options, "last_month": month}))
    return windows


def watched(engine: Engine, now: datetime) -> tuple[object, ...]:
    """What decides which figures ``first_figures`` reads, besides the responses (which kept
    reads take in as they arrive): the readers' scopes, the Dashboard's default filters (the
    first response of a new month moves their window) and the day (the Overview's and the
    account health's windows end today)."""
    from survey.people.users import reader_scopes
    from survey.reporting import dashboard

    with Session(engine) as session:
        scopes = tuple(reader_scopes(session)[:MAX_SCOPES])
        defaults = dashboard.default_filters(dashboard.filter_options(session))
    return scopes, defaults, now.date()


def warm_figures(
    engine: Engine, *, now: Callable[[], datetime], min_n: int, say: Callable[[str], None]
) -> int:
    """``first_figures`` for each reader's scope, the widest first; how many were read."""
    from survey.people.users import reader_scopes

    with Session(engine) as session:
        scopes = reader_scopes(session)[:MAX_SCOPES]
    if scopes:
        day_check(engine, now=now(), say=say)
    started = time.perf_counter()
    done = 0
    for scope in scopes:
        try:
            with Session(engine) as session:
                first_figures(session, scope, now=now(), min_n=min_n)
            done += 1
        except Exception as error:  # reported; the pages then read for themselves
            say(f"figures of a reader's scope not kept ahead: {type(error).__name__}: {error}")
    seconds = time.perf_counter() - started
    say(f"first figures kept for {done} of {len(scopes)} readers' scopes in {seconds:.1f} s")
    if EVERYTHING in scopes:  # someone reads the whole base: an analyst's or admin's pages
        quality_fit(engine, now=now(), say=say)
    return done


def keep_warm(
    engine: Engine,
    *,
    seen: tuple[object, ...],
    now: Callable[[], datetime],
    min_n: int,
    say: Callable[[str], None],
    stop: threading.Event,
    every: float = WATCH_SECONDS,
) -> None:
    """After the first ``warm_figures`` (made on what was ``seen``): every ``every`` seconds
    until ``stop``, read the first figures again when what they are (``watched``) has changed,
    so that whoever opens the Dashboard after the first response of a month, or the Overview
    on a new day, does not read a new window whole while they wait."""
    while not stop.wait(every):
        try:
            current = watched(engine, now())
        except Exception as error:  # reported; tried again on the next round
            say(f"could not tell whether the first figures moved: {type(error).__name__}: {error}")
            continue
        if current != seen:
            seen = current
            say("what readers open first has moved (a new month or day, or other readers): reading it again")
            warm_figures(engine, now=now, min_n=min_n, say=say)


def day_check(engine: Engine, *, now: datetime, say: Callable[[str], None]) -> None:
    """The day's check of the instrument across languages and versions, which the Dashboard
    warns with, made now unless the day has one (the worker makes it too, once a day, and the
    two take turns: ``worker.check_the_day``): on a base never checked, the Dashboard's first
    open would otherwise fit those models itself."""
    from survey.loop.worker import check_the_day

    started = time.perf_counter()
    try:
        made = check_the_day(engine, now)
    except Exception as error:  # reported; the worker or the Dashboard then checks
        say(f"the day's instrument check not made ahead: {type(error).__name__}: {error}")
        return
    if made:
        say(f"the day's instrument check made in {time.perf_counter() - started:.1f} s")


def quality_fit(engine: Engine, *, now: datetime, say: Callable[[str], None]) -> None:
    """The Instrument quality page's models fitted on its default (every month) and kept
    (``survey.quality.fits``), so that its first open does not wait for the fit."""
    from survey.quality.fits import fitted_report

    started = time.perf_counter()
    try:
        with Session(engine) as session:
            fitted_report(session, None, now=now)
    except Exception as error:  # reported; the page then fits for itself
        say(f"instrument quality not fitted ahead: {type(error).__name__}: {error}")
        return
    say(f"instrument quality fitted in {time.perf_counter() - started:.1f} s")


def lower_priority() -> None:
    """Run the calling thread below normal priority, where the system allows it."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
