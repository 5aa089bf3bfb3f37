"""Reading an uploaded table (CSV, or the first sheet of an Excel file) for an import.

Every import here works the same way: the header is row 1, each later row is checked in
full, every problem is named by row and column, and the file goes in whole or not at all.
This module does the reading and the shared checks; each import checks its own cells.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

MAX_BYTES = 5_000_000
# Rows a file may have (header included), counted while reading: a small file must not
# expand into millions of rows held in memory.
MAX_ROWS = 100_000
# An .xlsx is a zip of XML: what its parts may add up to once unpacked (about ten times a
# full 5 MB sheet). Checked from the archive's directory before anything is unpacked.
MAX_EXPANDED_BYTES = 50_000_000
# The largest whole number a count column holds on every database (PostgreSQL's INTEGER).
MAX_WHOLE = 2_147_483_647
# An .xlsx file is a zip archive; its first bytes say so whatever the file is called.
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RowProblem:
    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


class TableImportError(ValueError):
    """A file was refused; ``problems`` names each bad row and column. Nothing was changed."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def shown(raw: str, limit: int = 60) -> str:
    """A cell as quoted in a message: a very long one is cut, so the message stays readable."""
    return raw if len(raw) <= limit else f"{raw[:limit]}…"


def number(raw: str) -> float | None:
    """A decimal number, with a point or a comma as the decimal mark; None if it is not one."""
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        return None


def _cell_text(value: object) -> str:
    # Excel stores 12 as 12.0 and dates as dates: give them back as a person typed them.
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = RowProblem(1, "file", f"not UTF-8 text (byte {exc.start}); save the file as CSV UTF-8")
        raise TableImportError([problem]) from exc
    reader = csv.reader(io.StringIO(text))
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise TableImportError([_too_many_rows()])
    except csv.Error as exc:  # a cell longer than the csv module reads, or a broken quote
        limit = csv.field_size_limit()
        message = (
            f"a cell is longer than {limit:,} characters" if "limit" in str(exc) else f"cannot be read: {exc}"
        )
        raise TableImportError([RowProblem(reader.line_num, "row", message)]) from exc
    if rows and any("\x00" in name for name in rows[0]):
        # UTF-16 text read as UTF-8 has a NUL byte beside every letter.
        problem = RowProblem(1, "file", "holds NUL bytes, as UTF-16 text does; save the file as CSV UTF-8")
        raise TableImportError([problem])
    return rows


def _too_many_rows() -> RowProblem:
    return RowProblem(MAX_ROWS + 1, "file", f"has more than {MAX_ROWS:,} rows; split it into smaller files")


def _check_expansion(data: bytes) -> None:
    """Refuse an .xlsx whose parts unpack to more than ``MAX_EXPANDED_BYTES``, from the zip's
    directory alone. (Reading a part never yields more than its stated size.)"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TableImportError([RowProblem(1, "file", "is not a readable Excel (.xlsx) workbook")]) from exc
    if expanded > MAX_EXPANDED_BYTES:
        limit = MAX_EXPANDED_BYTES // 1_000_000
        message = f"unpacks to {expanded / 1e6:,.0f} MB, more than the {limit} MB a sheet may hold"
        problem = RowProblem(1, "file", f"{message}; save only the rows to import, or as CSV")
        raise TableImportError([problem])


def _excel_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # loaded only for Excel files

    _check_expansion(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise TableImportError([RowProblem(1, "file", "is not a readable Excel (.xlsx) workbook")]) from exc
    rows: list[list[str]] = []
    try:
        sheet = workbook.worksheets[0]
        # The sheet's stated size is not trusted: a tiny file may claim a million rows and
        # sixteen thousand columns, which would be padded out with empty cells.
        sheet.reset_dimensions()
        # A read-only workbook reads its sheet only now, so a damaged sheet fails here.
        for row in sheet.iter_rows(values_only=True):
            rows.append([_cell_text(value) for value in row])
            if len(rows) > MAX_ROWS:
                raise TableImportError([_too_many_rows()])
    except TableImportError:
        raise
    except Exception as exc:
        problem = RowProblem(len(rows) + 1, "file", "cannot be read: the Excel (.xlsx) sheet is damaged")
        raise TableImportError([problem]) from exc
    finally:
        workbook.close()
    return rows


def is_excel(data: bytes, filename: str | None = None) -> bool:
    return data.startswith(_ZIP_MAGIC) or bool(filename and filename.lower().endswith((".xlsx", ".xlsm")))


def header_of(data: bytes, *, filename: str | None = None) -> list[str]:
    """The column names of a CSV or Excel file, as written, for a column mapping."""
    if len(data) > MAX_BYTES:
        raise TableImportError([RowProblem(1, "file", f"larger than {MAX_BYTES // 1_000_000} MB")])
    lines = _excel_rows(data) if is_excel(data, filename) else _csv_rows(data)
    if not lines or not any(name.strip() for name in lines[0]):
        raise TableImportError([RowProblem(1, "file", "has no header row")])
    return [name.strip() for name in lines[0] if name.strip()]


@dataclass(frozen=True)
class Table:
    rows: list[tuple[int, dict[str, str]]]  # (row number, cells by column name), non-empty rows
    problems: list[RowProblem]  # rows that could not be read into cells at all


def read_table(
    data: bytes, columns: tuple[str, ...], *, filename: str | None = None, optional: tuple[str, ...] = ()
) -> Table:
    """The data rows of a CSV or Excel file, cells stripped, by column name.

    Column names are matched case-insensitively; every name in ``columns`` must be present,
    names in ``optional`` may be missing (their cells are then empty). File-level problems
    (size, encoding, missing columns) raise ``TableImportError``; a row with more filled cells
    than the header, or with a NUL character in a cell, is reported in ``problems`` so the caller
    can name it beside its own."""
    if len(data) > MAX_BYTES:
        raise TableImportError([RowProblem(1, "file", f"larger than {MAX_BYTES // 1_000_000} MB")])
    lines = _excel_rows(data) if is_excel(data, filename) else _csv_rows(data)
    header = [name.strip().lower() for name in lines[0]] if lines else []
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise TableImportError(
            [RowProblem(1, name, "column appears more than once; keep one") for name in repeated]
        )
    missing = [name for name in columns if name not in header]
    if missing:
        raise TableImportError([RowProblem(1, name, "column is missing") for name in missing])
    position = {name: header.index(name) for name in (*columns, *optional) if name in header}
    table = Table(rows=[], problems=[])
    for number, line in enumerate(lines[1:], start=2):
        # Empty cells right of the header are spreadsheet formatting, not data.
        if len(line) > len(header) and any(cell.strip() for cell in line[len(header) :]):
            table.problems.append(RowProblem(number, "row", "has more cells than the header"))
            continue
        cells = {name: (line[index].strip() if index < len(line) else "") for name, index in position.items()}
        # PostgreSQL cannot store a NUL character in text: refuse it on every database alike.
        nul = [name for name, cell in cells.items() if "\x00" in cell]
        if nul:
            table.problems.extend(
                RowProblem(number, name, "contains a NUL character; remove it") for name in nul
            )
            continue
        cells |= {name: "" for name in optional if name not in position}
        if any(cells.values()):
            table.rows.append((number, cells))
    return table
