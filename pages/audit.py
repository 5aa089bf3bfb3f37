"""Admins read the audit trail: sign-ins, failures, exports, user changes, erasures."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, require_admin
from survey.people.audit import ACTIONS, recent

require_admin()
st.title("Audit log")

left, right = st.columns(2)
action = left.selectbox("Action", [None, *ACTIONS], format_func=lambda a: "All" if a is None else a)
actor = right.text_input("User (exact name)").strip().lower() or None
with session_scope(engine()) as session:
    events = recent(session, limit=500, action=action, actor=actor)
if not events:
    st.info("No events match.")
else:
    # A data frame shows text as text: names typed at the sign-in form are never rendered.
    st.dataframe(
        pd.DataFrame(
            {
                "When (UTC)": [e.at for e in events],
                "User": [e.actor for e in events],
                "Action": [e.action for e in events],
                "Detail": [e.detail for e in events],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(f"The newest {len(events)} events.")
