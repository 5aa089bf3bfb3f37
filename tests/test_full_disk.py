"""A full disk while a respondent answers: a clear "could not save, your answers are kept, try
again", never a traceback, nothing half stored, and a clean submit once there is room again.

The database lives on a small RAM disk (tmpfs) that the test fills with a file until the
kernel answers "no space left on device", exactly as a full disk would. Mounting needs root;
elsewhere the test is skipped with a notice."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import Answer, Draft, Invitation, Response
from tests.factories import make_invitation
from tests.test_survey_page import answer_section, click, open_link, page_text, walk_to_the_end

SORRY = "We could not save your answers just now"


class SmallDisk:
    def __init__(self, mount: Path) -> None:
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


@pytest.fixture
def small_disk(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs mount, which needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"could not mount a tmpfs to fill: {done.stderr.decode().strip()}")
    try:
        shutil.copy(sqlite_template, mount / "pulse.db")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{mount / 'pulse.db'}")
        monkeypatch.setenv("PULSE_DEMO_DATA", "0")
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def db(small_disk) -> Iterator[Session]:
    engine = make_engine(os.environ["DATABASE_URL"])
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def count(db: Session, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def test_a_full_disk_at_submit_keeps_the_answers_and_stores_once_when_there_is_room(db, small_disk, now):
    result, token = make_invitation(db, now)
    at = walk_to_the_end(open_link(token))
    small_disk.fill()

    at = click(at, "Submit my answers")
    assert not at.exception
    assert SORRY in page_text(at)
    assert "Your answers have been saved" not in page_text(at)
    assert at.session_state["answers"]["COMMENT"]  # still in the page
    small_disk.free()  # room to read in, for the checks below
    assert count(db, Response) == 0
    assert count(db, Answer) == 0
    assert db.get(Invitation, result.invitation_id).completed_at is None

    at = click(at, "Submit my answers")
    assert not at.exception
    assert "Your answers have been saved" in page_text(at)
    assert count(db, Response) == 1
    assert count(db, Draft) == 0


def test_a_full_disk_while_answering_keeps_each_answer_and_saves_them_later(db, small_disk, now):
    result, token = make_invitation(db, now)
    at = open_link(token)
    small_disk.fill()

    answer_section(at, {"SAT1": 6})
    answer_section(at, {"SAT2": 2})
    assert not at.exception
    assert SORRY in page_text(at)
    assert (at.session_state["answers"]["SAT1"], at.session_state["answers"]["SAT2"]) == (6, 2)

    small_disk.free()
    answer_section(at, {"SAT3": 7})
    assert SORRY not in page_text(at)
    db.expire_all()
    draft = db.get(Draft, result.invitation_id)
    assert {code: draft.answers[code] for code in ("SAT1", "SAT2", "SAT3")} == {
        "SAT1": 6,
        "SAT2": 2,
        "SAT3": 7,
    }
