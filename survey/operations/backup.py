"""Online backups of the embedded SQLite database, and checked restores.

A backup uses SQLite's own backup API, which copies a consistent snapshot while the app
keeps writing, and is signed: ``FILE.hmac`` beside it holds an HMAC-SHA256 of the file under
the key ``PULSE_BACKUP_KEY`` (or ``[backup] key`` in ``.streamlit/secrets.toml``), so a backup
edited afterwards (an extra admin, say) is refused. A restore checks the signature, copies
the file to a staging file next to the database, and checks *that copy*, opened by its plain
path (never as an SQLite URI, where ``#`` or ``?`` in a name would open another file): SQLite's
integrity and foreign keys, a schema version this program knows, then the copy is upgraded to
the newest migration and every table and column the program uses must be there. Only then is
the current database kept as ``.bak`` and the copy swapped in with an atomic rename: there is
never a half-written database. Stop the app before restoring. PostgreSQL has its own tools
(``pg_dump``, ``pg_restore``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from models import tables as _tables  # noqa: F401 - the tables a restored file must hold
from models.db import alembic_config, make_engine, upgrade_schema
from models.settings import PROJECT_ROOT

SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
MIN_KEY_LENGTH = 32
SIGNATURE_PREFIX = "hmac-sha256:"


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


def backup_key(secrets_file: Path = SECRETS_FILE) -> bytes:
    """The key backups are signed with: ``PULSE_BACKUP_KEY``, else ``[backup] key`` in secrets."""
    key = os.environ.get("PULSE_BACKUP_KEY", "")
    if not key and secrets_file.exists():
        with secrets_file.open("rb") as handle:
            section = tomllib.load(handle).get("backup", {})
        key = str(section.get("key", "")) if isinstance(section, dict) else ""
    if len(key) < MIN_KEY_LENGTH:
        raise BackupError(
            f"backups are signed: set PULSE_BACKUP_KEY (or key in the [backup] section of "
            f".streamlit/secrets.toml) to a random string of at least {MIN_KEY_LENGTH} characters, "
            "the same wherever backups are restored"
        )
    return key.encode("utf-8")


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".hmac")


def _mac(path: Path, key: bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            mac.update(block)
    return mac.hexdigest()


def verify_signature(path: Path, key: bytes, signed: Path | None = None, named: Path | None = None) -> None:
    """Refuse ``path`` unless the signature ``signed`` (its ``.hmac`` file) matches it under
    ``key``; messages call the file ``named`` (the backup a staged copy was made from)."""
    signed = signed or signature_path(path)
    shown = named or path
    if not signed.is_file():
        raise BackupError(f"{shown} has no signature ({signed.name}): only signed backups are restored")
    stated = signed.read_text(encoding="ascii", errors="replace").strip().removeprefix(SIGNATURE_PREFIX)
    if not hmac.compare_digest(stated.encode("ascii", "replace"), _mac(path, key).encode("ascii")):
        raise BackupError(
            f"{shown} does not match its signature: "
            "it was changed after the backup, or signed with another key"
        )


def backup(url: str, out: Path, *, key: bytes | None = None) -> Checked:
    """A consistent, signed copy of the live database at ``out`` (written whole, then renamed)."""
    key = key if key is not None else backup_key()
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"there is no database at {source_path}")
    partial = out.with_name(out.name + ".partial")
    # A backup holds everything: readable by its owner only, from the moment it exists.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
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
    signature = f"{SIGNATURE_PREFIX}{_mac(partial, key)}\n"
    signed_partial = signature_path(partial)
    signed_partial.write_text(signature, encoding="ascii")
    os.replace(partial, out)
    os.replace(signed_partial, signature_path(out))
    return checked


def _scripts() -> ScriptDirectory:
    # Listing the migrations needs no database: an in-memory engine stands in.
    return ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))


def _known_versions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def _schema_problems(connection: sqlite3.Connection) -> list[str]:
    """Every table and column the program uses that the file lacks."""
    problems = []
    for table in SQLModel.metadata.sorted_tables:
        present = {row[1] for row in connection.execute(f'PRAGMA table_info("{table.name}")')}
        if not present:
            problems.append(f"table {table.name} is missing")
            continue
        missing = sorted(column.name for column in table.columns if column.name not in present)
        if missing:
            problems.append(f"table {table.name} lacks {', '.join(missing)}")
    return problems


def check(path: Path) -> Checked:
    """That ``path`` is an intact Relationship Pulse database this version can open."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        # By its plain path, never as a URI: "#" or "?" in a file name must not open another file.
        connection = sqlite3.connect(str(path), uri=False)
        try:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if integrity != "ok":
                raise BackupError(f"{path} fails SQLite's integrity check: {integrity}")
            broken = connection.execute("PRAGMA foreign_key_check").fetchone()
            if broken is not None:
                raise BackupError(f"{path} has a row in {broken[0]} whose {broken[2]} points at nothing")
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


def check_deeply(path: Path) -> Checked:
    """``check``, then the file upgraded in place to the newest migration and every table and
    column the program uses present. Only for a staged copy: the file is changed."""
    checked = check(path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_schema(engine)
    except Exception as error:  # a migration that fails on this file: it is not restorable
        raise BackupError(f"{path} cannot be brought to the newest schema: {error}") from error
    finally:
        engine.dispose()
    connection = sqlite3.connect(str(path), uri=False)
    try:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        problems = _schema_problems(connection)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    head = _scripts().get_current_head()
    if version is None or version[0] != head:
        raise BackupError(f"{path} is at schema {version and version[0]}, not the newest ({head})")
    if problems:
        raise BackupError(f"{path} is not a complete Relationship Pulse database: {'; '.join(problems)}")
    return Checked(version=checked.version, responses=checked.responses)


def restore(url: str, source: Path, *, key: bytes | None = None) -> Checked:
    """Replace the database with a signed, checked backup; the current one is kept as ``.bak``."""
    target = sqlite_path(url)
    key = key if key is not None else backup_key()
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, staged)
    # What is checked is the copy that will be installed, not the file named on the command line.
    try:
        verify_signature(staged, key, signature_path(source), named=source)
        checked = check_deeply(staged)
    except BackupError:
        for leftover in (staged, *(staged.with_name(staged.name + end) for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        raise
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    if target.exists():
        # Fold the write-ahead log into the old file first: a WAL left beside the new file
        # would be replayed into it.
        old = sqlite3.connect(str(target), timeout=30)
        try:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()
        shutil.copyfile(target, target.with_name(target.name + ".bak"))
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
        staged.with_name(staged.name + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    return checked
