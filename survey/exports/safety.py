"""Spreadsheet formula injection: text that Excel, LibreOffice or Sheets would run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a
single quote, which spreadsheets show as text (the OWASP "CSV injection" advice). Only text
cells are touched: numbers such as -1 stay numbers.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = r"^[=+\-@\t\r]"
PREFIX = "'"


def neutralise(text: str | None) -> str | None:
    if text and text[0] in "=+-@\t\r":
        return PREFIX + text
    return text


def neutralise_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    risky = pc.match_substring_regex(values, FORMULA_START)
    quoted = pc.binary_join_element_wise(pa.scalar(PREFIX), values, "")
    return pc.if_else(risky, quoted, values)


def neutralise_table(table: pa.Table) -> pa.Table:
    """The same table with every text column neutralised."""
    for index, column in enumerate(table.schema):
        if pa.types.is_string(column.type):
            table = table.set_column(index, column, neutralise_array(table.column(index)))
    return table
