"""Overview for account teams: where each relationship indicator stands and how it moves."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page
from survey.charts.common import trend_small_multiples
from survey.instrument.definition import load_instrument
from survey.reporting.intervals import change_reading, effective
from survey.reporting.overview import WINDOW_MONTHS, latest_responses, overview

user = team_page()

st.set_page_config(layout="wide")
settings = get_settings()
now = datetime.now(UTC)

scope = reader_scope()
with session_scope(engine()) as session:
    data = overview(session, now=now, min_n=settings.min_n, scope=scope)
    latest = latest_responses(session, limit=20, scope=scope)
instrument = load_instrument(data.version or None)
labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}

st.title("Overview")
st.caption(
    f"{'All accounts' if scope.is_everything else 'Your accounts'}. Scores run from 0 to 100; the cards "
    f"cover {data.window[0]} to {data.window[1]} (the last {WINDOW_MONTHS} months) and their change "
    f"compares them with {data.previous[0]} to {data.previous[1]}. Figures from fewer than "
    f"{settings.min_n} responses, or from fewer than {settings.min_n} different people, are not shown."
)

if not data.indicators and latest.empty:
    st.info("No responses yet. Send a survey with `python -m survey invite --help`, or load the demo data.")
    st.stop()

cards = st.columns(len(labels) + 1)
for card, (code, label) in zip(cards, labels.items(), strict=False):
    summary = data.indicators.get(code)
    if summary is None or summary.score_100 is None:
        card.metric(
            label,
            "—",
            help=f"Fewer than {settings.min_n} responses, or people, in the last {WINDOW_MONTHS} months.",
        )
        continue
    card.metric(
        label,
        f"{summary.score_100:.0f}",
        delta=None if summary.change is None else f"{summary.change:+.1f}",
        help=f"n = {summary.n}{effective(summary.n, summary.n_eff)}, 95% CI "
        f"{summary.low:.0f}–{summary.high:.0f}"
        + ("" if summary.previous_n is None else f" (previous period n = {summary.previous_n})")
        + ". The interval "
        "allows for answers from one account being alike (clustered by account).",
        border=True,
    )
    # The interval and n are printed, not only in a tooltip that a phone never shows.
    card.caption(
        f"95% CI {summary.low:.0f}–{summary.high:.0f} · n = {summary.n}{effective(summary.n, summary.n_eff)}"
    )
    card.caption(change_reading(summary.change, summary.change_interval, "the 3 months before"))
nps = data.nps
nps_shown = data.nps_shown and nps.nps is not None
cards[-1].metric(
    "NPS",
    f"{nps.nps:+.0f}" if nps_shown else "—",
    help=f"{nps.promoters} promoters, {nps.passives} passives, {nps.detractors} detractors (n = {nps.n}), "
    f"95% CI {nps.low:+.0f} to {nps.high:+.0f}"
    if nps_shown
    else f"Fewer than {settings.min_n} people answered in the last {WINDOW_MONTHS} months.",
    border=True,
)
if nps_shown:
    cards[-1].caption(f"95% CI {nps.low:+.0f} to {nps.high:+.0f} · n = {nps.n}{effective(nps.n, nps.n_eff)}")

if data.trend.empty:
    st.info(f"No month has {settings.min_n} or more responses yet.")
else:
    st.plotly_chart(trend_small_multiples(data.trend, labels), width="stretch")

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
