"""The engine, sessions and schema upgrades. Nothing above this layer builds an engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from models import writer_gate
from models.settings import PROJECT_ROOT, get_settings

if TYPE_CHECKING:  # Alembic takes a while to import: only when the schema is checked
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder and the pragmas above."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            },
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        writer_gate.install(engine, SQLITE_BUSY_TIMEOUT_MS / 1000)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upsert_insert(backend: Session | str) -> Callable[..., Any]:
    """The ``insert`` that has ``on_conflict_do_…`` of a session's backend or of a dialect named
    (SQLite and PostgreSQL spell the upsert alike)."""
    name = backend if isinstance(backend, str) else backend.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


@cache
def default_engine() -> Engine:
    """The engine for ``DATABASE_URL`` (or the embedded SQLite file), one per process."""
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(
    engine: Engine | None = None, *, keep_on: tuple[type[BaseException], ...] = ()
) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    ``keep_on`` names errors that still commit: a refusal whose record must outlive it (a
    failed sign-in is counted towards a lock-out although the sign-in fails)."""
    with Session(engine or default_engine(), expire_on_commit=False) as session:
        try:
            yield session
        except keep_on:
            session.commit()
            raise
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def newest_migration() -> str:
    """The revision of the newest migration, read from the file names alone: each file is named
    after its revision, in order (``tests/test_migrations.py`` holds Alembic to that)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def stored_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database; None for a database without one."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade_schema(engine: Engine | None = None, say: Callable[[str], None] | None = None) -> None:
    """Bring the schema to the newest migration. When it is already there, this reads the one
    stored revision and the migration files' names: Alembic, slow to import, is only loaded
    when there is something to upgrade."""
    engine = engine or default_engine()
    if stored_revision(engine) == newest_migration():
        return
    from alembic import command
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return
    if say is not None and current:
        say(f"upgrading the database schema from {', '.join(sorted(current))} to {', '.join(sorted(heads))}…")
        # A migration with long work (copying a large table) reports its steps through ``say``;
        # a new database, built by every migration at once, says nothing.
        config.attributes["say"] = say
    command.upgrade(config, "head")
