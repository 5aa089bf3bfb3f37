"""Malformed and hostile files at every import: the CRM import, benchmark figures and
transactional measures. Each is refused with the importer's own error naming row and column,
never another exception, and a refused file leaves the database byte for byte as it was; what
is accepted goes in as plain text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Account, Benchmark, Contact
from survey.benchmarks import COLUMNS as BENCHMARK_COLUMNS
from survey.benchmarks import import_benchmarks
from survey.crm_import import import_rows, parse
from survey.tabular import TableImportError
from survey.transactions import COLUMNS as TRANSACTION_COLUMNS
from survey.transactions import import_transactions
from tests.test_crm_import import HEADER as CRM_HEADER
from tests.test_crm_import import MAPPING as CRM_MAPPING
from tests.test_crm_import import crm_rows
from tests.test_hostile_input import dump

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", '=HYPERLINK("http://x")']

cells = st.one_of(
    st.text(max_size=40),
    st.sampled_from(FORMULAS),
    st.sampled_from(["", " ", "\t", "\r", "\x00", '"', '""', "\n", "2026-Q2", "2026-11-19", "3.7", "1-5"]),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.just("x" * 200_000),  # a field larger than the csv module reads by default
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"])


def as_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


def files(columns: list[str]) -> st.SearchStrategy[bytes]:
    """Files whose header is the importer's own, mangled, or junk, with rows of any cells."""
    header = st.one_of(
        st.just(columns),
        st.permutations(columns),
        st.lists(st.sampled_from([*columns, "extra", "", "Account "]), max_size=len(columns) + 2),
        st.lists(st.text(max_size=12), max_size=6),
    )
    rows = st.lists(st.lists(cells, max_size=len(columns) + 2), max_size=5)
    structured = st.builds(as_bytes, header, rows, encodings)
    return st.one_of(structured, st.binary(max_size=600), st.just(b""), st.just(b"\xef\xbb\xbf"))


@pytest.fixture
def store(sqlite_url):
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        session.add_all([Account(name="Acme Tools", external_id="CRM-1"), Account(name="Bolt Works")])
        session.commit()
    yield engine, sqlite_url
    engine.dispose()


def refused_cleanly(error: TableImportError) -> None:
    assert error.problems, "a refusal names at least one problem"
    for problem in error.problems:
        assert problem.row >= 1
        assert str(problem.column).strip()
        assert problem.message.strip()


def check(store, importing) -> bool:
    """Run one import; True when it went in. A refusal must leave the database as it was."""
    engine, url = store
    before = dump(url)
    with Session(engine) as session:
        try:
            importing(session)
        except TableImportError as error:
            session.rollback()
            refused_cleanly(error)
            assert dump(url) == before
            return False
        session.commit()
    return True


@FUZZ
@given(data=files(CRM_HEADER))
def test_crm_files_are_imported_or_refused_by_row_and_column(store, data):
    def importing(session):
        rows = parse(session, data, CRM_MAPPING, filename="crm.csv")
        import_rows(session, rows, now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30)

    check(store, importing)


@FUZZ
@given(data=files(list(BENCHMARK_COLUMNS)))
def test_benchmark_files_are_imported_or_refused_by_row_and_column(store, data):
    check(store, lambda session: import_benchmarks(session, data))


@FUZZ
@given(data=files(list(TRANSACTION_COLUMNS)))
def test_transaction_files_are_imported_or_refused_by_row_and_column(store, data):
    check(store, lambda session: import_transactions(session, data, "measures.csv"))


@FUZZ
@given(formula=st.sampled_from(FORMULAS), encoding=st.sampled_from(["utf-8", "utf-8-sig"]))
def test_formula_text_in_accepted_files_is_stored_as_plain_text(store, formula, encoding):
    engine, _ = store
    [row] = crm_rows(1)
    unique = f"{FORMULAS.index(formula)}-{encoding}"
    row[CRM_HEADER.index("Activity ID")] = f"ACT-{unique}"
    row[CRM_HEADER.index("Name")] = formula
    row[CRM_HEADER.index("Email")] = f"x{unique}@customer.example"
    data = as_bytes(CRM_HEADER, [row], encoding)
    assert check(store, lambda session: import_rows(
        session, parse(session, data, CRM_MAPPING),
        now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30,
    ))  # fmt: skip
    with Session(engine) as session:
        stored = session.exec(
            select(Contact.name).where(Contact.email == f"x{unique}@customer.example")
        ).one()
    assert stored == formula
    figures = (
        ",".join(BENCHMARK_COLUMNS)
        + f'\nindustry,"{formula.replace(chr(34), chr(34) * 2)}",trust,2026,3.7,1-5,10,,src\n'
    )
    assert check(store, lambda session: import_benchmarks(session, figures.encode(encoding)))
    with Session(engine) as session:
        assert formula in session.exec(select(Benchmark.name)).all()


def test_a_huge_field_is_refused_with_its_row_not_a_crash(store):
    [row] = crm_rows(1)
    row[CRM_HEADER.index("Name")] = "x" * 1_000_000
    engine, _ = store
    with Session(engine) as session, pytest.raises(TableImportError) as refused:
        parse(session, as_bytes(CRM_HEADER, [row], "utf-8"), CRM_MAPPING)
    [problem] = refused.value.problems
    assert (problem.row, problem.column) == (2, "row")
    assert "longer than" in problem.message


def test_a_valid_generated_file_goes_in(store):
    """The fuzzed importers can accept: a well-formed file imports (so the tests can fail)."""
    assert check(store, lambda session: import_rows(
        session, parse(session, as_bytes(CRM_HEADER, crm_rows(3), "utf-8-sig"), CRM_MAPPING),
        now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30,
    ))  # fmt: skip
