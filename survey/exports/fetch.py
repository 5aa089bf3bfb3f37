"""Query results in one pass over the rows.

On SQLite the rows come straight from the driver (timestamps stay text, booleans 0/1),
skipping SQLAlchemy's per-value conversions; elsewhere they come through SQLAlchemy Core.
Exports read one row per response (answers and scores come packed, see ``survey.exports.packs``),
so this is the only pass over the data in Python.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them in SQLite: naive UTC text, booleans as 0/1.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


_pausing = threading.Lock()
_paused = 0  # readers inside ``cycles_paused`` right now
_was_enabled = True


@contextmanager
def cycles_paused() -> Iterator[None]:
    """Pause Python's cycle collector while rows are read.

    Each row is a new tuple, and every few hundred of them start a collection that walks every
    object of the process; reading a chunk then costs twice what it should. Rows hold no
    reference cycles, so nothing is lost by collecting after them instead of among them."""
    global _paused, _was_enabled
    with _pausing:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pausing:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


def rows(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple]:
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return [tuple(row) for row in connection.execute(statement)]
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = [_sqlite_value(compiled.params[name]) for name in compiled.positiontup or ()]
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # checked out: never None
    try:
        return cursor.execute(str(compiled), params).fetchall()
    finally:
        cursor.close()


def columns(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple]:
    """The rows of a select, column by column (empty tuples when there are none)."""
    with cycles_paused():
        fetched = rows(session, statement)
        width = len(statement.selected_columns)
        return list(zip(*fetched, strict=True)) if fetched else [() for _ in range(width)]
