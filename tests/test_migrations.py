from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from survey.setup import prepare_database


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
