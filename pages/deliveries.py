"""Deliveries: every email, chat message and webhook call the app sends, and how it went."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, require_admin
from survey.loop.outbox import STATUSES, attempts_of, counts, recent, retry_failed

require_admin()
st.set_page_config(layout="wide")
st.title("Deliveries")
st.caption(
    "Alerts, digests, escalations, replies to customers, chat messages and webhook calls are recorded with "
    "what caused them and delivered by the worker, with retries after 30 s, 1, 2, 5, 15 and 30 minutes and "
    "then hourly up to 8 hours. Failed means every try failed."
)

with session_scope(engine()) as session:
    totals = counts(session)
cards = st.columns(len(STATUSES))
for card, shown_status in zip(cards, STATUSES, strict=True):
    card.metric(shown_status.capitalize(), totals[shown_status], border=True)

if totals["failed"] and st.button(f"Try the {totals['failed']} failed again", key="retry_failed"):
    with session_scope(engine()) as session:
        again = retry_failed(session, now=datetime.now(UTC))
    st.success(f"{again} delivery(ies) will be tried again within a minute.")

status = st.selectbox(
    "Status", [None, *STATUSES], format_func=lambda s: "All" if s is None else s.capitalize(), key="dl_status"
)
with session_scope(engine()) as session:
    rows = recent(session, status=status)
if not rows:
    st.info("Nothing has been sent yet." if status is None else f"No {status} deliveries.")
    st.stop()
frame = pd.DataFrame(
    [
        {
            "id": row.id,
            "recorded": row.created,
            "channel": row.channel,
            "what": row.topic,
            "to": row.target,
            "status": row.status,
            "tries": row.attempts,
            "next try": row.next_attempt,
            "sent": row.sent,
            "reason": row.last_error,
        }
        for row in rows
    ]
)
st.dataframe(frame, hide_index=True, width="stretch")

chosen = st.selectbox(
    "Every try of one delivery", [row.id for row in rows], key="dl_event", format_func=lambda i: f"#{i}"
)
with session_scope(engine()) as session:
    tries = attempts_of(session, chosen)
if tries:
    st.dataframe(
        pd.DataFrame(
            [
                {"at": t.at, "worker": t.worker, "ok": t.ok, "answer": t.detail, "ms": t.duration_ms}
                for t in tries
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("Not tried yet.")
