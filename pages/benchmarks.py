"""Importing and reviewing benchmark figures: industry studies and competitors' published scores."""

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.tables import Benchmark
from pages.common import engine, team_page
from survey.imports.benchmarks import (
    COLUMNS,
    BenchmarkImportError,
    import_benchmarks,
    parse_benchmarks,
    stored_benchmarks,
)
from survey.instrument.definition import load_instrument
from survey.reporting.intervals import mean_interval

user = team_page()

TEMPLATE = (
    ",".join(COLUMNS) + "\n"
    "industry,B2B services average,trust,2026,3.72,1-5,1240,0.77,Name of the study 2026\n"
    "competitor,Competitor A,satisfaction,2026-Q2,68,0-100,310,18,Competitor A annual report\n"
)


def _interval(figure: Benchmark) -> str:
    """The published figure's 95% interval on 0-100, when it states its n and sd."""
    if not figure.n or figure.sd is None or figure.n < 2:
        return "—"
    low, high = mean_interval(
        figure.value_100, figure.sd * 100 / (figure.scale_max - figure.scale_min), figure.n
    )
    return f"{low:.1f}–{high:.1f}"


def _table(figures: list[Benchmark]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Kind": [f.kind for f in figures],
            "Name": [f.name for f in figures],
            "Indicator": [f.indicator for f in figures],
            "Period": [f.period for f in figures],
            "Value": [f.value for f in figures],
            "Scale": [f"{f.scale_min:g}-{f.scale_max:g}" for f in figures],
            "On 0-100": [round(f.value_100, 1) for f in figures],
            "95% CI (0-100)": [_interval(f) for f in figures],
            "n": [f.n for f in figures],
            "sd": [f.sd for f in figures],
            "Source": [f.source for f in figures],
        }
    )


st.title("Benchmarks")
st.write(
    "Published figures to compare our indicators with. One row per figure: **kind** (competitor or "
    "industry), **name**, **indicator**, **period** (2026, 2026-Q2 or 2026-05), **value** on the stated "
    "**scale** (e.g. 1-5 or 0-100), **n** and **sd** when known, and the **source**. A file goes in "
    "whole or not at all; importing it again updates the same figures instead of adding copies."
)
st.download_button("Download a template", TEMPLATE, file_name="benchmarks-template.csv", mime="text/csv")
indicators = ", ".join(indicator.code for indicator in load_instrument().indicators)
st.caption(f"Indicators: {indicators}. Labels such as 'Control mutuality' work too.")

if not user.is_admin:
    st.caption("Admins import benchmark figures; everyone reads them here and on the dashboard.")
upload = (
    st.file_uploader("Benchmark CSV (UTF-8)", type=["csv"], key="benchmark_file") if user.is_admin else None
)
if upload is not None:
    data = upload.getvalue()
    try:
        figures = parse_benchmarks(data)
    except BenchmarkImportError as error:
        st.error(f"{upload.name} was not imported: {len(error.problems)} problem(s). Nothing was changed.")
        problems = pd.DataFrame(
            [(p.row, p.column, p.message) for p in error.problems], columns=["Row", "Column", "Problem"]
        )
        st.dataframe(problems, hide_index=True, width="stretch")
    else:
        st.success(f"{len(figures)} figure(s) are valid. Check them, then import.")
        preview = _table(figures)
        st.dataframe(preview, hide_index=True, width="stretch")
        if st.button(f"Import {len(figures)} figure(s)", type="primary"):
            with session_scope(engine()) as session:
                summary = import_benchmarks(session, data)
            st.success(f"Imported: {summary.added} added, {summary.updated} updated.")

st.subheader("Figures on file")
with session_scope(engine()) as session:
    stored = stored_benchmarks(session)
if not stored:
    st.info("No benchmark figures yet.")
else:
    st.dataframe(_table(stored), hide_index=True, width="stretch")
