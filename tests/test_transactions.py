"""Importing transactional measures: every problem named by row and column, all or nothing."""

import io
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlmodel import Session, func, select

from models.tables import Account, TransactionMeasure
from survey.imports.tabular import read_table
from survey.imports.transactions import (
    COLUMNS,
    TEMPLATE,
    TransactionImportError,
    import_transactions,
    parse_transactions,
    periods,
)

HEADER = ",".join(COLUMNS) + "\n"
GOOD = HEADER + (
    "CRM-1,2026-Q2,14,6,9,1,12,20,48250.50\n"
    "Bolt Works,2026-Q2,0,2,0,0,,,0\n"
    'crm-1,2026-Q3,3,1,1,0,61,45,"9100,5"\n'
)


@pytest.fixture
def accounts(session: Session) -> dict[str, int]:
    acme = Account(name="Acme Tools", external_id="CRM-1", segment="Manufacturing")
    bolt = Account(name="Bolt Works", segment="Logistics")
    session.add_all([acme, bolt])
    session.commit()
    return {"acme": acme.id, "bolt": bolt.id}


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(TransactionMeasure)).one()


def test_a_good_file_is_stored_by_crm_id_or_name(session, accounts):
    summary = import_transactions(session, GOOD.encode())
    session.commit()
    assert (summary.added, summary.updated) == (3, 0)
    rows = session.exec(select(TransactionMeasure).order_by(TransactionMeasure.id)).all()
    q2, bolt, q3 = rows
    assert (q2.account_id, q2.period, q2.period_start, q2.period_end) == (
        accounts["acme"], "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)
    )  # fmt: skip
    assert (q2.sales_transactions, q2.referral_sales, q2.days_since_purchase) == (14, 1, 12)
    assert q2.monetary_volume == 48250.5
    assert bolt.account_id == accounts["bolt"]
    assert (bolt.days_since_purchase, bolt.days_since_payment) == (None, None)  # never bought
    assert q3.monetary_volume == 9100.5  # a decimal comma
    assert periods(session) == ["2026-Q3", "2026-Q2"]


def test_importing_again_replaces_instead_of_duplicating(session, accounts):
    import_transactions(session, GOOD.encode())
    session.commit()
    again = import_transactions(session, GOOD.replace(",14,6,", ",15,6,").encode())
    session.commit()
    assert (again.added, again.updated) == (0, 3)
    assert count(session) == 3
    assert session.exec(select(func.sum(TransactionMeasure.sales_transactions))).one() == 15 + 0 + 3


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("Globex,2026-Q2,1,1,1,1,1,1,1", "account: 'Globex' is not a known account name or CRM id"),
        (",2026-Q2,1,1,1,1,1,1,1", "account: is empty"),
        ("Bolt Works,Q2 2026,1,1,1,1,1,1,1", "period: 'Q2 2026' is not a year, quarter or month"),
        (
            "Bolt Works,2026-Q1,1.5,1,1,1,1,1,1",
            "sales_transactions: '1.5' is not a whole number of 0 or more",
        ),
        ("Bolt Works,2026-Q1,1,-1,1,1,1,1,1", "information_requests: '-1' is not a whole number"),
        ("Bolt Works,2026-Q1,1,1,,1,1,1,1", "positive_service_events: '' is not a whole number"),
        ("Bolt Works,2026-Q1,1,1,1,many,1,1,1", "referral_sales: 'many' is not a whole number"),
        ("Bolt Works,2026-Q1,1,1,1,1,soon,1,1", "days_since_purchase: 'soon' is not a whole number of days"),
        ("Bolt Works,2026-Q1,1,1,1,1,1,-2,1", "days_since_payment: '-2' is not a whole number of days"),
        ('Bolt Works,2026-Q1,1,1,1,1,1,1,"1,234.50"', "monetary_volume: '1,234.50' is not an amount"),
        ("Bolt Works,2026-Q1,1,1,1,1,1,1,-5", "monetary_volume: '-5' is not an amount of 0 or more"),
        ("Bolt Works,2026-Q1,1,1,1,1,1,1,nan", "monetary_volume: 'nan' is not an amount"),
        ("Bolt Works,2026,1,1,1,1,1,1,1", "period: 2026 overlaps 2026-Q2 of row 3"),
        ("Bolt Works,2026-Q1,1,1,1,1,1,1,1,extra", "row: has more cells than the header"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_imported(session, accounts, row, problem):
    with pytest.raises(TransactionImportError) as raised:
        import_transactions(session, (GOOD + row + "\n").encode())
    assert f"row 5, {problem}" in str(raised.value)
    session.rollback()
    assert count(session) == 0


def test_every_problem_of_a_file_is_listed_in_row_order(session, accounts):
    data = HEADER + "Globex,2026-Q2,1,1,1,1,1,1,1\nBolt Works,2026-Q2,x,1,1,1,1,1,-1\n"
    with pytest.raises(TransactionImportError) as raised:
        parse_transactions(session, data.encode())
    assert [(p.row, p.column) for p in raised.value.problems] == [
        (2, "account"),
        (3, "sales_transactions"),
        (3, "monetary_volume"),
    ]


def test_missing_columns_wrong_encoding_and_empty_files_are_named(session, accounts):
    with pytest.raises(TransactionImportError, match="row 1, monetary_volume: column is missing"):
        parse_transactions(session, HEADER.replace(",monetary_volume", "").encode())
    with pytest.raises(TransactionImportError, match="not UTF-8 text"):
        parse_transactions(session, GOOD.replace("Bolt Works", "Bölt").encode("latin-1"))
    with pytest.raises(TransactionImportError, match="row 2, file: has no rows of measures"):
        parse_transactions(session, HEADER.encode())
    with pytest.raises(TransactionImportError, match="not a readable Excel"):
        parse_transactions(session, b"PK\x03\x04 not really a workbook", "measures.xlsx")


def test_an_excel_workbook_is_read_like_the_csv(session, accounts):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([name.upper() for name in COLUMNS])  # header case does not matter
    sheet.append(["CRM-1", "2026-Q2", 14, 6, 9, 1, 12, 20, 48250.5])
    sheet.append(["Bolt Works", 2026, 0, 2, 0, 0, None, None, 0])
    sheet.append([None] * len(COLUMNS))  # a formatted but empty row
    buffer = io.BytesIO()
    workbook.save(buffer)
    summary = import_transactions(session, buffer.getvalue(), "measures.xlsx")
    session.commit()
    assert summary.added == 2
    stored = {m.period: m for m in session.exec(select(TransactionMeasure)).all()}
    assert stored["2026-Q2"].sales_transactions == 14
    assert stored["2026"].period_end == date(2026, 12, 31)


def test_the_template_imports_into_the_demo_accounts(session):
    session.add_all(
        [
            Account(name="Keller Industrial Group", external_id="CRM-1000"),
            Account(name="Aurora Health", external_id="CRM-1001"),
        ]
    )
    session.commit()
    assert import_transactions(session, TEMPLATE.read_bytes()).added == 3


def test_formula_text_stays_text():
    table = read_table(b'account,period\n"=HYPERLINK(""x"")",2026\n', ("account", "period"))
    assert table.rows == [(2, {"account": '=HYPERLINK("x")', "period": "2026"})]


# Any text in a count or volume cell that is not a plain non-negative number is refused,
# named by its row and column, and nothing is stored.
_not_a_count = st.text(max_size=8).filter(
    lambda text: text.strip() != "" and not (text.strip().replace(",", ".").replace(".0", "", 1).isdigit())
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cell=_not_a_count,
    column=st.sampled_from(["sales_transactions", "information_requests", "referral_sales"]),
    position=st.integers(min_value=0, max_value=2),
)
def test_malformed_counts_are_always_refused_with_row_and_column(session, accounts, cell, column, position):
    good_rows = GOOD.splitlines()[1:]
    index = COLUMNS.index(column)
    cells = good_rows[position].split(",", len(COLUMNS) - 1)
    quoted = '"' + cell.replace('"', '""') + '"'
    cells[index] = quoted
    good_rows[position] = ",".join(cells)
    data = (HEADER + "\n".join(good_rows) + "\n").encode()
    try:
        float(cell.strip().replace(",", "."))
        as_number = float(cell.strip().replace(",", "."))
        if as_number >= 0 and as_number == int(as_number):
            return  # a whole number after all (e.g. "1e3"): not malformed
    except (ValueError, OverflowError):
        pass
    with pytest.raises(TransactionImportError) as raised:
        import_transactions(session, data)
    session.rollback()
    assert any(p.row == position + 2 and p.column == column for p in raised.value.problems), raised.value
    assert count(session) == 0
