"""One account's journey: each interaction and survey result on a time line across touchpoints."""

from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, reader_scope, team_page, visible_accounts
from survey.accounts.timeline import EACH_EVENT_LIMIT, account_timeline, period_grain
from survey.charts.behaviour import timeline_chart
from survey.charts.common import PNG_CONFIG

# The account page sets this when it links here, so the same account opens.
CHOSEN = "timeline_account"

user = team_page()
scope = reader_scope()
st.set_page_config(layout="wide")
st.title("Account timeline")

choices = visible_accounts(scope)

ids = list(choices)
preferred = st.session_state.get(CHOSEN)
account_id = st.selectbox(
    "Account",
    ids,
    index=ids.index(preferred) if preferred in choices else 0,
    format_func=cast(Callable[[Any], str], choices.get),  # option labels are plain text, never Markdown
    key="timeline_pick",
)
st.session_state[CHOSEN] = account_id
with session_scope(engine()) as session:
    timeline = account_timeline(session, account_id, scope=scope)


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} days"


cards = st.columns(4)
cards[0].metric("Interactions · surveys", f"{timeline.interactions} · {timeline.surveys}", border=True)
cards[1].metric("Average time between interactions", days(timeline.mean_days_between), border=True)
cards[2].metric(
    "First marketing contact to sale",
    days(timeline.marketing_to_sale_days),
    help="From the first marketing interaction to the first purchase after it.",
    border=True,
)
cards[3].metric(
    "Sale to first service event",
    days(timeline.sale_to_service_days),
    help="From that sale (or the first purchase, without a marketing contact) to the first service "
    "call after it.",
    border=True,
)

if timeline.events.empty:
    st.info("This account has no interactions yet.")
    st.stop()

if len(timeline.events) > EACH_EVENT_LIMIT:
    grain = period_grain(timeline.events)
    st.caption(
        f"{len(timeline.events):,} events: each mark is one {grain}'s events at a touchpoint, a circle "
        f"sized by its interactions and a diamond coloured by its surveys' mean score (its details give "
        "the 95% interval and n). The table below lists every event."
    )
st.plotly_chart(timeline_chart(timeline, choices[account_id]), width="stretch", config=PNG_CONFIG)

left, right = st.columns([1, 2])
with left:
    st.subheader("Preferred channels")
    st.dataframe(
        timeline.channels.rename(
            columns={"channel": "Channel", "interactions": "Interactions", "share": "Share"}
        ),
        hide_index=True,
        column_config={"Share": st.column_config.NumberColumn(format="percent")},
    )
with right:
    st.subheader("Events")
    events = timeline.events
    st.dataframe(
        pd.DataFrame(
            {
                "When": events["when"].map(lambda moment: f"{moment:%Y-%m-%d %H:%M}"),
                "Event": events["kind"].str.capitalize(),
                "Touchpoint": events["touchpoint"],
                "Channel": events["channel"],
                "Value": events["value"],
                "Mean score (0–100)": events["score_100"].round(0),
                "Recommendation (0–10)": events["nps"],
            }
        ).iloc[::-1],
        hide_index=True,
        width="stretch",
    )
