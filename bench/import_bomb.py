"""A spreadsheet just under the 5 MB upload cap that unpacks to tens of millions of rows:
how long until the import refuses it, and how much memory that takes.

Builds the .xlsx (a hand-written sheet of two-cell rows, deflated), then reads it through
the imports' own reader (``survey.imports.tabular.read_table``) in a fresh process. One line:
``file_mb=… rows=… unpacked_mb=… refused_s=… peak_rss_mb=… outcome=…``.

    python -m bench.import_bomb [--rows 38000000]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NS = "http://schemas.openxmlformats.org"
PARTS = {
    "[Content_Types].xml": f'<Types xmlns="{NS}/package/2006/content-types"><Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{NS}/package/2006/relationships"><Relationship Id="rId1" '
    f'Type="{NS}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>",
    "xl/workbook.xml": f'<workbook xmlns="{NS}/spreadsheetml/2006/main" xmlns:r="{NS}/officeDocument/2006/'
    'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{NS}/package/2006/relationships"><Relationship '
    f'Id="rId1" Type="{NS}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>",
}
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


def build(rows: int) -> tuple[bytes, int]:
    out = io.BytesIO()
    row = b"<row><c><v>7</v></c><c><v>2026</v></c></row>"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{NS}/spreadsheetml/2006/main"><sheetData>'.encode())
            sheet.write(
                b'<row><c t="inlineStr"><is><t>account</t></is></c>'
                b'<c t="inlineStr"><is><t>period</t></is></c></row>'
            )
            block = row * 100_000
            for _ in range(rows // 100_000):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
        unpacked = sum(entry.file_size for entry in archive.infolist())
    return out.getvalue(), unpacked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=38_000_000)
    options = parser.parse_args()
    data, unpacked = build(options.rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bomb.xlsx"
        path.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"file_mb={len(data) / 1e6:.2f} rows={options.rows} unpacked_mb={unpacked / 1e6:.0f} "
        f"refused_s={result['seconds']:.3f} peak_rss_mb={result['peak_mb']:.0f} outcome={result['outcome']!r}"
    )


if __name__ == "__main__":
    main()
