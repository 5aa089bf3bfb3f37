"""The in-process writer gate on SQLite: writers queue and are handed the file at once, and a
transaction that ends in any way (commit, rollback, a session closed mid-way) lets the next in."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from models.db import make_engine

QUICK = 1.0  # seconds; the busy timeout a stuck gate would wait out is 5


def make(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE tally (n INTEGER)"))
    return engine


def write_takes(engine) -> float:
    """Seconds another thread needs to write one row."""
    took: list[float] = []

    def write() -> None:
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO tally VALUES (1)"))
        took.append(time.perf_counter() - began)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=10)
    return took[0]


def test_a_rolled_back_or_abandoned_writer_lets_the_next_one_in_at_once(sqlite_url):
    engine = make(sqlite_url)
    connection = engine.connect()
    connection.execute(text("INSERT INTO tally VALUES (1)"))
    connection.rollback()
    assert write_takes(engine) < QUICK
    connection.execute(text("INSERT INTO tally VALUES (2)"))
    connection.close()  # handed back to the pool mid-transaction: rolled back there
    assert write_takes(engine) < QUICK
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM tally")).scalar() == 2
    engine.dispose()


def test_a_writer_waits_for_the_one_writing_and_then_goes_on(sqlite_url):
    engine = make(sqlite_url)
    holding = engine.connect()
    holding.execute(text("INSERT INTO tally VALUES (1)"))
    threading.Timer(0.3, holding.commit).start()
    took = write_takes(engine)
    assert 0.25 < took < QUICK  # it waited for the commit, and no longer
    holding.close()
    engine.dispose()


def test_forty_threads_writing_at_once_all_get_through_without_errors(sqlite_url):
    engine = make(sqlite_url)
    start = threading.Barrier(40)
    errors: list[BaseException] = []

    def write() -> None:
        start.wait()
        try:
            with engine.begin() as connection:
                connection.execute(text("SELECT count(*) FROM tally")).scalar()
                connection.execute(text("INSERT INTO tally VALUES (1)"))
        except BaseException as error:  # every failure counts
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM tally")).scalar() == 40
    engine.dispose()
