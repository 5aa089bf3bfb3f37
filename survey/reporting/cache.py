"""Aggregate reads kept in memory and brought up to date with only what arrived since.

A report's cells (``aggregates.read``) are kept per database, measure, keys and filters
together with the newest response id they include. When responses arrive, the next read
adds just those responses, read through the same aggregate definition restricted to their
ids, instead of reading the aggregates again: a new response costs the next reader a few
milliseconds, whoever they are and whatever their filters.

Responses commit in the order of their ids (``survey.collecting.responses``), so "every
response up to id N" is a consistent state: a first read is kept only when the newest id
was the same before and after it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from models.tables import Response
from survey.reporting import aggregates
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters

# Reads kept, the least recently used forgotten first: room for the server's read-ahead of
# every reader's first figures (``survey.operations.warming``) and as much again for filters.
MAX_ENTRIES = 512
# Reads run at once by ``read_together``: one per core, at most four.
_WORKERS = min(4, os.cpu_count() or 1)
_ATTEMPTS = 3


@dataclass(frozen=True)
class _Entry:
    upto: int  # the newest response id included
    cells: Cells


_entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
_gates: OrderedDict[tuple[object, ...], threading.Lock] = OrderedDict()
_lock = threading.Lock()


def clear() -> None:
    """Forget every kept read (tests; after a rebuild of the aggregates)."""
    with _lock:
        _entries.clear()
        _gates.clear()


def database(session: Session) -> str:
    """The database a session reads, as a cache key (sessions here are bound to an engine)."""
    return str(cast(Engine, session.get_bind()).url)


def kept(key: tuple[object, ...]) -> tuple[int, Cells] | None:
    """What is kept under ``key``: the newest response id it includes and its cells."""
    with _lock:
        entry = _entries.get(key)
        if entry is not None:
            _entries.move_to_end(key)
    return None if entry is None else (entry.upto, entry.cells)


def keep(key: tuple[object, ...], upto: int, cells: Cells) -> None:
    """Keep ``cells``, which include every response up to id ``upto``, under ``key``."""
    _keep(key, _Entry(upto, cells))


def one_connection(engine: Engine) -> bool:
    """Whether ``engine`` is an in-memory database, which one connection holds: a second
    session on it shares that connection (and its transaction) instead of opening its own."""
    return engine.url.database in (None, "", ":memory:")


def read_together(session: Session, reads: Sequence[Callable[[Session], Any]]) -> list[Any]:
    """Each of ``reads`` (independent reads, each given a session) run at once, each in a
    session of its own on ``session``'s engine, their results in order. The database works
    on several at a time (SQLite and the driver let go of the interpreter while a statement
    runs), so a page's first open waits for its longest reads rather than their sum. An
    in-memory database, which one connection holds, reads them one after another."""
    engine = cast(Engine, session.get_bind())
    if len(reads) < 2 or _WORKERS < 2 or one_connection(engine):
        return [read(session) for read in reads]

    def run(read: Callable[[Session], Any]) -> Any:
        with Session(engine) as own:
            return read(own)

    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(reads))) as pool:
        return list(pool.map(run, reads))


def newest_response_id(session: Session) -> int:
    return int(session.connection().execute(select(func.max(Response.id))).scalar() or 0)


def read(
    session: Session,
    measure: aggregates.Measure,
    keys: Sequence[str],
    filters: Filters,
    *,
    skip: frozenset[str] = frozenset(),
    items: tuple[str, ...] = (),
) -> Cells:
    """``aggregates.read``, kept and brought up to date incrementally. When the cells are
    keyed by month, the period is applied to the kept cells, so that every period of one
    scope (the overview's and the dashboard's) shares one read."""
    if "month" in keys and (filters.start or filters.end):
        cells = read(session, measure, keys, replace(filters, start=None, end=None), skip=skip, items=items)
        months = cells.keys["month"]
        inside = (months >= (filters.start or "")) & (months <= (filters.end or "9999-99"))
        return cells.where(inside)
    # The trend grain does not change what is read.
    key = (
        database(session),
        measure,
        tuple(keys),
        replace(filters, grain="month"),
        skip,
        items,
    )

    def since(cells: Cells, ids: tuple[int, int]) -> Cells:
        return cells.plus(aggregates.read(session, measure, keys, filters, skip=skip, ids=ids, items=items))

    return current(
        session, key, lambda: aggregates.read(session, measure, keys, filters, skip=skip, items=items), since
    )


def current(
    session: Session,
    key: tuple[object, ...],
    whole: Callable[[], Cells],
    since: Callable[[Cells, tuple[int, int]], Cells],
) -> Cells:
    """The cells kept under ``key`` as of the newest response: as kept, brought up to date
    (``since``: the kept cells and the ids (low, high] that arrived after them) or read whole
    (``whole``). Readers of one key at the same moment (a page's reads run at once, several
    people open pages together) wait for the first rather than each read it too. A read
    during which responses arrived is tried again (the ids it includes are not known), and
    after a few tries returned without being kept: correct as of some moment of it."""
    newest = newest_response_id(session)
    found = kept(key)
    if found is not None and found[0] >= newest:
        return found[1]
    with gate(key):
        found = kept(key)
        if found is not None and found[0] >= newest:
            return found[1]
        for _ in range(_ATTEMPTS):
            cells = whole() if found is None else since(found[1], (found[0], newest))
            after = newest_response_id(session)
            if after == newest:
                keep(key, newest, cells)
                return cells
            newest = after
        return cells


def gate(key: tuple[object, ...]) -> threading.Lock:
    """The lock readers of ``key`` take turns on, so that one reads and the others wait for
    it; a few more are kept than entries (a gate forgotten while held lets one read run twice,
    nothing worse). Other kept results (``survey.quality.fits``) wait on these gates too."""
    with _lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = threading.Lock()
        _gates.move_to_end(key)
        while len(_gates) > 2 * MAX_ENTRIES:
            _gates.popitem(last=False)
    return gate


def _keep(key: tuple[object, ...], entry: _Entry) -> None:
    with _lock:
        _entries[key] = entry
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
