"""A submitting process killed with SIGKILL mid-stream: the database stays intact and every
acknowledged submission is there, once, whole (SQLite)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from models.db import make_engine
from tests.factories import full_answers, make_invitation

ROOT = Path(__file__).resolve().parent.parent
# The child submits through the same path as the survey page and prints each id once committed.
CHILD = """
import json, sys
from datetime import UTC, datetime
from models.db import make_engine, session_scope
from survey.collecting.responses import submit
engine = make_engine(sys.argv[1])
answers = json.loads(sys.argv[2])
for invitation_id in json.loads(sys.argv[3]):
    with session_scope(engine) as session:
        submit(session, invitation_id=invitation_id, answers=answers, locale="en", now=datetime.now(UTC))
    print(invitation_id, flush=True)
"""


def test_a_killed_submitter_leaves_every_acknowledged_response_whole(sqlite_url):
    engine = make_engine(sqlite_url)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        ids = [make_invitation(session, now, email=f"p{n}@acme.example")[0].invitation_id for n in range(300)]
    engine.dispose()
    answers = {
        k: v for k, v in full_answers().items() if k not in ("LEADER", "LEADER_OTHER", "CL_SAT", "CL_TRU")
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sqlite_url, json.dumps(answers), json.dumps(ids)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    acknowledged = []
    for line in child.stdout:  # type: ignore[union-attr]
        acknowledged.append(int(line))
        if len(acknowledged) == 40:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    database = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(database.execute("SELECT invitation_id, count(*) FROM response GROUP BY invitation_id"))
        assert all(stored.get(i) == 1 for i in acknowledged)
        # Whatever was stored, acknowledged or cut off just before, is whole: answers and scores.
        incomplete = database.execute(
            "SELECT r.id FROM response r"
            " WHERE (SELECT count(*) FROM answer a WHERE a.response_id = r.id) < 20"
            " OR (SELECT count(*) FROM indicator_score s WHERE s.response_id = r.id) < 6"
        ).fetchall()
        assert incomplete == []
        used = database.execute("SELECT count(*) FROM invitation WHERE completed_at IS NOT NULL").fetchone()[
            0
        ]
        assert used == len(stored)
    finally:
        database.close()
