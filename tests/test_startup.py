"""What every start does: nothing on a ready database; once, and saying so, on an older one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import AccountRespondentRollup, FollowUp, FormRollup, Response, ScoreSegmentRollup
from survey.exports import packs
from survey.operations.startup import prepare_database
from survey.reporting import aggregates
from survey.reporting.aggregates import AGGREGATES
from survey.reporting.filters import Filters
from tests.factories import answers_at, make_user, respond

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def older(engine, now) -> list[int]:
    """Three responses (one a detractor) as a database from before packs, roll-ups and
    follow-ups holds them."""
    with Session(engine) as session:
        ids = [respond(session, now, email=f"c{i}@acme.example") for i in range(2)]
        ids.append(respond(session, now, answers_at() | {"NPS": 2}, email="d@acme.example"))
        session.execute(update(Response).values(export_pack=None))
        for aggregate in AGGREGATES:
            session.execute(delete(aggregate.model))
        session.execute(delete(FollowUp))
        session.commit()
    return ids


def test_one_time_work_says_what_it_does_and_runs_once(engine, older):
    said: list[str] = []
    prepare_database(engine, say=said.append)
    text = "\n".join(said)
    assert "summing 3 responses into the reporting aggregates" in text
    assert "checking 3 responses for follow-ups" in text
    assert "1 follow-ups opened" in text
    assert "packing 3 responses for exports" in text
    assert "packed 3 of 3 responses" in text
    with Session(engine) as session:
        assert packs.missing(session) == 0
        assert session.exec(select(func.count()).select_from(FollowUp)).one() == 1
        assert session.exec(select(func.count()).select_from(ScoreSegmentRollup)).one() > 0

    again: list[str] = []
    prepare_database(engine, say=again.append)
    assert again == []


@pytest.mark.parametrize(
    "added", [FormRollup, AccountRespondentRollup], ids=lambda model: model.__tablename__
)
def test_an_aggregate_added_by_an_upgrade_is_filled_alone_at_the_next_start(engine, now, added):
    """An upgrade adds an aggregate empty beside filled ones: the next start fills it, and
    only it, and says so; what it keeps is the responses' own."""
    with Session(engine) as session:
        for number in range(3):
            respond(session, now, email=f"c{number}@acme.example")
        kept = session.exec(select(added)).all()
        session.execute(delete(added))
        session.commit()
        scores = session.exec(select(ScoreSegmentRollup)).all()
    said: list[str] = []
    prepare_database(engine, say=said.append)
    assert f"summing 3 responses into the reporting aggregates ({added.__tablename__})" in "\n".join(said)
    with Session(engine) as session:
        assert session.exec(select(ScoreSegmentRollup)).all() == scores
        assert session.exec(select(added)).all() == kept
        cells = aggregates.read(session, "responses", ["form"], Filters())
        assert aggregates.source_for("responses", ["form"], Filters()).name == "form_rollup"
        counted = dict(session.exec(select(Response.form, func.count()).group_by(Response.form)).all())
        assert dict(zip(cells.keys["form"].tolist(), cells.n.tolist(), strict=True)) == counted
    again: list[str] = []
    prepare_database(engine, say=again.append)
    assert again == []


def test_a_ready_database_is_not_migrated_again(engine, monkeypatch):
    from alembic import command

    def refuse(*_args, **_kwargs):
        raise AssertionError("the migrations ran on a database that is up to date")

    monkeypatch.setattr(command, "upgrade", refuse)
    said: list[str] = []
    prepare_database(engine, say=said.append)
    assert said == []


def test_an_older_schema_is_upgraded_and_says_so(sqlite_url):
    from alembic import command

    from models.db import alembic_config, make_engine

    engine = make_engine(sqlite_url)
    command.downgrade(alembic_config(engine), "0010")
    said: list[str] = []
    prepare_database(engine, say=said.append)
    assert said[0].startswith("upgrading the database schema from 0010 to ")
    # Then only the steps of a migration with long work, indented under it (0230's tables).
    assert said[1:]
    assert all(line.startswith("  ") for line in said[1:])
    engine.dispose()


def test_a_new_database_is_built_without_a_word(tmp_path):
    from models.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    said: list[str] = []
    prepare_database(engine, say=said.append)
    assert said == []
    engine.dispose()


def _user_list(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "survey", "user", "list"],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_packs_an_older_database_once_with_progress_on_stderr(sqlite_url, now):
    from models.db import make_engine

    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        respond(session, now)
        session.execute(update(Response).values(export_pack=None))
        session.commit()
    engine.dispose()

    first = _user_list(sqlite_url)
    assert first.returncode == 0, first.stderr
    assert "one-time work: packing 1 responses for exports" in first.stderr
    assert "one-time work: 1 responses packed" in first.stderr
    assert "no users yet" in first.stdout  # the answer itself stays on stdout

    second = _user_list(sqlite_url)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""


def test_the_server_loads_what_the_pages_use_before_anyone_opens_one():
    """The statistics, factor-model and chart code the pages call is imported in the background
    at start (``warm_up``), not on the first open of each page; the command line is not."""
    script = (
        "import sys\n"
        "from survey.operations.startup import warm_up\n"
        "slow = ['survey.quality.cfa', 'survey.reporting.dashboard', 'survey.charts.common', 'semopy']\n"
        "print(any(name in sys.modules for name in slow))\n"
        "warm_up().join()\n"
        "print(all(name in sys.modules for name in slow))\n"
        "print(any(name.startswith('survey.cli') for name in sys.modules))\n"
        "import gc\n"
        "print(gc.get_freeze_count() > 100_000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    # And what it loaded is left out of later full garbage collections (``settle_heap``).
    assert done.stdout.split() == ["False", "True", "False", "True"]


def test_the_server_then_reads_each_readers_first_figures_and_says_so(sqlite_url, now):
    """With ``figures`` (the server's default), the background start goes on to read each
    reader's first figures (``survey.operations.warming``) and says how many it kept."""
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        respond(session, now, email="c0@acme.example")
        make_user(session, "admin", "admin")
        session.commit()
    engine.dispose()
    script = "from survey.operations.startup import warm_up\nwarm_up(figures=True).join()\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": sqlite_url},
    )
    assert "first figures kept for 1 of 1 readers' scopes" in done.stderr
    assert "instrument quality fitted in" in done.stderr  # the admin's Instrument quality page
