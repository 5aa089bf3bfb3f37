"""A full disk while a respondent answers: a clear "could not save, your answers are kept, try
again", never a traceback, nothing half stored, and a clean submit once there is room again.

Two full disks, the same tests:

* ``page_limit`` — every connection to the app's SQLite file gets ``PRAGMA max_page_count`` set to
  the pages the file has now, so a write that needs one more page fails with SQLITE_FULL ("database
  or disk is full"), as on a full disk. Runs everywhere.
* ``tmpfs`` — the database lives on a small RAM disk that the test fills with a file until the
  kernel answers "no space left on device". Mounting needs root; elsewhere it is skipped.

A write that fits in pages the database already has can still succeed on a full disk, so the
respondent here writes a long comment: 2,000 characters (the most the survey takes) of three
bytes each, more than a database page, which cannot be stored without new pages.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import Answer, Draft, IndicatorScore, Invitation, Response
from tests.factories import make_invitation
from tests.test_hostile_input import dump
from tests.test_survey_page import answer_section, click, open_link, page_text, walk_to_the_end

SORRY = "We could not save your answers just now. They are kept on this page: please try again in a moment."
SAVED = "Your answers have been saved"
LONG_COMMENT = "€" * 2000
NO_LIMIT = 1_073_741_823  # SQLite's own default maximum of pages


class PageLimit:
    """The app's database may not grow: each connection to it, when the app takes it from the pool,
    is held to the pages the file has at ``fill()``, until ``free()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = Path(url.removeprefix("sqlite:///")).resolve()
        self.limit: int | None = None

    def checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if any(file and Path(file).resolve() == self.path for file in files):
            dbapi_connection.execute(f"PRAGMA max_page_count = {self.limit or NO_LIMIT}")

    def fill(self) -> None:
        with closing(sqlite3.connect(self.path)) as connection:
            self.limit = connection.execute("PRAGMA page_count").fetchone()[0]

    def free(self) -> None:
        self.limit = None


class SmallDisk:
    """A 16 MB tmpfs holding the database, filled up by a file."""

    def __init__(self, mount: Path) -> None:
        self.url = f"sqlite:///{mount / 'pulse.db'}"
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Write until the disk refuses another byte."""
        with open(self.filler, "ab", buffering=0) as sink:
            for block in (65_536, 4_096, 512, 1):
                while True:
                    try:
                        sink.write(b"\0" * block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture(params=["page_limit", "tmpfs"])
def disk(
    request: pytest.FixtureRequest,
    app_env: str,
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PageLimit | SmallDisk]:
    if request.param == "page_limit":
        limit = PageLimit(app_env)
        event.listen(Pool, "checkout", limit.checkout)
        try:
            yield limit
        finally:
            event.remove(Pool, "checkout", limit.checkout)
        return
    if os.geteuid() != 0:
        pytest.skip("a full file system is simulated with a tmpfs mount, which needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"could not mount a tmpfs to fill: {done.stderr.decode().strip()}")
    try:
        small = SmallDisk(mount)
        shutil.copy(sqlite_template, mount / "pulse.db")
        monkeypatch.setenv("DATABASE_URL", small.url)
        yield small
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def db(disk: PageLimit | SmallDisk) -> Iterator[Session]:
    engine = make_engine(disk.url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def count(db: Session, model: type) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def assert_kept_and_told(at: Any, answers: dict[str, Any]) -> None:
    """The respondent is told, calmly, and nothing they gave is lost."""
    assert not at.exception
    text = page_text(at)
    assert SORRY in text
    assert SAVED not in text
    assert "disk is full" not in text
    assert "Traceback" not in text
    assert at.session_state["answers"] == answers


def test_a_full_disk_at_submit_keeps_the_answers_and_stores_them_once_there_is_room(db, disk, clock):
    result, token = make_invitation(db, clock)
    at = walk_to_the_end(open_link(token))
    answer_section(at, {"COMMENT": LONG_COMMENT})  # saved as a draft while there was room
    given = dict(at.session_state["answers"])
    assert given["COMMENT"] == LONG_COMMENT
    before = dump(disk.url)

    disk.fill()
    at = click(at, "Submit my answers")
    assert_kept_and_told(at, given)
    assert at.get("progress")[0].proto.text == "Part 8 of 8"
    assert at.text_area(key="q_COMMENT").value == LONG_COMMENT
    assert [b.label for b in at.button if b.label == "Submit my answers"]  # they can try again

    disk.free()
    assert dump(disk.url) == before  # nothing half stored: no response, the link still unused
    assert (count(db, Response), count(db, Answer), count(db, IndicatorScore)) == (0, 0, 0)
    assert db.get(Invitation, result.invitation_id).completed_at is None

    at = click(at, "Submit my answers")
    assert not at.exception
    assert SAVED in page_text(at)
    assert SORRY not in page_text(at)
    assert count(db, Response) == 1
    assert db.exec(select(Response.comment)).one() == LONG_COMMENT
    assert db.get(Invitation, result.invitation_id).completed_at is not None
    assert count(db, Draft) == 0
    assert "already answered" in page_text(open_link(token))
    assert count(db, Response) == 1


def test_a_full_disk_when_saving_the_draft_keeps_every_answer_and_saves_them_later(db, disk, clock):
    result, token = make_invitation(db, clock)
    at = walk_to_the_end(open_link(token))
    given = dict(at.session_state["answers"])
    before = dump(disk.url)

    disk.fill()
    answer_section(at, {"COMMENT": LONG_COMMENT})  # each change saves the draft
    given["COMMENT"] = LONG_COMMENT
    assert_kept_and_told(at, given)

    at = click(at, "Back")  # moving between parts saves the draft too
    assert_kept_and_told(at, given)
    assert at.get("progress")[0].proto.text == "Part 7 of 8"
    assert at.radio(key="q_LEADER").value == "other"
    assert at.text_input(key="q_LEADER_OTHER").value == "Stratos Group"

    at = click(at, "Next")
    assert_kept_and_told(at, given)
    assert at.get("progress")[0].proto.text == "Part 8 of 8"
    assert at.text_area(key="q_COMMENT").value == LONG_COMMENT

    disk.free()
    assert dump(disk.url) == before  # no draft was half written while the disk was full

    at = click(at, "Back")
    assert not at.exception
    assert SORRY not in page_text(at)
    db.expire_all()
    draft = db.get(Draft, result.invitation_id)
    assert draft.answers == given
    assert draft.step == 6

    at = click(click(at, "Next"), "Submit my answers")
    assert SAVED in page_text(at)
    assert count(db, Response) == 1
    assert db.exec(select(Response.comment)).one() == LONG_COMMENT


def test_a_link_opened_on_a_full_disk_still_shows_the_survey(db, disk, clock):
    """Noting that the link was opened is a write too: when it fails the respondent still gets the
    survey (not an error about answers they have not given), and their answers go in later."""
    result, token = make_invitation(db, clock)
    disk.fill()
    at = open_link(token)
    assert not at.exception
    assert "Survey for Acme Tools" in page_text(at)
    assert SORRY not in page_text(at)
    assert at.get("progress")[0].proto.text == "Part 1 of 8"

    disk.free()
    at = walk_to_the_end(at)
    at = click(at, "Submit my answers")
    assert SAVED in page_text(at)
    assert count(db, Response) == 1
    assert db.get(Invitation, result.invitation_id).completed_at is not None
