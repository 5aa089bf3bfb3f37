"""Export responses for SPSS, R or Excel, with the dashboard's filters."""

import shutil
import tempfile
from pathlib import Path
from typing import cast

import streamlit as st

from models.db import session_scope
from pages.common import XLSX_MIME, engine, reader_scope, team_page
from pages.filters import filter_bar
from survey.exports.rows import ExportError, ExportRequest, count_responses
from survey.exports.writers import Format, export
from survey.people import audit
from survey.reporting.dashboard import filter_options

FORMATS = {
    "csv": ("CSV (UTF-8)", "text/csv"),
    "xlsx": ("Excel: responses, indicator scores, codebook", XLSX_MIME),
    "sav": ("SPSS .sav with variable and value labels", "application/x-spss-sav"),
    "parquet": ("Parquet", "application/vnd.apache.parquet"),
}

user = team_page()
# A manager's export holds only their accounts: the scope is applied in the export's SQL.
scope = reader_scope()

with session_scope(engine()) as session:
    options = filter_options(session)
options["accounts"] = {key: name for key, name in options["accounts"].items() if scope.allows(key)}

st.title("Export")
if options["first_month"] is None:
    st.info("No responses yet: nothing to export.")
    st.stop()

filters = filter_bar(options, recent_months=None, grain=False)
left, right = st.columns(2)
fmt = left.radio("Format", list(FORMATS), format_func=lambda key: FORMATS[key][0], key="format")
long_format = right.toggle("One row per answer (long format)", key="long")
bom = right.toggle("Byte-order mark, so that Excel reads the CSV as UTF-8", key="bom", disabled=fmt != "csv")
request = ExportRequest(filters=filters, scope=scope, long=long_format)
with session_scope(engine()) as session:
    total = count_responses(session, request)
st.caption(
    f"{total:,} responses match. Text that a spreadsheet would run as a formula is prefixed with ' in CSV "
    "and Excel; anonymous responses carry no contact name, email or id. The Excel and SPSS files "
    "include a codebook of every column."
)

if st.button("Prepare the file", type="primary", disabled=total == 0, key="prepare"):
    bar = st.progress(0.0, text="Starting…")

    def progress(done: int, count: int) -> None:
        bar.progress(done / count if count else 1.0, text=f"{done:,} of {count:,} responses")

    if "export_file" in st.session_state:  # one prepared file per person at a time
        shutil.rmtree(Path(st.session_state.pop("export_file")[0]).parent, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="pulse-export-"))
    target = folder / f"responses{'-long' if long_format else ''}.{fmt}"
    try:
        with session_scope(engine()) as session:
            rows = export(
                session, cast(Format, fmt), target, request, bom=bom and fmt == "csv", progress=progress
            )
            audit.record(
                session, user.username, "export", f"{rows} rows as {fmt}{' (long)' if long_format else ''}"
            )
    except ExportError as exc:
        bar.empty()
        st.error(str(exc))
    else:
        st.session_state["export_file"] = (str(target), FORMATS[fmt][1], rows)

if "export_file" in st.session_state:
    path, mime, rows = st.session_state["export_file"]
    if Path(path).exists():
        st.success(f"{rows:,} rows ready.")
        st.download_button(
            f"Download {Path(path).name}",
            # Read at the click, not kept in memory for as long as the page is open.
            data=lambda path=path: Path(path).read_bytes(),  # type: ignore[misc]  # the default binds the path
            file_name=Path(path).name,
            mime=mime,
            key="download",
        )
