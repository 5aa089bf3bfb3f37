"""Where the invitations stand: sent, opened, answered, expired or failed, and response rates."""

from datetime import UTC, datetime

import streamlit as st

from models.db import session_scope
from pages.common import engine, reader_scope, team_page
from survey.sending.status import STATUSES, report

user = team_page()
scope = reader_scope()
st.set_page_config(layout="wide")
st.title("Invitations")

with session_scope(engine()) as session:
    data = report(session, now=datetime.now(UTC), scope=scope)
frame = data.invitations
if frame.empty:
    st.info("No invitations yet. A CRM sends them through the API, or use `python -m survey invite --send`.")
    st.stop()

counts = frame["status"].value_counts()
cards = st.columns(len(STATUSES) + 1)
for card, status in zip(cards, STATUSES, strict=False):
    card.metric(status.capitalize(), int(counts.get(status, 0)), border=True)
median = data.median_hours_to_response
cards[-1].metric(
    "Median time to answer",
    "—" if median is None else (f"{median:.0f} h" if median < 48 else f"{median / 24:.1f} days"),
    help="From the interaction to the submitted answers.",
    border=True,
)

share = st.columns(2)
share[0].metric(
    "Bounce rate",
    "—" if data.bounce_rate is None else f"{data.bounce_rate:.1%}",
    help=f"{data.bounced} of {len(frame)} invitations bounced for good (python -m survey process-bounces).",
    border=True,
)
share[1].metric(
    "Opt-out rate",
    "—" if data.opt_out_rate is None else f"{data.opt_out_rate:.1%}",
    help=f"{data.opted_out} of {data.contacts} contacts invited have opted out of survey emails.",
    border=True,
)

rate = st.column_config.ProgressColumn("Response rate", format="percent", min_value=0, max_value=1)
st.subheader("Funnel: sent → clicked → completed, by form and touchpoint")
st.caption(
    "The form is decided when an invitation is created: a pulse, or the full check-up. "
    "Clicked counts links opened in a browser; a tap on an answer in the email only chooses it, "
    "nothing is stored until the respondent submits."
)
rate_columns = {
    name: st.column_config.ProgressColumn(name.capitalize(), format="percent", min_value=0, max_value=1)
    for name in ("click rate", "completion rate")
}
st.dataframe(data.funnel, hide_index=True, width="stretch", column_config=rate_columns)

left, middle, right = st.columns(3)
for column, table, title in (
    (left, data.by_touchpoint, "By touchpoint"),
    (middle, data.by_account, "By account"),
    (right, data.by_manager, "By account manager"),
):
    column.subheader(title)
    column.dataframe(table, hide_index=True, width="stretch", column_config={"response rate": rate})

st.subheader("Every invitation, newest first")
chosen = st.multiselect("Status", STATUSES, placeholder="All statuses", key="invitation_status")
shown = frame[frame["status"].isin(chosen)] if chosen else frame
st.dataframe(shown, hide_index=True, width="stretch")
