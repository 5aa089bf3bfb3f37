"""Writing an export to CSV, Excel, SPSS or Parquet, one chunk at a time.

Each writer reads the chunks of a ``ChunkReader`` and reports progress after each. The file is
written under a temporary name next to the target and renamed at the end, so that a failed
export leaves no half-written file behind.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlmodel import Session

from survey.exports.columns import (
    CODEBOOK_HEADER,
    NOT_ANSWERED,
    NOT_ASKED,
    NOT_GIVEN,
    NOT_SCORED,
    Column,
    codebook_rows,
)
from survey.exports.prefetch import prefetched
from survey.exports.rows import ChunkReader, ExportError, ExportRequest, count_responses
from survey.exports.safety import neutralise, neutralise_table
from survey.instrument.definition import available_versions, load_instrument

Format = Literal["csv", "xlsx", "sav", "parquet"]
FORMATS: tuple[str, ...] = get_args(Format)
Progress = Callable[[int, int], None]
EXCEL_MAX_ROWS = 1_048_575  # a sheet holds 1,048,576 rows, one of them the header
SCORE_SHEET_KEYS = ("response_id", "account", "submitted_at")
# SPSS holds every row until the end; smaller chunks keep less beside them in flight (measured on
# 300,000 responses: 5,000 a chunk peaked 43 MB lower than 20,000, and was no slower).
SAV_CHUNK = 5_000


def export(
    session: Session,
    fmt: Format,
    out: Path,
    request: ExportRequest | None = None,
    *,
    bom: bool = False,
    progress: Progress | None = None,
) -> int:
    """Write the responses ``request`` selects to ``out`` as ``fmt``; returns the rows written.

    ``progress(done, total)`` is called after each chunk, in responses."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    request = request or ExportRequest()
    if fmt == "sav":
        request = replace(request, chunk_size=min(request.chunk_size, SAV_CHUNK))
    reader = ChunkReader(session, request)
    total = count_responses(session, request)
    if fmt == "xlsx" and not request.long and total > EXCEL_MAX_ROWS:
        raise ExportError(
            f"an Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows and this export has {total:,} "
            "responses: choose CSV or Parquet, or narrow the filters"
        )
    done = 0

    def tick(table: pa.Table) -> None:
        nonlocal done
        done += len(table.column("response_id").unique()) if request.long else table.num_rows
        if progress is not None:
            progress(min(done, total), total)

    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        writer = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav, "parquet": write_parquet}[fmt]
        rows = writer(reader, partial, tick, bom)
        if fmt == "xlsx" and rows > EXCEL_MAX_ROWS:
            raise ExportError(f"the answers fill {rows:,} rows, more than an Excel sheet holds: choose CSV")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(total, total)
    return rows


def write_csv(reader: ChunkReader, path: Path, tick: Callable[[pa.Table], None], bom: bool) -> int:
    rows = 0
    with open(path, "wb") as sink:
        if bom:  # Excel reads UTF-8 only with a byte-order mark
            sink.write(codecs.BOM_UTF8)
        with pacsv.CSVWriter(sink, reader.schema) as writer:
            for table in prefetched(reader.chunks()):
                writer.write_table(neutralise_table(table))
                rows += table.num_rows
                tick(table)
    return rows


def write_parquet(reader: ChunkReader, path: Path, tick: Callable[[pa.Table], None], _bom: bool) -> int:
    # Each column carries its label, so that the file explains itself.
    fields = [
        field.with_metadata({"label": column.label, "item_code": column.item_code})
        for field, column in zip(reader.schema, reader.columns, strict=True)
    ]
    schema = pa.schema(fields)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for table in prefetched(reader.chunks()):
            writer.write_table(table.cast(schema))
            rows += table.num_rows
            tick(table)
    return rows


def _cells(table: pa.Table, names: list[str]) -> list[list[Any]]:
    return [table.column(name).to_pylist() for name in names]


def write_xlsx(reader: ChunkReader, path: Path, tick: Callable[[pa.Table], None], _bom: bool) -> int:
    import xlsxwriter

    options = {
        "constant_memory": True,  # rows are flushed as they are written
        "remove_timezone": True,  # every timestamp is UTC, and the header says so
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    workbook = xlsxwriter.Workbook(str(path), options)
    bold = workbook.add_format({"bold": True})
    formats = {
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "timestamp": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    columns = reader.columns
    scores = [c for c in columns if c.kind == "float"]
    main = [c for c in columns if c.kind != "float"]
    sheets: list[tuple[Any, list[Column]]] = [
        (workbook.add_worksheet("answers" if reader.request.long else "responses"), main)
    ]
    if scores:
        keys = [c for c in columns if c.name in SCORE_SHEET_KEYS]
        sheets.append((workbook.add_worksheet("indicator scores"), keys + scores))
    codebook = workbook.add_worksheet("codebook")
    for sheet, wanted in sheets:
        sheet.write_row(0, 0, [c.name for c in wanted], bold)
        sheet.freeze_panes(1, 0)
    rows = 0
    for table in prefetched(reader.chunks()):
        safe = neutralise_table(table)
        for sheet, wanted in sheets:
            values = _cells(safe, [c.name for c in wanted])
            for offset in range(table.num_rows):
                for index, column in enumerate(wanted):
                    value = values[index][offset]
                    if value is None:
                        continue
                    if column.kind in formats:
                        sheet.write_datetime(rows + offset + 1, index, value, formats[column.kind])
                    elif column.kind == "text":
                        sheet.write_string(rows + offset + 1, index, value)
                    else:
                        sheet.write_number(rows + offset + 1, index, value)
        rows += table.num_rows
        tick(table)
    codebook.write_row(0, 0, CODEBOOK_HEADER, bold)
    for number, row in enumerate(codebook_rows(columns), start=1):
        codebook.write_row(number, 0, [neutralise(cell) for cell in row])
    workbook.close()
    return rows


# ---- SPSS ------------------------------------------------------------------------------

SPSS_EPOCH_SECONDS = 12_219_379_200  # SPSS counts seconds from 1582-10-14
SPSS_FORMATS = {"date": "DATE11", "timestamp": "DATETIME23.2"}


def _asked_codes() -> dict[int, set[str]]:
    return {
        version: {item.code for item in load_instrument(version).items} for version in available_versions()
    }


def _small_codes(column: Column) -> bool:
    """Items, choices and yes/no: stored as one-byte integers with their missing codes filled in."""
    return bool(column.item_code and (column.missing_codes or column.text_codes)) or column.kind == "bool"


def _by_distinct(values: pa.ChunkedArray, each: Callable[[str], Any], empty: Any, dtype: Any) -> np.ndarray:
    """``each`` applied once per distinct value (through Arrow's dictionary), spread to every
    row; a missing value becomes ``empty``."""
    encoded = values.combine_chunks().dictionary_encode()
    distinct = [each(word) for word in encoded.dictionary.to_pylist()]
    indices = encoded.indices.fill_null(len(distinct)).to_numpy()
    return np.array([*distinct, empty], dtype=dtype)[indices]


def _coded(values: pa.ChunkedArray, column: Column, added: dict[str, int]) -> np.ndarray:
    """Text as its codes (``column.text_codes``); empty as ``NOT_ANSWERED`` (a statement) or
    ``NOT_GIVEN``. A text the list does not know (stored by an older release, say) gets the
    next free code, kept in ``added`` and labelled with itself: never lost as empty."""
    empty = NOT_ANSWERED if column.item_code else NOT_GIVEN

    def code(word: str) -> int:
        found = column.text_codes.get(word, added.get(word))
        if found is None and word != "":
            found = added[word] = max([*column.text_codes.values(), *added.values()]) + 1
        return empty if found is None else found

    return _whole_numbers(_by_distinct(values, code, empty, np.int64))


# Distinct texts of one column shared across chunks; past this many, new ones are not kept
# (free text is mostly unique: a table of it would only grow).
SHARED_TEXTS_MAX = 50_000


def _text(values: pa.ChunkedArray, shared: dict[str, str]) -> np.ndarray:
    """Through a dictionary: a name repeated on many rows is one Python string, not thousands,
    and through ``shared``, the same string in every chunk (a contact's email in each of 200
    chunks would otherwise be 200 strings, each keeping a little of the chunk's memory alive)."""

    def one(word: str) -> str:
        return shared.setdefault(word, word) if len(shared) < SHARED_TEXTS_MAX else shared.get(word, word)

    return _by_distinct(values, one, "", object)


@dataclass
class _SoFar:
    """What the chunks of one SPSS export share: each text column's strings (``_text``) and
    each coded column's codes added for texts its list does not know (``_coded``)."""

    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    codes: dict[str, dict[str, int]] = field(default_factory=dict)


def _spss_columns(
    table: pa.Table, columns: list[Column], asked: dict[int, set[str]], so_far: _SoFar | None = None
) -> dict[str, np.ndarray]:
    """One chunk as SPSS wants it: numbers with user-missing codes, text codes as numbers."""
    so_far = _SoFar() if so_far is None else so_far
    out: dict[str, np.ndarray] = {}
    versions = (
        table.column("instrument_version").to_numpy() if "instrument_version" in table.column_names else None
    )
    for column in columns:
        values = table.column(column.name)
        if column.text_codes:
            out[column.name] = _coded(values, column, so_far.codes.setdefault(column.name, {}))
        elif column.kind == "text":
            out[column.name] = _text(values, so_far.texts.setdefault(column.name, {}))
        elif column.kind == "bool":
            out[column.name] = values.to_numpy(zero_copy_only=False).astype(np.int8)
        elif column.kind in SPSS_FORMATS:
            moments = values.cast(pa.timestamp("us", "UTC")) if column.kind == "date" else values
            micros = moments.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
            out[column.name] = micros / 1e6 + SPSS_EPOCH_SECONDS
        elif _small_codes(column):
            numbers = values.to_numpy(zero_copy_only=False).astype(np.float64)
            missing = np.isnan(numbers)
            if versions is not None:
                lacking = [version for version, codes in asked.items() if column.item_code not in codes]
                not_asked = np.isin(versions, lacking)
                numbers[missing & not_asked] = NOT_ASKED
                missing &= ~not_asked
            numbers[missing] = NOT_ANSWERED
            out[column.name] = numbers.astype(np.int8)
        elif column.kind == "float" and column.missing_codes:
            scores = np.nan_to_num(values.to_numpy(zero_copy_only=False), nan=NOT_SCORED)
            whole = len(scores) == 0 or bool((scores == np.round(scores)).all())
            out[column.name] = _whole_numbers(scores.astype(np.int64)) if whole else scores
        elif column.kind == "int" and values.null_count == 0:
            out[column.name] = _whole_numbers(values.to_numpy(zero_copy_only=False))
        else:
            out[column.name] = values.to_numpy(zero_copy_only=False).astype(np.float64)
    return out


WHOLE_TYPES = (np.int8, np.int16, np.int32)  # the integers readstat takes


def _whole_numbers(values: np.ndarray) -> np.ndarray:
    """Whole numbers (ids, counts, a leader's rating of one statement) in the narrowest integer
    type that holds them, else as doubles. SPSS stores every number as a double, so the file
    holds the same values; the frame pyreadstat needs whole in memory is an eighth of the size
    for a one-byte rating. A later chunk that does not fit widens the column (``_placed_at``)."""
    low, high = (int(values.min()), int(values.max())) if len(values) else (0, 0)
    for kind in WHOLE_TYPES:
        if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
            return values.astype(kind)
    return values.astype(np.float64)


def _placed_at(target: np.ndarray | None, values: np.ndarray, start: int, expected: int) -> np.ndarray:
    """``values`` copied into ``target`` from row ``start``; a new or larger array when needed."""
    end = start + len(values)
    if target is not None and not np.can_cast(values.dtype, target.dtype, casting="safe"):
        target = target.astype(np.result_type(target.dtype, values.dtype))  # e.g. an id past 2**31
    if target is None or end > len(target):
        grown = np.empty(
            max(expected, end, int(len(target) * 1.5) if target is not None else 0), values.dtype
        )
        if target is not None:
            grown[:start] = target[:start]
        target = grown
    target[start:end] = values
    return target


def spss_metadata(
    columns: list[Column], integers: frozenset[str], added: Mapping[str, Mapping[str, int]]
) -> dict[str, Any]:
    """Variable labels, value labels, user-missing codes, formats and measurement levels for
    pyreadstat; ``integers``: the columns held as integers, whose codes must be integers too;
    ``added``: codes given to texts a coded column's list does not know (``_coded``)."""
    value_labels: dict[str, dict[Any, str]] = {}
    missing: dict[str, list[Any]] = {}
    measure: dict[str, str] = {}
    for column in columns:
        key: Any = int if column.name in integers else float
        labels = {key(code): text for code, text in column.value_labels.items()}
        labels |= {key(code): text for text, code in added.get(column.name, {}).items()}
        codes = dict(column.missing_codes)
        if column.text_codes and column.item_code:
            codes = {NOT_ANSWERED: "Not answered"}
        if codes:
            labels |= {key(code): text for code, text in codes.items()}
            missing[column.name] = [key(code) for code in codes]
        if labels:
            value_labels[column.name] = labels
        if column.kind == "text" and not column.text_codes:
            measure[column.name] = "nominal"
        elif column.item_code or column.text_codes or column.kind == "bool":
            measure[column.name] = "ordinal" if column.scale.count("-") == 1 else "nominal"
        else:
            measure[column.name] = "scale"
    return {
        "column_labels": {column.name: column.label for column in columns},
        "variable_value_labels": value_labels,
        "missing_ranges": missing,
        "variable_measure": measure,
        "variable_format": {c.name: SPSS_FORMATS[c.kind] for c in columns if c.kind in SPSS_FORMATS},
    }


def write_sav(reader: ChunkReader, path: Path, tick: Callable[[pa.Table], None], _bom: bool) -> int:
    """pyreadstat writes a whole data frame at once: the chunks are copied, in their SPSS form,
    into one array per column allocated for every row at the start (answers and whole ratings
    as one-byte codes, ids in the narrowest integers, repeated text as shared strings), so the
    data is held once and not also in pieces."""
    import pyreadstat

    asked = _asked_codes()
    expected = 0 if reader.request.long else count_responses(reader.session, reader.request)
    columns: dict[str, np.ndarray] = {}
    so_far = _SoFar()
    rows = 0
    for table in prefetched(reader.chunks()):
        for name, values in _spss_columns(table, reader.columns, asked, so_far).items():
            columns[name] = _placed_at(columns.get(name), values, rows, expected)
        rows += table.num_rows
        tick(table)
    so_far.texts.clear()
    if not columns:
        columns = _spss_columns(reader.schema.empty_table(), reader.columns, asked)
    # Column by column into separate blocks: a frame built from a dict would copy them all at once.
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    for name in list(columns):
        values = columns.pop(name)[:rows]
        # Text stays as Python objects (shared strings); a string dtype would copy every value.
        frame[name] = (
            pd.Series(values, index=frame.index, dtype=object, copy=False)
            if values.dtype == object
            else values
        )
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label=f"Relationship Pulse responses, exported {datetime.now():%Y-%m-%d %H:%M}",
        **spss_metadata(
            reader.columns,
            frozenset(name for name, kind in frame.dtypes.items() if kind.kind in "iu"),
            so_far.codes,
        ),
    )
    return len(frame)
