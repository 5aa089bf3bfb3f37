"""Imports are bounded while they read: rows counted as they stream, an .xlsx's unpacked size
checked before it is unpacked, and a sheet's claimed size not trusted. A small file that
expands to millions of rows is refused within seconds, in little memory, naming why."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from survey.imports.tabular import MAX_EXPANDED_BYTES, MAX_ROWS, TableImportError, read_table
from tests.xlsx_bombs import sheet_with_rows

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("account", "period")

MEASURE = """
import json, sys, time
from pathlib import Path
from survey.imports.tabular import TableImportError, read_table
data = Path(sys.argv[1]).read_bytes()
started = time.perf_counter()
try:
    read_table(data, ("account", "period"), filename="bomb.xlsx")
    outcome = "accepted"
except TableImportError as error:
    outcome = str(error)
# VmHWM, not ru_maxrss: the latter keeps the parent's size from before exec.
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps({"seconds": time.perf_counter() - started, "outcome": outcome, "peak_mb": peak_kb / 1024}))
"""


def measured(path: Path) -> dict[str, object]:
    """Read ``path`` in a fresh process: how long, what came of it, and the peak memory."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_small_xlsx_that_unpacks_to_millions_of_rows_is_refused_quickly_in_little_memory(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(sheet_with_rows(3_000_000))
    assert bomb.stat().st_size < 1_000_000  # well under the 5 MB upload cap
    result = measured(bomb)
    assert "unpacks to" in str(result["outcome"])
    assert float(result["seconds"]) < 3  # type: ignore[arg-type]
    assert float(result["peak_mb"]) < 300  # type: ignore[arg-type]


def test_rows_past_the_limit_are_refused_while_streaming(tmp_path):
    data = sheet_with_rows(MAX_ROWS + 50)
    assert len(data) < 200_000
    started = time.perf_counter()
    with pytest.raises(TableImportError, match=f"more than {MAX_ROWS:,} rows"):
        read_table(data, COLUMNS, filename="many.xlsx")
    assert time.perf_counter() - started < 30


def test_rows_past_the_limit_in_a_csv_are_refused_too():
    data = ("account,period\n" + "7,2026\n" * (MAX_ROWS + 5)).encode()
    with pytest.raises(TableImportError, match="rows; split it"):
        read_table(data, COLUMNS)


def test_a_sheet_claiming_sixteen_thousand_columns_and_a_million_rows_reads_only_what_is_there():
    data = sheet_with_rows(3, dimension='<dimension ref="A1:XFD1048576"/>')
    started = time.perf_counter()
    table = read_table(data, COLUMNS, filename="claims.xlsx")
    assert len(table.rows) == 3
    assert time.perf_counter() - started < 2


def test_a_sheet_at_the_limits_is_still_read():
    table = read_table(sheet_with_rows(1_000), COLUMNS, filename="fine.xlsx")
    assert len(table.rows) == 1_000
    assert MAX_EXPANDED_BYTES >= 10 * 5_000_000


def test_a_column_named_twice_is_refused_not_read_from_the_first():
    data = b"account,period,Account\nAcme,2026,Other\n"
    with pytest.raises(TableImportError) as refused:
        read_table(data, COLUMNS)
    assert [(p.row, p.column) for p in refused.value.problems] == [(1, "account")]
    assert "more than once" in str(refused.value)


def test_the_server_takes_no_upload_larger_than_an_import_may_be():
    import tomllib

    from survey.imports.tabular import MAX_BYTES

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert config["maxUploadSize"] * 1_000_000 >= MAX_BYTES  # a full 5 MB file still goes up
    assert config["maxUploadSize"] <= 5  # and nothing larger: Streamlit's default is 200
    assert config["enableXsrfProtection"] is True
