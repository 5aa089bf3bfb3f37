"""Loop metrics: how quickly and how well follow-ups are closed."""

from datetime import UTC, datetime

import streamlit as st

from models.db import session_scope
from pages.common import engine, reader_scope, team_page
from survey.followup.metrics import Median, Share, loop_metrics

team_page()
scope = reader_scope()
st.title("Loop metrics")
days = st.selectbox("Follow-ups of the last", [30, 90, 180, 365], index=1, format_func=lambda d: f"{d} days")
with session_scope(engine()) as session:
    metrics = loop_metrics(session, now=datetime.now(UTC), days=days, scope=scope)
st.caption(
    f"{metrics.follow_ups} follow-up(s) opened in the last {days} days. Medians come with a "
    "distribution-free 95% interval, shares with a Wilson 95% interval; n is how many each figure rests on."
)


def median_card(column: st.delta_generator.DeltaGenerator, title: str, median: Median) -> None:
    value = "—" if median.hours is None else f"{median.hours:.1f} h"
    interval = (
        "" if median.low is None or median.high is None else f"95% {median.low:.1f}–{median.high:.1f} h · "
    )
    column.metric(title, value, border=True, help="Median hours after the follow-up opened.")
    column.caption(f"{interval}n = {median.n}")


def share_card(column: st.delta_generator.DeltaGenerator, title: str, share: Share, help_text: str) -> None:
    value = "—" if share.share is None else f"{share.share:.0%}"
    interval = "" if share.low is None or share.high is None else f"95% {share.low:.0%}–{share.high:.0%} · "
    column.metric(title, value, border=True, help=help_text)
    column.caption(f"{interval}{share.k} of {share.n}")


first, close, sla, recovery = st.columns(4)
median_card(first, "Hours to first action", metrics.first_action)
median_card(close, "Hours to close", metrics.close)
SLA_HELP = "Of the follow-ups closed or open past their due time, those closed by their due time."
RECOVERY_HELP = "Of the detractors who answered again, those whose next recommendation was 7 or more."
share_card(sla, "Closed within the service level", metrics.within_sla, SLA_HELP)
share_card(recovery, "Recovery rate", metrics.recovery, RECOVERY_HELP)
