"""Transactional measures (import) and who behaves like a loyal customer, segment by segment."""

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, reader_scope, team_page
from survey.behaviour.loyalty import LIKELY_LOYAL_AT, loyalty
from survey.charts.behaviour import segments_against_base
from survey.charts.common import PNG_CONFIG
from survey.imports.transactions import (
    MEASURES,
    TEMPLATE,
    TransactionImportError,
    import_transactions,
    parse_transactions,
    periods,
)

user = team_page()
scope = reader_scope()
st.set_page_config(layout="wide")
st.title("Loyalty")
st.write(
    "What customers **do**, next to what they say: sales transactions, requests for information, "
    "positive service events, referrals that led to a sale, days since the most recent purchase and "
    "since the last payment, and monetary volume, per account and period. An account above the base "
    f"average on at least {LIKELY_LOYAL_AT} of the seven measures is *likely loyal* (for the two "
    "“days since” measures, fewer days is better)."
)


def import_measures() -> None:
    """Admins import measures; the file is checked whole before anything is written."""
    with st.expander("Import measures from a CRM or accounting export", expanded=False):
        st.write(
            "One row per account and period (`2026`, `2026-Q2` or `2026-05`), CSV (UTF-8) or Excel. The "
            "account is its CRM id or its name. A file goes in whole or not at all; importing it again "
            "replaces the same account's period instead of adding a copy."
        )
        st.download_button(
            "Download the template",
            TEMPLATE.read_bytes(),
            file_name="transactions-template.csv",
            mime="text/csv",
        )
        upload = st.file_uploader("Measures file", type=["csv", "xlsx"], key="transactions_file")
        if upload is not None:
            data = upload.getvalue()
            try:
                with session_scope(engine()) as session:
                    rows = parse_transactions(session, data, upload.name)
            except TransactionImportError as error:
                st.error(
                    f"{upload.name} was not imported: {len(error.problems)} problem(s). Nothing was changed."
                )
                st.dataframe(
                    pd.DataFrame(
                        [(p.row, p.column, p.message) for p in error.problems],
                        columns=["Row", "Column", "Problem"],
                    ),
                    hide_index=True,
                    width="stretch",
                )
            else:
                st.success(f"{len(rows)} row(s) are valid.")
                if st.button(f"Import {len(rows)} row(s)", type="primary", key="import_transactions"):
                    with session_scope(engine()) as session:
                        summary = import_transactions(session, data, upload.name)
                    st.success(f"Imported: {summary.added} added, {summary.updated} updated.")


if user.is_admin:
    import_measures()
else:
    st.caption("Admins import transactional measures; everyone reads them here.")

with session_scope(engine()) as session:
    available = periods(session)
if not available:
    st.info("No transactional measures yet. Import a file above (the template shows the format).")
    st.stop()

left, right = st.columns([1, 2])
period = left.selectbox("Period", available, key="loyalty_period")
needed = left.slider("Likely loyal when above average on at least", 1, len(MEASURES), LIKELY_LOYAL_AT)
with right.expander("Weighted score: how much each measure counts"):
    st.caption(
        "The score is the weighted mean of each measure's distance from the base average in standard "
        "deviations (fewer days counts as better): 0 is an average account, +1 one sd better."
    )
    weights = {
        code: st.number_input(label, min_value=0.0, max_value=10.0, value=1.0, step=0.5, key=f"weight_{code}")
        for code, (label, _) in MEASURES.items()
    }
if sum(weights.values()) <= 0:
    st.error("At least one weight must be above 0.")
    st.stop()

with session_scope(engine()) as session:
    result = loyalty(session, period, scope=scope, weights=weights, likely_loyal_at=needed)

accounts = result.accounts
cards = st.columns(3)
cards[0].metric("Accounts in the period", len(accounts), border=True)
cards[1].metric(
    "Likely loyal",
    f"{int(accounts['likely_loyal'].sum())} ({accounts['likely_loyal'].mean():.0%})"
    if len(accounts)
    else "—",
    border=True,
)
cards[2].metric(
    "Base average of sales transactions", f"{result.base['sales_transactions'].mean or 0:.1f}", border=True
)

st.subheader("Accounts")
table = pd.DataFrame(
    {
        "Account": accounts["account"],
        "Segment": accounts["segment"],
        "Measures above average": accounts["above"],
        "Likely loyal": accounts["likely_loyal"],
        "Weighted score": accounts["score"].round(2),
        **{label: accounts[code] for code, (label, _) in MEASURES.items()},
    }
)
st.dataframe(table, hide_index=True, width="stretch")
base_line = " · ".join(
    f"{label}: {figure.mean:,.1f}"
    for (code, (label, _)) in MEASURES.items()
    if (figure := result.base[code]).mean is not None
)
st.caption(f"Base averages in {period}: {base_line}")

st.subheader("Segments against the rest of the base")
segments = result.segments


def _reading(row: pd.Series, code: str) -> str:
    better, low, high = row[f"better_{code}"], row[f"better_{code}_low"], row[f"better_{code}_high"]
    if pd.isna(better):
        return "—"
    interval = "no interval: one account" if pd.isna(low) else f"{low:+.0f} to {high:+.0f}"
    return f"{better:+.0f}% ({interval}; n = {row[f'n_{code}']:.0f} vs {row[f'n_rest_{code}']:.0f})"


st.dataframe(
    pd.DataFrame(
        {
            "Segment": segments["segment"],
            "Accounts": segments["accounts"],
            "Likely loyal": segments["likely_loyal"],
            "Mean weighted score": segments["score"].round(2),
            **{
                label: [_reading(row, code) for _, row in segments.iterrows()]
                for code, (label, _) in MEASURES.items()
            },
        }
    ),
    hide_index=True,
    width="stretch",
    column_config={"Likely loyal": st.column_config.NumberColumn(format="percent")},
)
st.caption(
    "Measure columns: how much better (+) or worse (−) the segment's mean is than the mean of every "
    "other account in the base, in percent of the latter, with the 95% interval of the difference "
    "(Welch) and the accounts with a value on each side. An interval that spans 0 is no evidence "
    "of a difference."
)
st.plotly_chart(segments_against_base(segments), width="stretch", config=PNG_CONFIG)
