"""Online backup while submissions keep arriving, and checked restores (SQLite)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import Response
from survey.cli.main import main
from survey.operations.backup import BackupError, backup, check, restore
from tests.factories import respond


def responses(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Response)).one()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_backup_taken_while_responses_arrive_is_consistent(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    committed: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        with Session(engine, expire_on_commit=False) as session:
            number = 0
            while not stop.is_set() and number < 400:
                respond(session, datetime.now(UTC) - timedelta(days=1), email=f"w{number}@acme.example")
                number += 1
                committed.append(number)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(committed) < 20:
        stop.wait(0.05)
    before = len(committed)
    checked = backup(sqlite_url, tmp_path / "pulse-backup.db")
    after = len(committed)
    stop.set()
    thread.join()
    assert before <= checked.responses <= after + 1
    copy = make_engine(f"sqlite:///{tmp_path / 'pulse-backup.db'}")
    assert responses(copy) == checked.responses
    assert check(tmp_path / "pulse-backup.db").version == checked.version


def test_a_restore_brings_the_backup_back_and_keeps_the_old_file(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        respond(session, datetime.now(UTC), email="a@acme.example")
    backup(sqlite_url, tmp_path / "one.db")
    with Session(engine, expire_on_commit=False) as session:
        respond(session, datetime.now(UTC), email="b@acme.example")
    engine.dispose()
    restore(sqlite_url, tmp_path / "one.db")
    target = Path(sqlite_url.removeprefix("sqlite:///"))
    assert responses(make_engine(sqlite_url)) == 1
    assert responses(make_engine(f"sqlite:///{target}.bak")) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all" * 100, "not a readable SQLite database"),
        (None, "not a Relationship Pulse database"),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_and_changes_nothing(sqlite_url, tmp_path, content, message):
    bad = tmp_path / "bad.db"
    if content is None:
        other = sqlite3.connect(bad)
        other.execute("CREATE TABLE notes (text TEXT)")
        other.commit()
        other.close()
    else:
        bad.write_bytes(content)
    target = Path(sqlite_url.removeprefix("sqlite:///"))
    before = digest(target)
    with pytest.raises(BackupError, match=message):
        restore(sqlite_url, bad)
    assert digest(target) == before
    assert not target.with_name(target.name + ".bak").exists()


def test_postgresql_is_pointed_to_its_own_tools():
    with pytest.raises(BackupError, match="pg_dump"):
        backup("postgresql+psycopg://postgres@127.0.0.1/test", Path("x.db"))


def test_the_commands(app_db, tmp_path):
    respond(app_db, datetime.now(UTC), email="a@acme.example")
    runner = CliRunner()
    out = tmp_path / "nightly.db"
    assert "1 responses, integrity ok" in runner.invoke(main, ["backup", "--out", str(out)]).output
    assert "restored" in runner.invoke(main, ["restore", str(out), "--yes"]).output
    (tmp_path / "junk.db").write_bytes(b"junk" * 1000)
    assert (
        "not a readable SQLite database"
        in runner.invoke(main, ["restore", str(tmp_path / "junk.db"), "--yes"]).output
    )
