"""Shared fixtures: a migrated database on SQLite and, where reachable, on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from models.db import default_engine, make_engine
from survey.accounts import answered
from survey.operations.startup import prepare_database
from survey.quality import fits as quality_fits
from survey.reporting import cache as report_cache
from survey.reporting import people as report_people

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _mail_stays_in_the_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may mail the outside world or write into the project's data folder.
    monkeypatch.delenv("PULSE_SMTP_HOST", raising=False)
    monkeypatch.setenv("PULSE_OUTBOX", str(tmp_path / "outbox"))


@pytest.fixture(autouse=True)
def _no_versions_published_by_another_test() -> Iterator[None]:
    # Versions published through the workflow are registered per process.
    from survey.instrument.definition import forget_published

    forget_published()
    yield
    forget_published()


@pytest.fixture(autouse=True)
def _full_check_ups_unless_a_test_asks_for_pulses(monkeypatch: pytest.MonkeyPatch) -> None:
    # Most tests answer the whole instrument, several times for one contact. Tests of the
    # pulse set the period (or a touchpoint's form rule) themselves.
    monkeypatch.setenv("PULSE_CHECKUP_DAYS", "0")


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    # Streamlit caches and the command line's engine are process-wide: one test's database
    # must not leak into the next.
    st.cache_data.clear()
    st.cache_resource.clear()
    default_engine.cache_clear()
    report_cache.clear()
    quality_fits.forget()
    answered.forget()
    report_people.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    default_engine.cache_clear()
    report_cache.clear()
    quality_fits.forget()
    answered.forget()
    report_people.clear()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test: migrating each time is slower."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    prepare_database(engine)
    engine.dispose()
    # Without the pages the migrations freed (dropped tables and indexes): a copy holds no
    # spare room, as the full-disk tests need, and is smaller to copy.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("VACUUM")
    return path


def _postgres_admin_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    if not url.startswith("postgresql"):
        return None
    try:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception:
        return None
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        message = "PostgreSQL not reachable (set TEST_DATABASE_URL); PostgreSQL variants skipped"
        if os.environ.get("PULSE_REQUIRE_POSTGRES"):
            pytest.fail(message.replace("skipped", "required here"))
        pytest.skip(message)
    name = f"pulse_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    prepare_database(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "pulse.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database (with the default touchpoints) on each backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _truncate_postgres(engine)
    prepare_database(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def clock(time_machine: Any, now: datetime) -> datetime:
    """The clock that pages and commands read, moved to ``now`` and ticking from there: data built
    from ``now`` reads the same whatever day the tests run."""
    time_machine.move_to(now, tick=True)
    return now


@pytest.fixture
def app_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the app at an empty SQLite database without demo data."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PULSE_DEMO_DATA", "0")
    return sqlite_url


@pytest.fixture
def app_db(app_env: str) -> Iterator[Session]:
    """A session on the database the app under test uses."""
    engine = make_engine(app_env)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def db(app_db: Session) -> Session:
    return app_db
