"""Malformed and hostile files at every import: CRM exports, benchmark figures and transactional
measures, as CSV and as Excel.

A file goes in whole, or it is refused with the importer's own error, whose message names each
bad row and column, and the database is then byte for byte as it was (SQLite dumps compared).
Never another exception, never a traceback. What a valid file holds goes in, and text that
looks like a spreadsheet formula is stored as the plain text it was."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from models.db import make_engine
from models.tables import CONTACT_ROLES, Account, Benchmark, Contact, Interaction, TransactionMeasure
from survey.imports.benchmarks import COLUMNS as BENCHMARK_COLUMNS
from survey.imports.benchmarks import KINDS, BenchmarkImportError, import_benchmarks
from survey.imports.crm import FIELDS, guess_mapping, import_rows, parse
from survey.imports.tabular import MAX_WHOLE, TableImportError, header_of
from survey.imports.transactions import COLUMNS as TRANSACTION_COLUMNS
from survey.imports.transactions import COUNTS, DAYS, MEASURES, TransactionImportError, import_transactions
from survey.instrument.definition import load_instrument
from survey.instrument.touchpoints import DEFAULT_TOUCHPOINTS
from tests.test_hostile_input import dump

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FEW = settings(FUZZ, max_examples=20)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
LONGEST_MESSAGE = 300

FORMULAS = (
    "=cmd|' /C calc'!A0",
    "=2+5+cmd|' /C calc'!A0",
    '=HYPERLINK("http://x.example","click")',
    "=1+1",
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
)


# --- The importers, called as their pages call them -------------------------------------------


def import_crm(session: Session, data: bytes, filename: str | None) -> object:
    """As the Send surveys page: read the header, guess the mapping, check every row, import."""
    mapping = guess_mapping(header_of(data, filename=filename))
    rows = parse(session, data, mapping, filename=filename)
    return import_rows(session, rows, now=NOW, base_url="http://testserver", valid_days=14, fatigue_days=30)


@dataclass(frozen=True)
class Importer:
    name: str
    columns: tuple[str, ...]  # a complete file's header
    required: tuple[str, ...]
    refusal: type[TableImportError]
    run: Callable[[Session, bytes, str | None], object]

    def __str__(self) -> str:
        return self.name


CRM = Importer(
    "crm", tuple(FIELDS), tuple(f for f, needed in FIELDS.items() if needed), TableImportError, import_crm
)
BENCHMARKS = Importer(
    "benchmarks",
    BENCHMARK_COLUMNS,
    BENCHMARK_COLUMNS,
    BenchmarkImportError,
    lambda s, d, _: import_benchmarks(s, d),
)
TRANSACTIONS = Importer(
    "transactions", TRANSACTION_COLUMNS, TRANSACTION_COLUMNS, TransactionImportError, import_transactions
)
IMPORTERS = [CRM, BENCHMARKS, TRANSACTIONS]
each_importer = pytest.mark.parametrize("importer", IMPORTERS, ids=str)


@contextmanager
def database(template: Path) -> Iterator[tuple[Engine, str]]:
    """A fresh copy of the migrated database for one example, holding two accounts."""
    folder = Path(tempfile.mkdtemp(prefix="pulse-import-"))
    shutil.copy(template, folder / "pulse.db")
    url = f"sqlite:///{folder / 'pulse.db'}"
    engine = make_engine(url)
    with Session(engine) as session:
        session.add_all([Account(name="Acme Tools", external_id="CRM-1"), Account(name="Bolt Works")])
        session.commit()
    try:
        yield engine, url
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def assert_clear(error: TableImportError, importer: Importer) -> None:
    """The importer's own error; each problem names a row and a column in a short sentence."""
    assert isinstance(error, importer.refusal), f"{type(error).__name__} from the {importer} import"
    assert error.problems, "a refusal names at least one problem"
    text = str(error)
    for problem in error.problems:
        assert problem.row >= 1
        assert problem.column.strip()
        assert problem.message.strip()
        assert len(problem.message) <= LONGEST_MESSAGE, problem.message[:LONGEST_MESSAGE]
        assert f"row {problem.row}, {problem.column}: {problem.message}" in text


def outcome(engine: Engine, url: str, importer: Importer, data: bytes, filename: str | None) -> object:
    """Import in one transaction and commit; a refusal (returned) must leave the database as it was."""
    before = dump(url)
    with Session(engine) as session:
        try:
            result = importer.run(session, data, filename)
        except TableImportError as error:
            session.rollback()
            assert_clear(error, importer)
            assert dump(url) == before, "a refused file changed the database"
            return error
        except Exception as error:
            raise AssertionError(f"{type(error).__name__} instead of a refusal: {error!s:.300}") from error
        session.commit()
    return result


def refused(
    engine: Engine, url: str, importer: Importer, data: bytes, filename: str | None
) -> TableImportError:
    result = outcome(engine, url, importer, data, filename)
    assert isinstance(result, TableImportError), f"accepted: {result}"
    return result


def accepted(engine: Engine, url: str, importer: Importer, data: bytes, filename: str | None) -> object:
    result = outcome(engine, url, importer, data, filename)
    assert not isinstance(result, TableImportError), f"refused: {result}"
    return result


# --- Writing files ------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,4})?")


def as_csv(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


def as_xlsx(
    header: list[str], rows: list[list[str]], *, numbers: Collection[int] = (), formulas: bool = False
) -> bytes:
    """An Excel workbook of text cells as typed, a leading = included. In the columns ``numbers``
    (0-based) a plain number becomes a number cell; with ``formulas`` text starting with = becomes
    a formula, which reads back empty (nothing computed its value)."""
    book = Workbook()
    sheet = book.active
    for number, line in enumerate([header, *rows], start=1):
        for column, value in enumerate(line):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # Excel has no place for control characters
            if number > 1 and column in numbers and _NUMBER.fullmatch(value):
                sheet.cell(number, column + 1, float(value) if "." in value else int(value))
            elif formulas:
                sheet.cell(number, column + 1, value)
            else:
                sheet.cell(number, column + 1, value).data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


FORMATS = ("csv", "csv-bom", "xlsx", "xlsx-numbers")
# Columns a spreadsheet holds as numbers.
NUMERIC = {"value", "n", "sd", *MEASURES}


@dataclass(frozen=True)
class Sheet:
    """A table an importer reads: our column names, the header as the file writes them, rows."""

    columns: list[str]
    header: list[str]
    rows: list[dict[str, str]]
    extra: dict[str, list[str]] = field(default_factory=dict)  # columns no importer reads

    def named(self, column: str) -> str:
        """How a problem names one of our columns: the file's header cell, lower-cased."""
        return self.header[self.columns.index(column)].strip().lower()

    def lines(self) -> tuple[list[str], list[list[str]]]:
        header = [*self.header, *self.extra]
        rows = [
            [row.get(c, "") for c in self.columns] + [cells[n] for cells in self.extra.values()]
            for n, row in enumerate(self.rows)
        ]
        return header, rows

    def file(self, form: str = "csv") -> tuple[bytes, str]:
        header, rows = self.lines()
        if form.startswith("xlsx"):
            numbers = (
                [n for n, c in enumerate(self.columns) if c in NUMERIC] if form == "xlsx-numbers" else []
            )
            return as_xlsx(header, rows, numbers=numbers), "upload.xlsx"
        return as_csv(header, rows, "utf-8-sig" if form == "csv-bom" else "utf-8"), "upload.csv"


# --- Valid files ----------------------------------------------------------------------------------

# Text as people type it: any script, punctuation, emoji; no control or unassigned characters.
plain = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)
names = st.one_of(plain, st.sampled_from(FORMULAS))


def _written(draw: st.DrawFn, column: str, *, spaced: bool = False) -> str:
    """A column's name as a file may write it: any case; for the CRM (whose mapping is guessed
    from the names) also with spaces for underscores."""
    forms = [column, column.upper(), column.title()]
    if spaced:
        forms += [column.replace("_", " "), column.replace("_", " ").title()]
    return draw(st.sampled_from(forms))


def _extra_columns(draw: st.DrawFn, taken: list[str], rows: int) -> dict[str, list[str]]:
    known = (
        {c.lower() for c in taken}
        | set(FIELDS)
        | {c.lower() for c in (*BENCHMARK_COLUMNS, *TRANSACTION_COLUMNS)}
    )
    extra: dict[str, list[str]] = {}
    for title in draw(st.lists(plain, max_size=2, unique_by=str.lower)):
        if title.lower() in known or title.lower().replace(" ", "_") in known:
            continue
        known.add(title.lower())
        extra[title] = draw(st.lists(st.one_of(st.just(""), names), min_size=rows, max_size=rows))
    return extra


@st.composite
def crm_sheets(draw: st.DrawFn, *, complete: bool = False) -> Sheet:
    """A CRM export; unless ``complete``, some optional columns are left out."""
    accounts = draw(st.lists(names, min_size=1, max_size=3, unique_by=str.lower))
    touchpoints = [text for pair in DEFAULT_TOUCHPOINTS for text in pair]
    rows = []
    for number in range(draw(st.integers(1, 6))):
        account = draw(st.sampled_from(accounts))
        touchpoint = draw(st.sampled_from(touchpoints))
        when = NOW - timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
        email = f"p{number}@customer.example"
        rows.append({
            "crm_interaction_id": f"ACT-{number}-{draw(st.integers(0, 10**6))}",
            "account_external_id": f"EXT-{accounts.index(account)}",
            "account_name": account,
            "segment": draw(st.one_of(st.just(""), names)),
            "owner": draw(st.one_of(st.just(""), names)),
            "contact_email": draw(st.sampled_from([email, email.upper()])),
            "contact_name": draw(st.one_of(st.just(""), names)),
            "contact_role": draw(st.sampled_from(["", *CONTACT_ROLES])),
            "contact_language": draw(st.sampled_from(["", "en", "de"])),
            "touchpoint": draw(st.sampled_from([touchpoint, touchpoint.upper()])),
            "occurred_at": draw(st.sampled_from([
                when.strftime("%Y-%m-%d"), when.strftime("%Y-%m-%d %H:%M"),
                when.strftime("%Y-%m-%dT%H:%M:%SZ"), when.astimezone(UTC).isoformat(),
            ])),
        })  # fmt: skip
    optional = [c for c, needed in FIELDS.items() if not needed]
    dropped = set() if complete else {c for c in optional if draw(st.booleans())}
    columns = draw(st.permutations([c for c in FIELDS if c not in dropped]))
    rows = [{c: row[c] for c in columns} for row in rows]
    header = [_written(draw, c, spaced=True) for c in columns]
    return Sheet(columns, header, rows, _extra_columns(draw, header, len(rows)))


INDICATOR_NAMES = [
    (indicator.code, written)
    for indicator in load_instrument().indicators
    for name in (indicator.code, *indicator.label.values())
    for written in (name, name.upper(), name.replace(" ", "_"))
]


def _period(draw: st.DrawFn, year: int) -> str:
    return draw(
        st.sampled_from(
            [f"{year}", f"{year}-Q{draw(st.integers(1, 4))}", f"{year}-{draw(st.integers(1, 12)):02}"]
        )
    )


def _decimal(draw: st.DrawFn, hundredths: int) -> str:
    whole, cents = divmod(abs(hundredths), 100)
    text = f"{'-' if hundredths < 0 else ''}{whole}.{cents:02}"
    return draw(st.sampled_from([text, text.replace(".", ",")]))


@st.composite
def benchmark_sheets(draw: st.DrawFn) -> Sheet:
    rows: list[dict[str, str]] = []
    keys: set[tuple[str, str, str, str]] = set()
    for _ in range(draw(st.integers(1, 6))):
        code, indicator = draw(st.sampled_from(INDICATOR_NAMES))
        low = draw(st.integers(-10, 10))
        high = low + draw(st.integers(1, 100))
        row = {
            "kind": draw(st.sampled_from([*KINDS, *(k.title() for k in KINDS)])),
            "name": draw(names),
            "indicator": indicator,
            "period": _period(draw, draw(st.integers(1990, 2035))),
            "value": _decimal(draw, draw(st.integers(100 * low, 100 * high))),
            "scale": draw(st.sampled_from([f"{low}-{high}", f"{low} – {high}"])),
            "n": draw(st.one_of(st.just(""), st.integers(2, MAX_WHOLE).map(str))),
            "sd": draw(st.one_of(st.just(""), st.integers(0, 5000).map(lambda h: _decimal(draw, h)))),
            "source": draw(names),
        }
        key = (row["name"], code, row["period"], row["source"])
        if key not in keys:
            keys.add(key)
            rows.append(row)
    columns = draw(st.permutations(list(BENCHMARK_COLUMNS)))
    header = [_written(draw, c) for c in columns]
    return Sheet(columns, header, rows, _extra_columns(draw, header, len(rows)))


# The two accounts of ``database``, as a file may name them: name or CRM id, any case.
ACCOUNT_NAMES = {
    "Acme Tools": ["Acme Tools", "acme tools", "CRM-1", "crm-1"],
    "Bolt Works": ["Bolt Works", "BOLT WORKS"],
}


@st.composite
def transaction_sheets(draw: st.DrawFn) -> Sheet:
    rows: list[dict[str, str]] = []
    for account, written in ACCOUNT_NAMES.items():
        # Different years never overlap, so each account's rows are all valid together.
        for year in draw(st.lists(st.integers(2000, 2035), max_size=3, unique=True)):
            rows.append({
                "account": draw(st.sampled_from(written)),
                "period": _period(draw, year),
                **{c: str(draw(st.integers(0, MAX_WHOLE))) for c in COUNTS},
                **{c: draw(st.one_of(st.just(""), st.integers(0, 10**5).map(str))) for c in DAYS},
                "monetary_volume": _decimal(draw, draw(st.integers(0, 10**14))),
                "_account": account,
            })  # fmt: skip
    if not rows:
        rows.append(
            {"account": "Bolt Works", "period": "2026", "_account": "Bolt Works"}
            | dict.fromkeys(MEASURES, "0")
        )
    rows = draw(st.permutations(rows))
    columns = draw(st.permutations(list(TRANSACTION_COLUMNS)))
    header = [_written(draw, c) for c in columns]
    return Sheet(columns, header, [dict(r) for r in rows], _extra_columns(draw, header, len(rows)))


SHEETS = {"crm": crm_sheets(), "benchmarks": benchmark_sheets(), "transactions": transaction_sheets()}


# --- Valid files go in ----------------------------------------------------------------------------


@FUZZ
@given(sheet=crm_sheets(), form=st.sampled_from(FORMATS))
def test_a_valid_crm_file_goes_in_with_its_text_as_written(sqlite_template, sheet, form):
    data, filename = sheet.file(form)
    with database(sqlite_template) as (engine, url):
        result = accepted(engine, url, CRM, data, filename)
        assert result.interactions_added == len(sheet.rows)
        with Session(engine) as session:
            for row in sheet.rows:
                contact = session.exec(
                    select(Contact).where(Contact.email == row["contact_email"].lower())
                ).one()
                account = session.get(Account, contact.account_id)
                assert account.name == row["account_name"]  # formula text included, stored as typed
                assert contact.name == row.get("contact_name", "")
                if "crm_interaction_id" in row:
                    interaction = session.exec(
                        select(Interaction).where(Interaction.external_id == row["crm_interaction_id"])
                    ).one()
                    assert interaction.contact_id == contact.id
            # A new account takes its segment and owner from its first row.
            first = {}
            for row in sheet.rows:
                first.setdefault(row["account_name"], row)
            for name, row in first.items():
                account = session.exec(select(Account).where(Account.name == name)).one()
                if name not in ACCOUNT_NAMES:
                    assert (account.segment, account.owner) == (row.get("segment", ""), row.get("owner", ""))
        if "crm_interaction_id" in sheet.columns:
            before = dump(url)
            again = accepted(engine, url, CRM, data, filename)
            assert (again.interactions_added, again.already_there) == (0, len(sheet.rows))
            assert dump(url) == before, "importing the same file again changed the database"


@FUZZ
@given(sheet=benchmark_sheets(), form=st.sampled_from(FORMATS))
def test_a_valid_benchmark_file_goes_in_with_its_text_as_written(sqlite_template, sheet, form):
    data, filename = sheet.file(form)
    with database(sqlite_template) as (engine, url):
        summary = accepted(engine, url, BENCHMARKS, data, filename)
        assert (summary.added, summary.updated) == (len(sheet.rows), 0)
        with Session(engine) as session:
            stored = session.exec(select(Benchmark.name, Benchmark.source, Benchmark.value_100)).all()
        assert sorted((name, source) for name, source, _ in stored) == sorted(
            (row["name"], row["source"]) for row in sheet.rows
        )
        assert all(0 <= value_100 <= 100 for *_, value_100 in stored)
        again = accepted(engine, url, BENCHMARKS, data, filename)
        assert (again.added, again.updated) == (0, len(sheet.rows))


@FUZZ
@given(sheet=transaction_sheets(), form=st.sampled_from(FORMATS))
def test_a_valid_transaction_file_goes_in_with_every_measure(sqlite_template, sheet, form):
    data, filename = sheet.file(form)
    with database(sqlite_template) as (engine, url):
        summary = accepted(engine, url, TRANSACTIONS, data, filename)
        assert (summary.added, summary.updated) == (len(sheet.rows), 0)
        with Session(engine) as session:
            ids = {name: id_ for id_, name in session.exec(select(Account.id, Account.name)).all()}
            for row in sheet.rows:
                stored = session.exec(
                    select(TransactionMeasure).where(
                        TransactionMeasure.account_id == ids[row["_account"]],
                        TransactionMeasure.period == row["period"].upper(),
                    )
                ).one()
                assert stored.sales_transactions == int(row["sales_transactions"])
                assert stored.days_since_payment == (
                    int(row["days_since_payment"]) if row["days_since_payment"] else None
                )
                assert stored.monetary_volume == pytest.approx(
                    float(row["monetary_volume"].replace(",", "."))
                )


# --- Hostile files are refused by row and column ---------------------------------------------------

BAD_NUMBERS = ("1e20", "99999999999999999999", "²", "٣", "1.000,50", "1 000", "NaN", "inf", "-inf", "-1",
               "0x10", "1e400")  # fmt: skip
BAD_DATES = ("2026-02-30", "2026-13-01", "31.12.2026", "12/31/2026", "0000-01-01", "0001-01-01T00:00+05:00",
             "9999-12-31T23:59-05:00", "2026-11-20T25:00", "yesterday")  # fmt: skip
BAD_PERIODS = ("0000", "2026-Q0", "2026-Q5", "2026-00", "2026-13", "Q2 2026", "２０２６", "26", "2026-q2")
ODD_TEXT = ("\x00", "a\x00b", '"', 'x"y', "\n", "\r\n", "\ufeff", "\u202e", "<script>alert(1)</script>",
            "'; DROP TABLE account; --", "x" * 200_000)  # fmt: skip
LIKELY = ("industry", "competitor", "trust", "2026-Q2", "2026", "3.7", "1-5", "10", "0", "Acme Tools",
          "CRM-1", "delivery", "2026-11-19", "anna@acme.example", "user", "de")  # fmt: skip
any_cell = st.one_of(
    st.text(max_size=40),
    st.sampled_from((*FORMULAS, *BAD_NUMBERS, *BAD_DATES, *BAD_PERIODS, *ODD_TEXT, *LIKELY)),
    st.integers(-(10**12), 10**12).map(str),
    st.floats().map(str),
)
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32")


def _naive_csv(header: list[str], rows: list[list[str]]) -> bytes:
    # Joined without quoting: stray quotes, commas and line breaks break the layout.
    return "\n".join(",".join(line) for line in [header, *rows]).encode("utf-8")


def hostile_files(columns: tuple[str, ...]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    header = st.one_of(
        st.just(list(columns)),
        st.permutations(columns),
        st.lists(st.sampled_from([*columns, *(c.upper() for c in columns), "extra", "", " Kind ", "account"]),
                 max_size=len(columns) + 2),
        st.lists(st.text(max_size=12), max_size=6),
    )  # fmt: skip
    rows = st.lists(st.lists(any_cell, max_size=len(columns) + 2), max_size=5)
    written = st.one_of(
        st.builds(lambda h, r, e: (as_csv(h, r, e), "upload.csv"), header, rows, st.sampled_from(ENCODINGS)),
        st.builds(lambda h, r: (_naive_csv(h, r), "upload.csv"), header, rows),
        st.builds(
            lambda h, r, n, f: (
                as_xlsx(h, r, numbers=range(len(h) + 2) if n else (), formulas=f),
                "upload.xlsx",
            ),
            header,
            rows,
            st.booleans(),
            st.booleans(),
        ),
    )
    junk = st.one_of(
        st.binary(max_size=600).map(lambda b: (b, "upload.csv")),
        st.binary(max_size=600).map(lambda b: (b"PK\x03\x04" + b, None)),
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\n\n\n", b",,,\n,,,"]).map(lambda b: (b, None)),
    )
    return st.one_of(written, junk)


@each_importer
@FUZZ
@given(data=st.data())
def test_a_hostile_file_is_imported_whole_or_refused_by_row_and_column(sqlite_template, importer, data):
    contents, filename = data.draw(hostile_files(importer.columns), label="file")
    with database(sqlite_template) as (engine, url):
        outcome(engine, url, importer, contents, filename)


# Cells each importer must refuse, by column.
BAD_CELLS: dict[str, dict[str, tuple[str, ...]]] = {
    "crm": {
        "account_name": ("", "x" * 201),
        "account_external_id": ("x" * 101,),
        "contact_email": ("", "not-an-email", "a@b", "anna@acme", "a" * 400 + "@acme.example"),
        "contact_name": ("x" * 201,),
        "contact_role": ("ceo", "Decision Maker"),
        "contact_language": ("fr", "EN", "english"),
        "segment": ("x" * 101,),
        "owner": ("x" * 201,),
        "touchpoint": ("", "telepathy"),
        "occurred_at": ("", *BAD_DATES),
        "crm_interaction_id": ("x" * 101,),
    },
    "benchmarks": {
        "kind": ("", "company", "=1+1"),
        "name": ("", "x" * 201),
        "indicator": ("", "happiness", "trust2"),
        "period": ("", *BAD_PERIODS),
        "value": ("", "high", "nan", "inf", "1e400", "999999", "-999999"),
        "scale": ("", "5-1", "1-1", "1..5", "a-b", "0-1" + "0" * 400),
        "n": ("1", "0", "2.5", "-3", "²", "٣", "9" * 25, "9" * 5000),
        "sd": ("-2", "nan", "inf", "x", "1e400"),
        "source": ("", "x" * 301),
    },
    "transactions": {
        "account": ("", "Nobody Ltd", "CRM-2"),
        "period": ("", *BAD_PERIODS),
        **{c: ("", "-1", "1.5", "many", "nan", "inf", "²", "1e20", "9" * 30) for c in COUNTS},
        "days_since_purchase": ("-2", "soon", "1.5", "1e20", "nan"),
        "days_since_payment": ("-2", "soon", "1.5", "9" * 30),
        "monetary_volume": ("", "-1", "nan", "inf", "1e400", "1.000,50", "12 000"),
    },
}  # fmt: skip


@each_importer
@FUZZ
@given(data=st.data())
def test_a_bad_cell_is_refused_naming_its_row_and_column(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    column = data.draw(
        st.sampled_from([c for c in sheet.columns if c in BAD_CELLS[importer.name]]), label="column"
    )
    form = data.draw(st.sampled_from(FORMATS), label="format")
    cells = BAD_CELLS[importer.name][column]
    if form.startswith("csv"):  # Excel cannot hold a NUL character at all
        cells = (*cells, "1\x00", "\x00")
    bad = data.draw(st.sampled_from(cells), label="cell")
    index = data.draw(st.integers(0, len(sheet.rows) - 1), label="row")
    rows = [dict(row) for row in sheet.rows]
    rows[index][column] = bad
    contents, filename = replace(sheet, rows=rows).file(form)
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, contents, filename)
    assert (index + 2, sheet.named(column)) in {(p.row, p.column) for p in error.problems}, error


@each_importer
@FUZZ
@given(data=st.data())
def test_a_missing_or_renamed_column_is_named(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    gone = data.draw(st.sets(st.sampled_from(importer.required), min_size=1), label="missing")
    renamed = data.draw(st.booleans(), label="renamed")
    header, rows = sheet.lines()
    ours = len(sheet.columns)  # the extra columns come after ours
    keep = [n for n, c in enumerate(sheet.columns) if c not in gone or renamed] + list(
        range(ours, len(header))
    )
    header = [f"{header[n]} (old)" if n < ours and sheet.columns[n] in gone else header[n] for n in keep]
    rows = [[row[n] for n in keep] for row in rows]
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, as_csv(header, rows), "upload.csv")
    assert {(p.row, p.column) for p in error.problems} == {(1, column) for column in gone}, error


def _repeated_row_message(importer: Importer, original: int) -> str:
    return {
        "crm": f"also in row {original}",
        "benchmarks": f"repeats row {original}",
        "transactions": f"of row {original}",
    }[importer.name]


@each_importer
@FUZZ
@given(data=st.data())
def test_a_repeated_row_or_id_is_refused_naming_both_rows(sqlite_template, importer, data):
    strategy = crm_sheets(complete=True) if importer is CRM else SHEETS[importer.name]
    sheet = data.draw(strategy, label="sheet")
    index = data.draw(st.integers(0, len(sheet.rows) - 1), label="row")
    rows = [*sheet.rows, dict(sheet.rows[index])]
    extra = {title: [*cells, ""] for title, cells in sheet.extra.items()}
    contents, filename = replace(sheet, rows=rows, extra=extra).file(data.draw(st.sampled_from(FORMATS)))
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, contents, filename)
    [problem] = [p for p in error.problems if p.row == len(rows) + 1]
    assert _repeated_row_message(importer, index + 2) in problem.message, error


@each_importer
@FUZZ
@given(data=st.data())
def test_extra_filled_cells_are_refused_and_empty_ones_ignored(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    index = data.draw(st.integers(0, len(sheet.rows) - 1), label="row")
    filled = data.draw(st.one_of(plain, st.sampled_from(FORMULAS)), label="cell")
    header, rows = sheet.lines()
    padded = [[*row, ""] for row in rows]
    with database(sqlite_template) as (engine, url):
        accepted(engine, url, importer, as_csv(header, padded), "upload.csv")
    with database(sqlite_template) as (engine, url):
        padded[index][-1] = filled
        error = refused(engine, url, importer, as_csv(header, padded), "upload.csv")
    assert (index + 2, "row") in {(p.row, p.column) for p in error.problems}, error


@each_importer
@FUZZ
@given(data=st.data())
def test_text_in_another_encoding_is_refused_as_not_utf8(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    encoding = data.draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]))
    header, rows = sheet.lines()
    header.append("Bemerkung für den Vertrieb (€)")
    rows = [[*row, "Größe"] for row in rows]
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, as_csv(header, rows, encoding), "upload.csv")
    [problem] = error.problems
    assert (problem.row, problem.column) == (1, "file")
    assert "UTF-8" in problem.message


@each_importer
@FEW
@given(data=st.data())
def test_a_one_megabyte_cell_is_refused_with_a_short_message(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    column = data.draw(st.sampled_from(sheet.columns), label="column")
    huge = data.draw(st.sampled_from(["x", "9", "=", "€"]), label="filler") * 1_000_000
    index = data.draw(st.integers(0, len(sheet.rows) - 1), label="row")
    rows = [dict(row) for row in sheet.rows]
    rows[index][column] = huge
    form = data.draw(st.sampled_from(["csv", "xlsx"]), label="format")
    contents, filename = replace(sheet, rows=rows).file(form)
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, contents, filename)
    # CSV stops reading at the cell; Excel hands it over and the column's own check refuses it.
    expected = (index + 2, "row" if form == "csv" else sheet.named(column))
    assert expected in {(p.row, p.column) for p in error.problems}, str(error)[:LONGEST_MESSAGE]


def _damaged(workbook: bytes, how: str, where: float, junk: bytes) -> bytes:
    if how == "truncated":
        return workbook[: int(len(workbook) * where)]
    if how == "overwritten":
        start = int(len(workbook) * where)
        return workbook[:start] + junk + workbook[start + len(junk) :]
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                content = content[: int(len(content) * where)] + junk if how == "sheet" else junk
            target.writestr(item, content)
    return damaged.getvalue()


@each_importer
@FUZZ
@given(data=st.data())
def test_a_damaged_excel_file_is_refused_not_a_crash(sqlite_template, importer, data):
    sheet = data.draw(SHEETS[importer.name], label="sheet")
    workbook, _ = sheet.file("xlsx")
    how = data.draw(st.sampled_from(["truncated", "overwritten", "sheet", "sheet replaced"]), label="damage")
    where = data.draw(st.floats(0, 0.99), label="where")
    junk = data.draw(st.binary(min_size=1, max_size=64), label="junk")
    with database(sqlite_template) as (engine, url):
        outcome(engine, url, importer, _damaged(workbook, how, where, junk), "upload.xlsx")


@each_importer
def test_a_sheet_cut_short_is_refused_naming_the_file(sqlite_template, importer):
    workbook, _ = Sheet(
        list(importer.columns), list(importer.columns), [dict.fromkeys(importer.columns, "1")]
    ).file("xlsx")
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, _damaged(workbook, "sheet", 0.5, b""), "upload.xlsx")
    [problem] = error.problems
    assert problem.column == "file"
    assert "damaged" in problem.message


@each_importer
@pytest.mark.parametrize(
    "contents",
    [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"\xef\xbb\xbf{header}\r\n", b"{header}\n", b"{header}\n,,,\n , \n"],
    ids=["empty", "bom", "blank-lines", "bom-and-header", "header-only", "empty-rows"],
)
def test_a_file_without_data_is_refused(sqlite_template, importer, contents):
    contents = contents.replace(b"{header}", ",".join(importer.columns).encode())
    with database(sqlite_template) as (engine, url):
        error = refused(engine, url, importer, contents, "upload.csv")
    assert error.problems[0].row in (1, 2)


@FUZZ
@given(
    header=st.lists(
        st.one_of(st.text(max_size=30), st.sampled_from([*FIELDS, "Contact Email", " OCCURRED_AT "]))
    )
)
def test_the_guessed_mapping_names_only_our_fields_and_the_files_columns(header):
    mapping = guess_mapping(header)
    assert set(mapping) <= set(FIELDS)
    assert set(mapping.values()) <= {name.strip().lower() for name in header}
    for ours in FIELDS:
        if any(name.strip().lower().replace(" ", "_") == ours for name in header):
            assert ours in mapping


def _header(data: bytes, filename: str | None) -> list[str] | TableImportError:
    try:
        return header_of(data, filename=filename)
    except TableImportError as error:
        return error


@FUZZ
@given(contents=hostile_files(tuple(FIELDS)))
def test_reading_a_header_gives_names_or_a_refusal(contents):
    header = _header(*contents)
    if isinstance(header, TableImportError):
        assert header.problems
        assert all(problem.row >= 1 and problem.column and problem.message for problem in header.problems)
    else:
        assert header
        assert all(name == name.strip() and name for name in header)


# --- Backends that keep less than SQLite ----------------------------------------------------------


def test_nul_characters_and_values_too_long_for_a_column_are_refused_on_every_backend(session):
    """PostgreSQL refuses a NUL in text and over-long text, where SQLite keeps them; both refuse
    here, before anything is written."""
    header = [
        "account_external_id",
        "account_name",
        "contact_email",
        "contact_name",
        "touchpoint",
        "occurred_at",
    ]
    rows = [
        ["A-1", "Acme Tools", "anna@acme.example", "Anna\x00Berg", "delivery", "2026-11-19"],
        ["A" * 101, "Bolt Works", "bo@bolt.example", "Bo", "delivery", "2026-11-19"],
        ["A-3", "Cyan", "c" * 320 + "@cyan.example", "Cy", "delivery", "2026-11-19"],
    ]
    data = as_csv(header, rows)
    with pytest.raises(TableImportError) as crm:
        import_crm(session, data, "upload.csv")
    assert [(p.row, p.column) for p in crm.value.problems] == [
        (2, "contact_name"), (3, "account_external_id"), (4, "contact_email"),
    ]  # fmt: skip
    session.add(Account(name="Acme Tools", external_id="CRM-1"))
    session.flush()
    counts = ",".join(TRANSACTION_COLUMNS) + "\nAcme Tools,2026,3000000000,1,1,1,,,1\n"
    with pytest.raises(TransactionImportError, match="sales_transactions: 3000000000 is larger than"):
        import_transactions(session, counts.encode(), "upload.csv")
    figures = ",".join(BENCHMARK_COLUMNS) + "\nindustry,X,trust,2026,3,1-5,3000000000,,S\n"
    with pytest.raises(BenchmarkImportError, match="n: 3000000000 is larger than"):
        import_benchmarks(session, figures.encode())
    session.rollback()
    assert session.exec(select(func.count()).select_from(Account)).one() == 0
