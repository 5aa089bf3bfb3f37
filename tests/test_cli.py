"""The command line, run as a newcomer would: ``python -m survey ...`` in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import Account, Invitation
from survey.collecting.tokens import hash_token

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": url, "PULSE_BASE_URL": "https://pulse.example"}
    return subprocess.run(
        [sys.executable, "-m", "survey", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [[], ["invite"], ["demo"], ["migrate"], ["import-transactions"]])
def test_every_command_has_help(command, sqlite_url):
    result = run(*command, "--help", url=sqlite_url)
    assert result.returncode == 0
    assert "Usage: python -m survey" in result.stdout


def test_invite_prints_a_working_link_last(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'pulse.db'}"  # a database that does not exist yet
    result = run("invite", "--account", "Nordwind AG", "--contact", "eva@nordwind.example", "--touchpoint",
                 "Service call", "--language", "de", url=url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "created account 'Nordwind AG'"
    link = lines[-1]
    assert link.startswith("https://pulse.example/?t=")
    token = link.split("?t=")[1]
    engine = make_engine(url)
    with Session(engine) as session:
        invitation = session.exec(select(Invitation)).one()
        assert invitation.token_hash == hash_token(token)
    engine.dispose()


def test_invite_with_an_unknown_touchpoint_fails_clearly_and_creates_nothing(sqlite_url):
    result = run(
        "invite", "--account", "X", "--contact", "a@x.example", "--touchpoint", "lunch", url=sqlite_url
    )
    assert result.returncode == 1
    assert "unknown touchpoint 'lunch'" in result.stderr
    assert "Traceback" not in result.stderr
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Account)).one() == 0
    engine.dispose()


def test_demo_fills_an_empty_database_once(sqlite_url):
    first = run("demo", url=sqlite_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("demo data: 40 accounts")
    second = run("demo", url=sqlite_url)
    assert second.returncode == 1
    assert "already has accounts" in second.stderr


def test_import_transactions_names_each_problem_and_imports_all_or_nothing(sqlite_url, tmp_path):
    from models.tables import TransactionMeasure

    run("invite", "--account", "Nordwind AG", "--contact", "eva@nordwind.example", "--touchpoint", "sales",
        url=sqlite_url)  # fmt: skip
    header = "account,period,sales_transactions,information_requests,positive_service_events,referral_sales,"
    header += "days_since_purchase,days_since_payment,monetary_volume\n"
    good = tmp_path / "measures.csv"
    good.write_text(header + "Nordwind AG,2026-Q3,4,2,1,0,12,20,5200\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "Nordwind AG,2026-Q2,4,2,1,0,12,20,5200\nNordwind AG,2026-Q3,four,2,1,0,12,20,5200\n"
    )
    refused = run("import-transactions", str(bad), url=sqlite_url)
    assert refused.returncode == 1
    assert "row 3, sales_transactions: 'four' is not a whole number of 0 or more" in refused.stderr
    assert "bad.csv was not imported: 1 problem(s)" in refused.stderr
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TransactionMeasure)).one() == 0
    first = run("import-transactions", str(good), url=sqlite_url)
    assert first.stdout.strip() == "imported measures.csv: 1 added, 0 updated"
    again = run("import-transactions", str(good), url=sqlite_url)
    assert again.stdout.strip() == "imported measures.csv: 0 added, 1 updated"
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(TransactionMeasure)).one() == 1
    engine.dispose()
