"""``python -m survey export`` in a subprocess, as an analyst runs it."""

from datetime import UTC, datetime

import pandas as pd
import pyreadstat
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Account
from tests.factories import respond
from tests.test_cli import run


def seed(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        for number in range(3):
            respond(
                session, now, account=("Acme Tools", "Bolt Works")[number % 2], email=f"p{number}@x.example"
            )
        for account in session.exec(select(Account)).all():
            account.owner = "alex" if account.name == "Acme Tools" else "priya"
            session.add(account)
        session.commit()
    engine.dispose()


def test_export_writes_each_format_with_filters_and_owner(sqlite_url, tmp_path):
    seed(sqlite_url)
    out = tmp_path / "alex.csv"
    result = run("export", "--format", "csv", "--out", str(out), "--owner", "alex", "--bom", url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"2 rows written to {out}")
    assert set(pd.read_csv(out, encoding="utf-8-sig")["account"]) == {"Acme Tools"}
    sav = tmp_path / "all.sav"
    result = run("export", "--format", "sav", "--out", str(sav), "--touchpoint", "delivery",
                 "--start", "2026-11", "--end", "2026-11", url=sqlite_url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    frame, meta = pyreadstat.read_sav(sav)
    assert len(frame) == 3
    assert meta.variable_value_labels["SAT1"][1.0] == "Strongly disagree"
    long = tmp_path / "long.parquet"
    assert run("export", "--format", "parquet", "--out", str(long), "--long", url=sqlite_url).returncode == 0
    assert set(pd.read_parquet(long).columns) >= {"response_id", "item_code", "value"}


def test_export_names_what_is_wrong(sqlite_url, tmp_path):
    seed(sqlite_url)
    out = tmp_path / "r.csv"
    for args, message in (
        (["--start", "November"], "start must be a month as YYYY-MM, not 'November'"),
        (["--touchpoint", "teleport"], "touchpoint 'teleport' does not exist"),
        (["--account", "Nobody Inc"], "account 'Nobody Inc' does not exist"),
        (["--start", "2026-11", "--end", "2026-01"], "start 2026-11 is after end 2026-01"),
    ):
        result = run("export", "--format", "csv", "--out", str(out), *args, url=sqlite_url)
        assert result.returncode != 0
        assert message in result.stderr
    assert not out.exists()


def test_a_command_line_export_is_audited_with_who_ran_it(sqlite_url, tmp_path):
    import getpass

    from models.tables import AuditEvent

    seed(sqlite_url)
    out = tmp_path / "alex.csv"
    assert (
        run("export", "--format", "csv", "--out", str(out), "--owner", "alex", url=sqlite_url).returncode == 0
    )
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).one()
    engine.dispose()
    assert event.actor == f"cli:{getpass.getuser()}"
    assert str(out) in event.detail
    assert "accounts of alex" in event.detail
