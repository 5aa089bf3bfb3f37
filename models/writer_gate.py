"""One writer at a time per SQLite engine within this process, woken the moment the last one
finishes.

SQLite allows one writer per file. A connection that finds the file locked sleeps in its busy
handler and polls (after 1, 2, 5, 10, ... up to 100 ms), so under a burst of submissions the
lock sits idle while writers sleep. Here a connection that is about to write first takes the
engine's gate, a plain lock that hands over at once, and gives it back right after its commit
or rollback. Other processes (the command line, another replica) still meet SQLite's own lock
and busy timeout, so correctness never depends on the gate; it only shortens the wait.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def install(engine: Engine, wait_seconds: float) -> None:
    gate = threading.Lock()
    holders: set[int] = set()  # ids of the database connections that hold the gate
    dialect = engine.dialect

    def before_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        holder = id(conn.connection.dbapi_connection)
        if holder in holders or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        # After ``wait_seconds`` go on without the gate: SQLite's busy timeout still guards.
        if gate.acquire(timeout=wait_seconds):
            holders.add(holder)

    def release(connection: Any) -> None:
        # The dialect is handed the pool's wrapper or the driver's connection itself.
        holder = id(getattr(connection, "dbapi_connection", connection))
        if holder in holders:
            holders.discard(holder)
            gate.release()

    def ending(original: Any) -> Any:
        def end(dbapi_connection: Any) -> None:
            try:
                original(dbapi_connection)
            finally:
                release(dbapi_connection)

        return end

    # The pool's reset of a returned connection also ends in ``do_rollback``.
    # Wrapping the dialect's own commit and rollback is the point: they release the gate.
    dialect.do_commit = ending(dialect.do_commit)  # type: ignore[method-assign]  # see above
    dialect.do_rollback = ending(dialect.do_rollback)  # type: ignore[method-assign]  # see above
    event.listen(engine, "before_cursor_execute", before_execute)
    for closing in ("invalidate", "close", "close_detached"):
        event.listen(engine.pool, closing, lambda dbapi_connection, *_: release(dbapi_connection))
