"""Importing a CRM export: mapping, row-by-row report, all or nothing, no duplicates, the
rest period between surveys, and the whole path through a real SMTP server."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Account, Contact, Interaction, Invitation
from survey.api.routes import routes
from survey.cli.main import main
from survey.collecting.invitations import LinkState, check_link
from survey.collecting.responses import submit
from survey.imports.crm import guess_mapping, import_rows, parse
from survey.imports.tabular import TableImportError, header_of
from survey.people.apikeys import create_key
from survey.sending.delivery import send_reminders
from survey.sending.mailer import MailSettings
from tests.factories import full_answers
from tests.test_sending import inbox, link_in, parts  # noqa: F401 - inbox is a fixture

HEADER = [
    "Activity ID",
    "Account ID",
    "Account",
    "Segment",
    "Email",
    "Name",
    "Role",
    "Language",
    "Type",
    "Date",
]
MAPPING = {
    "crm_interaction_id": "Activity ID",
    "account_external_id": "Account ID",
    "account_name": "Account",
    "segment": "Segment",
    "contact_email": "Email",
    "contact_name": "Name",
    "contact_role": "Role",
    "contact_language": "Language",
    "touchpoint": "Type",
    "occurred_at": "Date",
}
TOUCHPOINTS = ["sales", "delivery", "service", "onboarding", "renewal"]
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def crm_rows(count: int) -> list[list[str]]:
    rows = []
    for number in range(count):
        account = number % 120
        rows.append([
            f"ACT-{number:05}", f"A-{account:03}", f"Customer {account:03}",
            ("Retail", "Logistics")[account % 2],
            f"person{number}@customer{account}.example", f"Person {number}",
            ("decision_maker", "user", "buyer", "influencer")[number % 4], ("en", "de")[number % 2],
            TOUCHPOINTS[number % 5], (NOW - timedelta(days=number % 10)).strftime("%Y-%m-%d %H:%M"),
        ])  # fmt: skip
    return rows


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def counts(session) -> tuple[int, ...]:
    session.expire_all()
    tables = (Account, Contact, Interaction, Invitation)
    return tuple(session.exec(select(func.count()).select_from(t)).one() for t in tables)


def run_import(session, data: bytes, filename: str = "crm.csv"):
    rows = parse(session, data, MAPPING, filename=filename)
    result = import_rows(session, rows, now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30)
    session.commit()
    return result


def test_500_interactions_go_in_once_and_again_add_nothing(session):
    data = as_csv(crm_rows(500))
    first = run_import(session, data)
    assert (first.interactions_added, len(first.invitations), first.skipped) == (500, 500, [])
    assert counts(session) == (120, 500, 500, 500)
    again = run_import(session, data)
    assert (again.interactions_added, again.already_there, again.invitations) == (0, 500, [])
    assert counts(session) == (120, 500, 500, 500)
    account = session.exec(select(Account).where(Account.external_id == "A-007")).one()
    assert (account.name, account.segment) == ("Customer 007", "Logistics")


def test_an_excel_export_reads_the_same(session):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in crm_rows(20):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    assert run_import(session, buffer.getvalue(), "crm.xlsx").interactions_added == 20


def test_the_mapping_is_guessed_from_matching_names():
    assert guess_mapping(["Account_Name", "contact email", "Touchpoint", "occurred_at", "Notes"]) == {
        "account_name": "account_name",
        "contact_email": "contact email",
        "touchpoint": "touchpoint",
        "occurred_at": "occurred_at",
    }
    assert header_of(as_csv([]))[:2] == ["Activity ID", "Account ID"]


def test_a_file_with_bad_rows_is_refused_whole_naming_row_and_column(session):
    rows = crm_rows(6)
    rows[1][4] = "not-an-email"
    rows[2][8] = "telepathy"
    rows[3][9] = "next tuesday"
    rows[4][0] = rows[0][0]
    with pytest.raises(TableImportError) as refused:
        run_import(session, as_csv(rows))
    assert [(p.row, p.column) for p in refused.value.problems] == [
        (3, "email"), (4, "type"), (5, "date"), (6, "activity id"),
    ]  # fmt: skip
    assert "also in row 2" in str(refused.value)
    assert counts(session) == (0, 0, 0, 0)


def test_a_missing_mapping_or_column_is_named(session):
    with pytest.raises(TableImportError, match="contact_email: no column is mapped"):
        parse(session, as_csv(crm_rows(1)), {k: v for k, v in MAPPING.items() if k != "contact_email"})
    with pytest.raises(TableImportError, match="column is missing"):
        parse(session, as_csv(crm_rows(1)), MAPPING | {"touchpoint": "Kind"})


def test_a_contact_is_not_surveyed_twice_within_the_rest_period(session):
    rows = crm_rows(2)
    rows[1][1:6] = rows[0][1:6]  # the same person, a second interaction
    result = run_import(session, as_csv(rows))
    assert result.interactions_added == 2
    assert len(result.invitations) == 1
    [(row, email, why)] = result.skipped
    assert (row, email) == (3, "person0@customer0.example")
    assert "within the 30-day rest period" in why


def test_from_a_crm_file_and_the_webhook_through_smtp_reminders_go_once(
    app_db,
    inbox,  # noqa: F811
    monkeypatch,
    tmp_path,
    time_machine,
):
    time_machine.move_to(NOW, tick=True)  # the file's interactions are recent at NOW
    monkeypatch.setenv("PULSE_BASE_URL", "http://testserver")
    path = tmp_path / "crm-export.csv"
    path.write_bytes(as_csv(crm_rows(500)))
    maps = [f"--map={ours}={theirs}" for ours, theirs in MAPPING.items()]
    output = (
        CliRunner().invoke(main, ["import-crm", str(path), *maps, "--send"], catch_exceptions=False).output
    )
    assert "500 interaction(s) added" in output
    assert "500 sent" in output
    assert len(inbox.messages) == 500
    german = next(m for m in inbox.messages if m["To"] == "person1@customer1.example")
    assert "Guten Tag Person 1" in parts(german)[0]

    # A respondent answers from the email.
    token = link_in(parts(inbox.messages[0])[0]).split("?t=")[1]
    check = check_link(app_db, token, datetime.now(UTC))
    assert check.state == LinkState.VALID
    submit(
        app_db,
        invitation_id=check.context.invitation_id,
        answers=full_answers(),
        locale="en",
        now=datetime.now(UTC),
    )
    app_db.commit()

    # The webhook replays one of the imported activities: nothing more is sent.
    app = Starlette(routes=routes)
    key = create_key(app_db, "CRM", now=datetime.now(UTC), scopes=["write:interactions"])
    app_db.commit()
    replay = {
        "crm_interaction_id": "ACT-00007",
        "account": {"name": "Customer 007"},
        "contact": {"email": "person7@customer7.example"},
        "touchpoint": "service",
        "occurred_at": "2026-11-20T09:30:00Z",
    }
    answer = TestClient(app).post(
        "/api/v1/interactions", json=replay, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200
    assert len(inbox.messages) == 500

    # A week later one reminder goes to each of the 499 who have not answered, and only once.
    later = datetime.now(UTC) + timedelta(days=6)
    mail = MailSettings.from_env()
    assert (
        len(send_reminders(app_db, now=later, after_days=5, base_url="http://testserver", mail=mail)) == 499
    )
    assert send_reminders(app_db, now=later, after_days=5, base_url="http://testserver", mail=mail) == []
    assert len(inbox.messages) == 999


def test_without_send_the_command_prints_the_links_that_cannot_be_shown_again(app_db, tmp_path, time_machine):
    time_machine.move_to(NOW, tick=True)  # the file's interactions are recent at NOW
    path = tmp_path / "crm-export.csv"
    path.write_bytes(as_csv(crm_rows(3)))
    maps = [f"--map={ours}={theirs}" for ours, theirs in MAPPING.items()]
    result = CliRunner().invoke(main, ["import-crm", str(path), *maps], catch_exceptions=False)
    links = [line.split("\t")[1] for line in result.stdout.splitlines() if line.startswith("invitation #")]
    assert len(links) == 3
    for link in links:
        check = check_link(app_db, link.split("?t=")[1], datetime.now(UTC))
        assert check.state == LinkState.VALID
