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
from survey.operations.backup import BackupError, backup, check, restore, signature_path
from tests.factories import respond

KEY = "k" * 40


@pytest.fixture(autouse=True)
def _backup_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_BACKUP_KEY", KEY)


def sign(path: Path) -> None:
    """Sign ``path`` as a backup would (an insider with the key, or a test)."""
    import hmac

    mac = hmac.new(KEY.encode(), path.read_bytes(), hashlib.sha256).hexdigest()
    signature_path(path).write_text(f"hmac-sha256:{mac}\n")


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
    sign(bad)
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
    assert "has no signature" in runner.invoke(main, ["restore", str(tmp_path / "junk.db"), "--yes"]).output
    sign(tmp_path / "junk.db")
    assert (
        "not a readable SQLite database"
        in runner.invoke(main, ["restore", str(tmp_path / "junk.db"), "--yes"]).output
    )


def test_a_file_named_like_a_uri_is_checked_itself_not_its_namesake(sqlite_url, tmp_path):
    """``good.db#x`` opened as a URI is ``good.db``: the truncated file must be the one checked."""
    good = tmp_path / "good.db"
    backup(sqlite_url, good)
    for name in ("good.db#x", "good.db?mode=ro"):
        truncated = tmp_path / name
        truncated.write_bytes(good.read_bytes()[:4096])
        sign(truncated)
        with pytest.raises(BackupError):
            check(truncated)
        target = Path(sqlite_url.removeprefix("sqlite:///"))
        before = digest(target)
        with pytest.raises(BackupError):
            restore(sqlite_url, truncated)
        assert digest(target) == before


def test_a_backup_edited_after_it_was_taken_is_refused(sqlite_url, tmp_path):
    saved = tmp_path / "nightly.db"
    backup(sqlite_url, saved)
    edited = sqlite3.connect(saved)
    edited.execute(
        "INSERT INTO app_user (username, display_name, role, password_hash, active, created_at) "
        "VALUES ('mallory', '', 'admin', 'x', 1, '2026-11-20 00:00:00')"
    )
    edited.commit()
    edited.close()
    target = Path(sqlite_url.removeprefix("sqlite:///"))
    before = digest(target)
    with pytest.raises(BackupError, match="does not match its signature"):
        restore(sqlite_url, saved)
    assert digest(target) == before
    assert not target.with_name(target.name + ".restoring").exists()


def test_an_unsigned_backup_and_a_missing_key_are_refused(sqlite_url, tmp_path, monkeypatch):
    saved = tmp_path / "nightly.db"
    backup(sqlite_url, saved)
    signature_path(saved).unlink()
    with pytest.raises(BackupError, match="has no signature"):
        restore(sqlite_url, saved)
    monkeypatch.delenv("PULSE_BACKUP_KEY")
    with pytest.raises(BackupError, match="PULSE_BACKUP_KEY"):
        backup(sqlite_url, tmp_path / "other.db")


def test_a_signed_backup_missing_a_table_is_refused(sqlite_url, tmp_path):
    shallow = tmp_path / "shallow.db"
    backup(sqlite_url, shallow)
    edited = sqlite3.connect(shallow)
    edited.execute("DROP TABLE app_user")
    edited.commit()
    edited.close()
    sign(shallow)
    target = Path(sqlite_url.removeprefix("sqlite:///"))
    before = digest(target)
    with pytest.raises(BackupError, match="table app_user is missing"):
        restore(sqlite_url, shallow)
    assert digest(target) == before


def test_an_older_backup_is_brought_to_the_newest_schema_on_restore(sqlite_url, tmp_path):
    from alembic import command

    from models.db import alembic_config

    old = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    command.upgrade(alembic_config(engine), "0010")
    engine.dispose()
    sign(old)
    checked = restore(sqlite_url, old)
    assert checked.version == "0010"
    with sqlite3.connect(Path(sqlite_url.removeprefix("sqlite:///"))) as connection:
        head = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert head != "0010"
