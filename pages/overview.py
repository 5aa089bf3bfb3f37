"""Overview for account teams: where each relationship indicator stands and how it moves."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page
from survey.charts.common import trend_small_multiples
from survey.instrument.definition import load_instrument
from survey.reporting.overview import indicator_summary, latest_responses, monthly_trend, nps_summary

user = team_page()

WINDOW_DAYS = 90

st.set_page_config(layout="wide")
settings = get_settings()
instrument = load_instrument()
labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
now = datetime.now(UTC)

st.title("Overview")
st.caption(
    f"All accounts. Scores run from 0 to 100; the change compares the last {WINDOW_DAYS} days with the "
    f"{WINDOW_DAYS} days before. Figures from fewer than {settings.min_n} responses are not shown."
)

scope = reader_scope()
with session_scope(engine()) as session:
    summaries = {
        s.indicator: s
        for s in indicator_summary(session, now=now, days=WINDOW_DAYS, min_n=settings.min_n, scope=scope)
    }
    nps = nps_summary(session, since=now - timedelta(days=WINDOW_DAYS), min_n=settings.min_n, scope=scope)
    trend = monthly_trend(session, min_n=settings.min_n, scope=scope)
    latest = latest_responses(session, limit=20, scope=scope)

if not summaries and latest.empty:
    st.info("No responses yet. Send a survey with `python -m survey invite --help`, or load the demo data.")
    st.stop()

cards = st.columns(len(labels) + 1)
for card, (code, label) in zip(cards, labels.items(), strict=False):
    summary = summaries.get(code)
    if summary is None or summary.score_100 is None:
        card.metric(label, "—", help=f"Fewer than {settings.min_n} responses in the last {WINDOW_DAYS} days.")
        continue
    card.metric(
        label,
        f"{summary.score_100:.0f}",
        delta=None if summary.change is None else f"{summary.change:+.1f}",
        help=f"n = {summary.n} (previous period n = {summary.previous_n})",
        border=True,
    )
cards[-1].metric(
    "NPS",
    "—" if nps.nps is None else f"{nps.nps:+.0f}",
    help=f"{nps.promoters} promoters, {nps.passives} passives, {nps.detractors} detractors (n = {nps.n})",
    border=True,
)

if trend.empty:
    st.info(f"No month has {settings.min_n} or more responses yet.")
else:
    st.plotly_chart(trend_small_multiples(trend, labels), width="stretch")

st.subheader("Latest responses")
# st.table renders Markdown in cells: account and touchpoint names are escaped first.
table = pd.DataFrame(
    {
        "Submitted (UTC)": latest["submitted"].map(lambda moment: f"{moment:%Y-%m-%d %H:%M}"),
        "Account": latest["account"].map(plain),
        "Touchpoint": latest["touchpoint"].map(plain),
        "Recommend (0–10)": latest["nps"].map(lambda nps: "—" if pd.isna(nps) else f"{nps:.0f}"),
        "NPS group": latest["nps_category"].fillna("—"),
        "Mean score (0–100)": latest["score_100"].map(
            lambda score: "—" if pd.isna(score) else f"{score:.0f}"
        ),
    }
)
st.table(table, border="horizontal", hide_index=True)
