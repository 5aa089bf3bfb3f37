"""Accounts, contacts and interactions from a CRM export (CSV or Excel), with a column
mapping, a preview and a row-by-row report. The whole file goes in, or nothing does.

Importing the same file again adds nothing: interactions are matched on the CRM's
interaction id, accounts on their CRM id (else the name), contacts on their email.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

from sqlmodel import Session, select

from models.tables import CONTACT_ROLES, Interaction
from survey.collecting.invitations import InviteError, invite_recorded, record_interaction
from survey.imports.tabular import RowProblem, TableImportError, read_table
from survey.instrument.touchpoints import find_touchpoint
from survey.sending.rules import not_invited_because, surveyed_recently

__all__ = ["FIELDS", "CrmRow", "ImportResult", "guess_mapping", "import_rows", "parse", "surveyed_recently"]
from survey.sending.delivery import invitation_message
from survey.sending.headers import contact_problems
from survey.sending.mailer import MailSettings

# Our fields, and whether a file must have them.
FIELDS: dict[str, bool] = {
    "crm_interaction_id": False,
    "account_external_id": False,
    "account_name": True,
    "segment": False,
    "owner": False,
    "contact_email": True,
    "contact_name": False,
    "contact_role": False,
    "contact_language": False,
    "touchpoint": True,
    "occurred_at": True,
}
LANGUAGES = ("en", "de")


def guess_mapping(header: list[str]) -> dict[str, str]:
    """Our field -> the file's column, where a column is named like the field."""
    names = {name.strip().lower().replace(" ", "_"): name.strip().lower() for name in header}
    return {ours: names[ours] for ours in FIELDS if ours in names}


@dataclass(frozen=True)
class CrmRow:
    row: int
    crm_interaction_id: str | None
    account_external_id: str | None
    account_name: str
    segment: str
    owner: str
    contact_email: str
    contact_name: str
    contact_role: str
    contact_language: str
    touchpoint: str
    occurred_at: datetime


def _when(raw: str) -> datetime | None:
    """ISO date or date-time; without a time zone it is taken as UTC (CRM exports often omit it)."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None
        moment = datetime(day.year, day.month, day.day)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # it is stored in UTC: 0001-01-01T00:00+05:00 has no UTC time
    except OverflowError:
        return None
    return moment


def parse(
    session: Session, data: bytes, mapping: Mapping[str, str], *, filename: str | None = None
) -> list[CrmRow]:
    """Every row checked; raises ``TableImportError`` naming each bad row and column."""
    missing = [ours for ours, required in FIELDS.items() if required and not mapping.get(ours)]
    if missing:
        raise TableImportError([RowProblem(1, ours, "no column is mapped to this field") for ours in missing])
    theirs = {ours: mapping[ours].strip().lower() for ours in FIELDS if mapping.get(ours)}
    required = tuple(theirs[ours] for ours, needed in FIELDS.items() if needed)
    optional = tuple(name for ours, name in theirs.items() if not FIELDS[ours])
    table = read_table(data, required, filename=filename, optional=optional)
    problems = list(table.problems)
    rows: list[CrmRow] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        value = {ours: cells.get(name, "") for ours, name in theirs.items()}
        bad = len(problems)

        def refuse(ours: str, message: str, number: int = number, first: int = bad) -> None:
            column = theirs.get(ours, ours)
            # One problem per cell: the first found says enough.
            if not any(p.row == number and p.column == column for p in problems[first:]):
                problems.append(RowProblem(number, column, message))

        for ours, needed in FIELDS.items():
            if needed and not value.get(ours):
                refuse(ours, "is empty")
        email = value.get("contact_email", "").lower()
        # What the invitation's mail could not carry, named here rather than failing half-sent.
        for field_name, problem in contact_problems(
            account_name=value.get("account_name", ""),
            contact_email=email or None,
            contact_name=value.get("contact_name", ""),
        ):
            refuse(field_name.replace(".", "_"), problem)
        # The columns' own lengths: PostgreSQL refuses longer text where SQLite would keep it.
        lengths = (
            ("account_name", 200),
            ("account_external_id", 100),
            ("contact_email", 320),
            ("contact_name", 200),
            ("segment", 100),
            ("owner", 200),
        )
        for ours, limit in lengths:
            if len(value.get(ours, "")) > limit:
                refuse(ours, f"is longer than {limit} characters")
        role = value.get("contact_role", "")
        if role and role not in CONTACT_ROLES:
            refuse("contact_role", f"'{role[:40]}' is not one of {', '.join(CONTACT_ROLES)}")
        language = value.get("contact_language", "")
        if language and language not in LANGUAGES:
            refuse("contact_language", f"'{language[:20]}' is not one of {', '.join(LANGUAGES)}")
        touchpoint = value.get("touchpoint", "")
        if touchpoint and find_touchpoint(session, touchpoint) is None:
            refuse("touchpoint", f"unknown touchpoint '{touchpoint[:60]}'")
        occurred = _when(value.get("occurred_at", "")) if value.get("occurred_at") else None
        if value.get("occurred_at") and occurred is None:
            refuse(
                "occurred_at",
                f"'{value['occurred_at'][:40]}' is not a date (use 2026-11-20 or 2026-11-20T09:30)",
            )
        crm_id = value.get("crm_interaction_id") or None
        if crm_id and len(crm_id) > 100:
            refuse("crm_interaction_id", "is longer than 100 characters")
        elif crm_id and crm_id in seen:
            refuse("crm_interaction_id", f"'{crm_id}' appears twice (also in row {seen[crm_id]})")
        elif crm_id:
            seen[crm_id] = number
        if len(problems) == bad and occurred is not None:
            rows.append(
                CrmRow(
                    row=number,
                    crm_interaction_id=crm_id,
                    account_external_id=value.get("account_external_id") or None,
                    account_name=value["account_name"],
                    segment=value.get("segment", ""),
                    owner=value.get("owner", ""),
                    contact_email=email,
                    contact_name=value.get("contact_name", ""),
                    contact_role=role,
                    contact_language=language or "en",
                    touchpoint=touchpoint,
                    occurred_at=occurred,
                )
            )
    if problems:
        raise TableImportError(sorted(problems, key=lambda p: p.row))
    if not rows:
        raise TableImportError([RowProblem(2, "file", "has no rows of interactions")])
    return rows


@dataclass
class ImportResult:
    interactions_added: int = 0
    already_there: int = 0
    created: list[str] = field(default_factory=list)
    # (invitation id, link): links exist only here, to send or show; only their hashes are stored.
    invitations: list[tuple[int, str]] = field(default_factory=list)
    # Each invitation's mail, built before the import commits (see ``send_all``).
    messages: dict[int, EmailMessage] = field(default_factory=dict)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)  # row, email, why


def import_rows(
    session: Session,
    rows: list[CrmRow],
    *,
    now: datetime,
    base_url: str,
    valid_days: int,
    fatigue_days: int,
    invite_within_days: int = 30,
    mail: MailSettings | None = None,
) -> ImportResult:
    """Store the rows in the caller's transaction and invite each new interaction's contact,
    except contacts surveyed within ``fatigue_days`` and interactions older than
    ``invite_within_days`` (feedback is asked close in time, or not at all)."""
    result = ImportResult()
    for row in rows:
        if (
            row.crm_interaction_id
            and session.exec(
                select(Interaction.id).where(Interaction.external_id == row.crm_interaction_id)
            ).first()
        ):
            result.already_there += 1
            continue
        try:
            recorded = record_interaction(
                session,
                account_name=row.account_name,
                account_external_id=row.account_external_id,
                segment=row.segment,
                owner=row.owner,
                contact_email=row.contact_email,
                contact_name=row.contact_name,
                contact_role=row.contact_role or None,
                language=row.contact_language,
                touchpoint=row.touchpoint,
                occurred_at=row.occurred_at,
                interaction_external_id=row.crm_interaction_id,
                now=now,
            )
        except InviteError as error:
            raise TableImportError([RowProblem(row.row, error.field, str(error))]) from error
        result.interactions_added += 1
        result.created += [
            entry for entry in recorded.created if not entry.endswith(f"#{recorded.interaction.id}")
        ]
        if row.occurred_at < now - timedelta(days=invite_within_days):
            result.skipped.append(
                (row.row, row.contact_email, f"the interaction is older than {invite_within_days} days")
            )
            continue
        reason = not_invited_because(session, recorded.contact, now, fatigue_days)
        if reason is not None:
            result.skipped.append((row.row, row.contact_email, reason))
            continue
        invited = invite_recorded(session, recorded, now=now, base_url=base_url, valid_days=valid_days)
        result.invitations.append((invited.invitation_id, invited.link))
        result.messages[invited.invitation_id] = invitation_message(
            session, invited.invitation_id, invited.link, mail=mail or MailSettings.from_env()
        )
    return result
