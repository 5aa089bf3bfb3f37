"""Importing transactional measures: what each account did in a period (seed 004).

One row per account and period, from a CRM or accounting export (CSV or Excel): the number
of sales transactions, requests for information, positive service events, referrals that
led to a sale, days since the most recent purchase and since the last payment (as at the
end of the period), and the monetary volume. The whole file goes in or nothing does; a row
for an account and period already on file replaces it, so importing again is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from models.tables import Account, TransactionMeasure
from survey.imports.benchmarks import period_bounds
from survey.imports.tabular import MAX_WHOLE, RowProblem, TableImportError, number, read_table, shown

# (column, what it means, lower is better)
MEASURES: dict[str, tuple[str, bool]] = {
    "sales_transactions": ("Sales transactions", False),
    "information_requests": ("Requests for information", False),
    "positive_service_events": ("Positive service events", False),
    "referral_sales": ("Referrals that led to a sale", False),
    "days_since_purchase": ("Days since the most recent purchase", True),
    "days_since_payment": ("Days since the last payment", True),
    "monetary_volume": ("Monetary volume", False),
}
COUNTS = ("sales_transactions", "information_requests", "positive_service_events", "referral_sales")
DAYS = ("days_since_purchase", "days_since_payment")
COLUMNS = ("account", "period", *MEASURES)
TEMPLATE = Path(__file__).resolve().parent / "templates" / "transactions-template.csv"


class TransactionImportError(TableImportError):
    """A transactions file was refused; ``problems`` names each bad row and column."""


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int


def _accounts(session: Session) -> dict[str, int]:
    """Account ids by CRM id and by name, lower-cased (a CRM id wins over a name)."""
    lookup: dict[str, int] = {}
    rows = session.exec(select(Account.id, Account.name, Account.external_id)).all()
    for account_id, name, _ in rows:
        lookup[name.strip().lower()] = account_id or 0
    for account_id, _, external_id in rows:
        if external_id:
            lookup[external_id.strip().lower()] = account_id or 0
    return lookup


def _whole(raw: str) -> int | None:
    value = number(raw)
    if value is None or not value.is_integer() or value < 0:
        return None
    return int(value)


def _too_large(value: int | float | None) -> bool:
    return value is not None and value > MAX_WHOLE


def _parse_row(
    row: int, cells: dict[str, str], accounts: dict[str, int]
) -> TransactionMeasure | list[RowProblem]:
    """One account's period, or every problem of its row."""
    problems: list[RowProblem] = []

    def bad(column: str, message: str) -> None:
        problems.append(RowProblem(row, column, message))

    account_id = accounts.get(cells["account"].lower())
    if not cells["account"]:
        bad("account", "is empty: give the account's name or CRM id")
    elif account_id is None:
        bad("account", f"'{shown(cells['account'])}' is not a known account name or CRM id")
    bounds = period_bounds(cells["period"])
    if bounds is None:
        bad("period", f"'{shown(cells['period'])}' is not a year, quarter or month (2026, 2026-Q2, 2026-05)")
    values: dict[str, int | float | None] = {}
    for column in COUNTS:
        values[column] = _whole(cells[column]) if cells[column] else None
        if values[column] is None:
            bad(column, f"'{shown(cells[column])}' is not a whole number of 0 or more")
        elif _too_large(values[column]):
            bad(column, f"{shown(cells[column])} is larger than {MAX_WHOLE:,}")
    for column in DAYS:
        # Empty means never: an account that has not bought (or paid) yet.
        values[column] = _whole(cells[column]) if cells[column] else None
        if cells[column] and values[column] is None:
            bad(
                column, f"'{shown(cells[column])}' is not a whole number of days (0 or more; empty for never)"
            )
        elif _too_large(values[column]):
            bad(column, f"{shown(cells[column])} is larger than {MAX_WHOLE:,}")
    volume = number(cells["monetary_volume"]) if cells["monetary_volume"] else None
    if volume is None or volume < 0 or volume != volume or volume == float("inf"):
        bad(
            "monetary_volume",
            f"'{shown(cells['monetary_volume'])}' is not an amount of 0 or more (no thousands separators)",
        )
    if problems or account_id is None or bounds is None or volume is None:
        return problems
    return TransactionMeasure(
        account_id=account_id,
        period=cells["period"].upper(),
        period_start=bounds[0],
        period_end=bounds[1],
        monetary_volume=volume,
        imported_at=datetime.now(UTC),
        **values,  # type: ignore[arg-type]  # whole numbers, None only where the column allows it (checked above)
    )


def parse_transactions(
    session: Session, data: bytes, filename: str | None = None
) -> list[TransactionMeasure]:
    """Validate a whole file; raise ``TransactionImportError`` naming each problem."""
    try:
        table = read_table(data, COLUMNS, filename=filename)
    except TableImportError as exc:
        raise TransactionImportError(exc.problems) from exc
    accounts = _accounts(session)
    problems = list(table.problems)
    measures: list[TransactionMeasure] = []
    seen: dict[int, list[tuple[int, TransactionMeasure]]] = {}
    for row, cells in table.rows:
        parsed = _parse_row(row, cells, accounts)
        if isinstance(parsed, list):
            problems += parsed
            continue
        # Two rows covering the same days for one account would count its business twice.
        for other_row, other in seen.get(parsed.account_id, []):
            if parsed.period_start <= other.period_end and other.period_start <= parsed.period_end:
                problems.append(
                    RowProblem(row, "period", f"{parsed.period} overlaps {other.period} of row {other_row}")
                )
                break
        else:
            seen.setdefault(parsed.account_id, []).append((row, parsed))
            measures.append(parsed)
    if problems:
        raise TransactionImportError(sorted(problems, key=lambda problem: problem.row))
    if not measures:
        raise TransactionImportError([RowProblem(2, "file", "has no rows of measures")])
    return measures


def import_transactions(session: Session, data: bytes, filename: str | None = None) -> ImportSummary:
    """Validate, then add or replace each account's period; a re-import creates no duplicates."""
    measures = parse_transactions(session, data, filename)
    existing = {
        (m.account_id, m.period): m
        for m in session.exec(
            select(TransactionMeasure).where(
                TransactionMeasure.account_id.in_({m.account_id for m in measures})  # type: ignore[attr-defined]
            )
        ).all()
    }
    added = updated = 0
    for measure in measures:
        stored = existing.get((measure.account_id, measure.period))
        if stored is None:
            session.add(measure)
            added += 1
            continue
        for column in (*MEASURES, "imported_at"):
            setattr(stored, column, getattr(measure, column))
        session.add(stored)
        updated += 1
    session.flush()
    return ImportSummary(added=added, updated=updated)


def periods(session: Session) -> list[str]:
    """Every period on file, newest first."""
    rows = session.exec(
        select(col(TransactionMeasure.period), col(TransactionMeasure.period_start))
        .distinct()
        .order_by(col(TransactionMeasure.period_start).desc(), col(TransactionMeasure.period))
    ).all()
    return list(dict.fromkeys(period for period, _ in rows))
