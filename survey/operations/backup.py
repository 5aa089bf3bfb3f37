"""Online backups of the embedded SQLite database, and checked restores.

A backup uses SQLite's own backup API, which copies a consistent snapshot while the app
keeps writing. A restore checks the file first, keeps the current database as ``.bak``,
and swaps the new one in with an atomic rename: there is never a half-written database.
Stop the app before restoring. PostgreSQL has its own tools (``pg_dump``, ``pg_restore``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from models.db import alembic_config, make_engine


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class Checked:
    version: str
    responses: int


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise BackupError(
            f"backup and restore here are for the embedded SQLite database, not {parsed.get_backend_name()}: "
            "use pg_dump and pg_restore for PostgreSQL"
        )
    return Path(parsed.database)


def backup(url: str, out: Path) -> Checked:
    """A consistent copy of the live database at ``out`` (written whole, then renamed)."""
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"there is no database at {source_path}")
    partial = out.with_name(out.name + ".partial")
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    try:
        checked = check(partial)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    return checked


def _known_versions() -> set[str]:
    # Listing the migrations needs no database: an in-memory engine stands in.
    config = alembic_config(make_engine("sqlite://"))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def check(path: Path) -> Checked:
    """That ``path`` is an intact Relationship Pulse database this version can open."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if integrity != "ok":
                raise BackupError(f"{path} fails SQLite's integrity check: {integrity}")
            if "alembic_version" not in tables or "response" not in tables:
                raise BackupError(f"{path} is an SQLite file but not a Relationship Pulse database")
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            responses = connection.execute("SELECT count(*) FROM response").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a readable SQLite database ({error})") from error
    if version is None or version[0] not in _known_versions():
        raise BackupError(
            f"{path} has a schema version this program does not know ({version and version[0]})"
        )
    return Checked(version=version[0], responses=int(responses))


def restore(url: str, source: Path) -> Checked:
    """Replace the database with a checked backup; the current one is kept as ``.bak``."""
    target = sqlite_path(url)
    checked = check(source)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, staged)
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    if target.exists():
        # Fold the write-ahead log into the old file first: a WAL left beside the new file
        # would be replayed into it.
        old = sqlite3.connect(target, timeout=30)
        try:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()
        shutil.copyfile(target, target.with_name(target.name + ".bak"))
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    return checked
