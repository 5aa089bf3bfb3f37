import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from survey.operations.startup import prepare_database

ROOT = Path(__file__).resolve().parents[1]


def test_migrations_build_exactly_the_model(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_upgrading_twice_is_harmless(engine):
    prepare_database(engine)
    prepare_database(engine)
    assert "response" in inspect(engine).get_table_names()


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(sqlite_url):
    from models.db import make_engine

    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000
    engine.dispose()


def test_aggregates_from_before_the_version_key_are_rebuilt_at_the_next_start(engine, now):
    from alembic import command
    from sqlmodel import Session, select

    from models.db import alembic_config
    from survey.reporting.aggregates import AGGREGATES
    from tests.factories import respond

    with Session(engine) as session:
        respond(session, now, touchpoint="sales")
        respond(session, now, email="bo@acme.example", touchpoint="service")

    def rows() -> dict[str, list[tuple]]:
        with Session(engine) as session:
            return {
                aggregate.name: sorted(
                    tuple(row) for row in session.exec(select(*aggregate.model.__table__.columns))
                )
                for aggregate in AGGREGATES
            }

    kept_at_submission = rows()
    config = alembic_config(engine)
    command.downgrade(config, "0010")
    command.upgrade(config, "head")
    assert all(not table for table in rows().values())  # new tables start empty
    prepare_database(engine)
    assert rows() == kept_at_submission
    assert len(kept_at_submission["own_touchpoint_rollup"]) == 12  # 6 indicators x 2 touchpoints
    assert len(kept_at_submission["account_touchpoint_rollup"]) == 12


def test_each_migration_file_is_named_after_its_revision_in_one_line_of_history():
    from alembic.script import ScriptDirectory

    from models.db import MIGRATIONS_DIR, alembic_config, default_engine, newest_migration

    scripts = ScriptDirectory.from_config(alembic_config(default_engine()))
    revisions = list(scripts.walk_revisions())
    for revision in revisions:
        assert revision.path is not None
        assert Path(revision.path).name.split("_", 1)[0] == revision.revision
    assert scripts.get_heads() == [newest_migration()]
    assert len(list((MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))) == len(revisions)


def test_a_database_one_migration_behind_is_upgraded_at_start(engine):
    from alembic import command

    from models.db import alembic_config, newest_migration, stored_revision

    command.downgrade(alembic_config(engine), "-1")
    assert stored_revision(engine) not in (None, newest_migration())
    prepare_database(engine)
    assert stored_revision(engine) == newest_migration()


def test_a_ready_database_starts_without_loading_the_migration_tool(sqlite_url):
    from models.db import make_engine

    engine = make_engine(sqlite_url)
    prepare_database(engine)
    engine.dispose()
    script = (
        "import sys\n"
        "from models.db import make_engine, upgrade_schema\n"
        f"upgrade_schema(make_engine({sqlite_url!r}))\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


# Each re-keying of account-keyed sums: the revision before it, and per table (by its model's
# name) how its key began then.
REKEYINGS = {
    "0230": (
        "0220",
        {
            "AccountScoreRollup": ["account_id", "version", "month"],
            "AccountItemRollup": ["account_id", "version", "month"],
        },
    ),
    "0240": (
        "0230",
        {
            "AccountScoreRollup": ["subject", "account_id", "version", "month"],
            "AccountTouchpointRollup": ["account_id", "version", "month"],
            "AccountLeaderPairRollup": ["account_id", "version", "month"],
        },
    ),
}


@pytest.mark.parametrize("revision", list(REKEYINGS))
def test_the_account_sums_keep_their_rows_under_the_key_their_reads_follow(engine, now, revision):
    """0230 and 0240 give account-keyed sums the key of the model (0230: the subject, or the
    item, before the account; 0240: the version before the account, the month after what a
    figure groups by), on a database with rows, and keep every row; going back gives the old
    key and the same rows."""
    from alembic import command
    from sqlmodel import Session, select

    import models.tables
    from models.db import alembic_config, upgrade_schema
    from tests.factories import respond

    with Session(engine) as session:
        respond(session, now, touchpoint="sales")
        respond(session, now, email="bo@acme.example", touchpoint="service")
        respond(session, now, account="Bolt Works", email="cy@bolt.example")
    before_revision, began = REKEYINGS[revision]
    models = [getattr(models.tables, name) for name in began]

    def rows() -> dict[str, list[tuple]]:
        with Session(engine) as session:
            return {
                model.__tablename__: sorted(
                    tuple(row) for row in session.exec(select(*model.__table__.columns))
                )
                for model in models
            }

    def key(model: type) -> list[str]:
        return inspect(engine).get_pk_constraint(model.__tablename__)["constrained_columns"]

    before = rows()
    assert all(before.values())
    config = alembic_config(engine)
    command.downgrade(config, before_revision)
    for model in models:
        old = began[model.__name__]
        assert key(model)[: len(old)] == old
    assert rows() == before
    said: list[str] = []
    upgrade_schema(engine, say=said.append)
    for model in models:
        assert key(model) == [column.name for column in model.__table__.primary_key.columns]
        # What the one-time work is doing, table by table, with the rows it orders.
        count = len(before[model.__tablename__])
        assert f"  {model.__tablename__}: ordering {count:,} rows by the new key…" in said
    assert rows() == before
