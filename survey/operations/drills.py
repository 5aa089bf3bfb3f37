"""Concurrency drills: many respondents, one link raced, and CRM clients posting at once.

Each drill runs against a database of its own and reports an ``Outcome``: what was sent,
what was stored, duplicates, errors and the times taken. ``python -m bench.load`` runs them
at full size and prints their lines; the test suite runs them small and checks that nothing
is lost and nothing is stored twice.

* ``respondents``: clients each open their own link, save two drafts and submit, all at once;
* ``write_transactions``: submits one after another, each timed from its first write to its commit;
* ``race``: one link submitted by several threads at the same instant;
* ``webhook``: CRM clients posting interactions to running servers (``servers``), every CRM
  id replayed concurrently.
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from models.db import make_engine
from models.tables import Interaction, Invitation, Response
from survey.collecting.invitations import check_link, invite
from survey.collecting.responses import AlreadySubmitted, save_draft, submit
from survey.operations.startup import prepare_database
from survey.people.apikeys import create_key
from survey.sending.mailer import SECRETS_FILE, _secrets_section

ANSWERS = {
    **{f"SAT{i}": 6 for i in range(1, 5)}, **{f"TRU{i}": 5 for i in range(1, 6)},
    **{f"CTL{i}": 4 for i in range(1, 5)}, **{f"COM{i}": 6 for i in range(1, 5)},
    **{f"MIN{i}": 5 for i in range(1, 4)}, **{f"WOM{i}": 6 for i in range(1, 5)},
    "NPS": 9, "LEADER": "none", "VALUE_LEVEL": 3, "MOMENT": "as_expected", "COMMENT": "fine",
}  # fmt: skip


@dataclass
class Outcome:
    name: str
    clients: int
    sent: int
    stored: int
    errors: int
    times_ms: list[float]
    extra_rows: int | None = None  # rows beyond one per item sent, where counted directly
    lost: int | None = None  # webhook: CRM ids left without an invitation
    wall: float | None = None  # seconds from the first request to the last answer
    problems: list[str] = field(default_factory=list)  # what makes the run fail, in words

    @property
    def duplicates(self) -> int:
        return self.extra_rows if self.extra_rows is not None else max(0, self.stored - self.sent)

    @property
    def p99(self) -> float:
        ordered = sorted(self.times_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def line(self, extra: str = "") -> str:
        ordered = sorted(self.times_ms) or [0.0]
        if self.wall:
            per_s = len(self.times_ms) / self.wall
        else:
            wall = sum(self.times_ms) / 1000 / max(1, self.clients)
            per_s = self.stored / wall if wall else 0.0
        if self.lost is not None:
            extra = f" lost_invitations={self.lost}{extra}"
        return (
            f"case={self.name} clients={self.clients} sent={self.sent} stored={self.stored} "
            f"duplicates={self.duplicates} errors={self.errors} p50_ms={statistics.median(ordered):.1f} "
            f"p99_ms={self.p99:.1f} per_s={per_s:.1f}{extra}"
        )


def links(engine: Engine, count: int, prefix: str) -> list[str]:
    now = datetime.now(UTC)
    tokens = []
    with Session(engine, expire_on_commit=False) as session:
        for number in range(count):
            result = invite(
                session, account_name=f"{prefix} account {number % 8}",
                contact_email=f"{prefix}{number}@load.example",
                touchpoint="delivery", now=now, base_url="http://load", valid_days=14,
            )  # fmt: skip
            tokens.append(result.link.split("?t=")[1])
        session.commit()
    return tokens


def opened(session: Session, token: str) -> int:
    """The invitation a fresh link opens."""
    context = check_link(session, token, datetime.now(UTC)).context
    if context is None:
        raise RuntimeError("a link just created does not open its survey")
    return context.invitation_id


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Response)).one())


def respondents(engine: Engine, clients: int, name: str, think_s: float = 0.0) -> Outcome:
    """``think_s``: each respondent pauses a random 0..think_s seconds before each save."""
    tokens = links(engine, clients, name)
    pauses = [random.Random(number) for number in range(clients)]
    before = stored(engine)
    start = threading.Barrier(clients)
    times: list[float] = []
    errors: list[str] = []

    def respondent(token: str, pause: random.Random) -> None:
        try:
            with Session(engine) as session:
                invitation_id = opened(session, token)
            start.wait()
            for step, part in enumerate((dict(list(ANSWERS.items())[:8]), dict(list(ANSWERS.items())[:20]))):
                time.sleep(pause.uniform(0, think_s))
                with Session(engine) as session:
                    save_draft(session, invitation_id=invitation_id, answers=part, step=step, locale="en",
                               now=datetime.now(UTC))  # fmt: skip
                    session.commit()
            time.sleep(pause.uniform(0, think_s))
            began = time.perf_counter()
            with Session(engine) as session:
                submit(
                    session, invitation_id=invitation_id, answers=ANSWERS, locale="en", now=datetime.now(UTC)
                )
                session.commit()
            times.append((time.perf_counter() - began) * 1000)
        except Exception as error:  # every failure counts, whatever its kind
            errors.append(type(error).__name__)

    threads = [threading.Thread(target=respondent, args=pair) for pair in zip(tokens, pauses, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome(name, clients, clients, stored(engine) - before, len(errors), times)


def write_transactions(engine: Engine, count: int, name: str = "submit-write") -> Outcome:
    """``count`` submits one after another, each timed from its first write to its commit."""
    tokens = links(engine, count, name)
    before = stored(engine)
    first_write: dict[str, float] = {}

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            first_write.setdefault("at", time.perf_counter())

    times: list[float] = []
    errors = 0
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        for token in tokens:
            try:
                with Session(engine) as session:
                    invitation_id = opened(session, token)
                    save_draft(session, invitation_id=invitation_id, answers=dict(list(ANSWERS.items())[:8]),
                               step=0, locale="en", now=datetime.now(UTC))  # fmt: skip
                    session.commit()
                first_write.clear()
                with Session(engine) as session:
                    submit(session, invitation_id=invitation_id, answers=ANSWERS, locale="en",
                           now=datetime.now(UTC))  # fmt: skip
                    session.commit()
                times.append((time.perf_counter() - first_write["at"]) * 1000)
            except Exception:  # every failure counts, whatever its kind
                errors += 1
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return Outcome(name, 1, count, stored(engine) - before, errors, times)


def race(engine: Engine, threads_count: int = 10) -> Outcome:
    [token] = links(engine, 1, "race")
    with Session(engine) as session:
        invitation_id = opened(session, token)
    before = stored(engine)
    start = threading.Barrier(threads_count)
    times: list[float] = []
    errors: list[str] = []

    def submitter() -> None:
        start.wait()
        began = time.perf_counter()
        try:
            with Session(engine) as session:
                submit(
                    session, invitation_id=invitation_id, answers=ANSWERS, locale="en", now=datetime.now(UTC)
                )
                session.commit()
        except AlreadySubmitted:
            pass  # the expected answer for all but one
        except Exception as error:  # anything else is a failure
            errors.append(type(error).__name__)
        times.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=submitter) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Outcome("race", threads_count, 1, stored(engine) - before, len(errors), times)


# ---- the webhook, against running servers ----------------------------------------------

ROOT = Path(__file__).resolve().parents[2]  # where server.py is
# Where DROP and CREATE DATABASE are sent: the server's own maintenance database, else the
# one the test suite uses.
POSTGRES_ADMIN_DATABASES = ("postgres", "test")


def free_ports(count: int) -> list[int]:
    """``count`` different ports that are free now."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def servers(url: str, count: int, folder: Path) -> Iterator[list[str]]:
    """``count`` app servers (``streamlit run server.py``) on one database; yields their URLs.
    Invitations go to an outbox folder under ``folder``, never to a mail server."""
    if _secrets_section(SECRETS_FILE).get("host"):
        raise RuntimeError(f"{SECRETS_FILE} names an SMTP server: the webhook cases would send mail")
    processes: list[subprocess.Popen] = []
    bases: list[str] = []
    logs: list[Path] = []
    env = {name: value for name, value in os.environ.items() if not name.startswith("PULSE_SMTP")}
    try:
        for port in free_ports(count):
            base = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
                       "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
            server_env = env | {"DATABASE_URL": url, "PULSE_BASE_URL": base, "PULSE_DEMO_DATA": "0",
                                "PULSE_OUTBOX": str(folder / f"outbox-{port}")}  # fmt: skip
            log = folder / f"server-{port}.log"
            with log.open("wb") as output:
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=server_env, stdout=output, stderr=subprocess.STDOUT
                    )
                )
            bases.append(base)
            logs.append(log)
        deadline = time.monotonic() + 120
        for base, process, log in zip(bases, processes, logs, strict=True):
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the server at {base} did not start:\n{_tail(log)}")
                time.sleep(0.3)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def webhook(engine: Engine, bases: list[str], name: str, clients: int = 16, rounds: int = 8) -> Outcome:
    """``clients`` CRM clients post interactions in ``rounds``, all in the same instant each round.

    Clients 2k and 2k+1 post the same CRM id (an odd last client joins the last pair), to
    different servers when there are several, so every id is replayed concurrently. The ids
    of a round belong to two accounts new in that round, so each new account is also created
    by several CRM ids at once. Each id has its own contact, so each must end with exactly one
    interaction and one invitation, and every answer for it must name that invitation."""
    if clients < 2:
        raise ValueError("the webhook case needs at least two clients")
    with Session(engine) as session:
        key = create_key(session, f"load {name}", now=datetime.now(UTC), scopes=["write:interactions"])
        session.commit()
    prefix = f"{name}-{time.time_ns()}"
    per_round = clients // 2
    start = threading.Barrier(clients)
    times: list[float] = []
    failures: list[str] = []
    answers: dict[str, list[tuple[str, int | None]]] = defaultdict(list)  # CRM id: (status, invitation)

    def body(crm_id: str, round_number: int, number: int) -> dict:
        account = f"{prefix}-A{round_number}-{number % 2}"
        return {
            "crm_interaction_id": crm_id,
            "account": {"external_id": account, "name": f"{account} account"},
            "contact": {"email": f"{crm_id.lower()}@load.example", "role": "user", "language": "en"},
            "touchpoint": "delivery",
            "occurred_at": datetime.now(UTC).isoformat(),
        }

    def client(number: int) -> None:
        base = bases[number % len(bases)]
        pair = min(number // 2, per_round - 1)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            for round_number in range(rounds):
                crm_id = f"{prefix}-{round_number * per_round + pair:05}"
                try:
                    start.wait(timeout=300)
                except threading.BrokenBarrierError:
                    failures.append("BrokenBarrierError")
                    return
                began = time.perf_counter()
                try:
                    answer = http.post("/api/v1/interactions", json=body(crm_id, round_number, pair))
                    if 200 <= answer.status_code < 300:
                        data = answer.json()
                        answers[crm_id].append((data["status"], data["invitation_id"]))
                    else:
                        failures.append(f"HTTP {answer.status_code}")
                except Exception as error:  # every failure counts, whatever its kind
                    failures.append(type(error).__name__)
                times.append((time.perf_counter() - began) * 1000)

    def guarded(number: int) -> None:
        try:
            client(number)
        except Exception as error:  # a client that cannot go on must not leave the others waiting
            failures.append(type(error).__name__)
            start.abort()

    began = time.perf_counter()
    threads = [threading.Thread(target=guarded, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    sent_ids = {f"{prefix}-{number:05}" for number in range(rounds * per_round)}
    with Session(engine) as session:
        rows = session.exec(
            select(Interaction.external_id, Invitation.id)
            .outerjoin(Invitation, col(Invitation.interaction_id) == Interaction.id)
            .where(col(Interaction.external_id).startswith(f"{prefix}-"))
        ).all()
        interactions = session.exec(
            select(func.count())
            .select_from(Interaction)
            .where(col(Interaction.external_id).startswith(f"{prefix}-"))
        ).one()
    invitations: dict[str, set[int]] = defaultdict(set)
    for crm_id, invitation_id in rows:
        invitations[crm_id or ""].update([invitation_id] if invitation_id is not None else [])
    extra = (interactions - len(invitations)) + sum(max(0, len(found) - 1) for found in invitations.values())
    lost = sum(1 for crm_id in sent_ids if not invitations.get(crm_id))
    outcome = Outcome(name, clients, len(sent_ids), int(interactions), len(failures), times)
    outcome.extra_rows = extra
    outcome.lost = lost
    outcome.wall = wall
    if failures:
        outcome.problems.append("errors: " + ", ".join(sorted(set(failures))))
    wrong = [crm_id for crm_id in sorted(sent_ids) if len(invitations.get(crm_id, ())) != 1]
    if wrong:
        outcome.problems.append(f"{len(wrong)} CRM ids without exactly one invitation, e.g. {wrong[0]}")
    # Exactly one answer created the invitation; every other one names it as existing.
    disagreeing = [
        crm_id
        for crm_id in sorted(sent_ids)
        if [status for status, _ in answers[crm_id]].count("created") != 1
        or {invitation for _, invitation in answers[crm_id]} != invitations.get(crm_id)
    ]
    if disagreeing and not failures:
        outcome.problems.append(
            f"{len(disagreeing)} CRM ids whose answers disagree with the database, "
            f"e.g. {disagreeing[0]}: {answers[disagreeing[0]]}"
        )
    return outcome


def fresh_postgres(url: str) -> Engine:
    """The database ``url`` names, dropped and created again, then migrated."""
    parsed = make_url(url)
    for number, database in enumerate(POSTGRES_ADMIN_DATABASES, start=1):
        admin = create_engine(parsed.set(database=database), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
            break
        except OperationalError:
            if number == len(POSTGRES_ADMIN_DATABASES):
                raise
        finally:
            admin.dispose()
    engine = make_engine(url)
    prepare_database(engine)
    return engine


def fresh_sqlite(folder: Path, name: str, naive: bool = False) -> Engine:
    url = f"sqlite:///{folder / name}"
    preparing = make_engine(url)
    prepare_database(preparing)
    preparing.dispose()
    # The naive engine keeps SQLite's defaults: rollback journal, no busy timeout.
    return create_engine(url, connect_args={"timeout": 0}) if naive else make_engine(url)
