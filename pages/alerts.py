"""My alerts: how each user hears about new follow-ups, and whether they get the weekly digest."""

from collections.abc import Callable
from typing import Any, cast

import streamlit as st

from models.db import session_scope
from models.tables import User
from pages.common import engine, plain, team_page
from survey.loop.preferences import MODES, REASONS, PreferenceError, preference_of, save

user = team_page()
st.title("My alerts")
LABELS = {"detractor": "A detractor (recommendation 0–6)", "moment": "A disappointing or frustrating moment",
          "drop": "A sharp drop since the contact's last answer"}  # fmt: skip
MODE_LABELS = {"immediately": "Email me at once", "digest": "In my daily digest", "off": "Not at all"}

with session_scope(engine()) as session:
    preference = preference_of(session, user.username)
    address = session.get_one(User, user.id).email

if address:
    st.caption(f"Emails go to {plain(address)}.")
else:
    st.warning("Your user has no email address, so nothing can reach you. Ask an admin to add one.")
st.caption("Alerts concern the accounts you own. Follow-ups that go overdue are escalated to the admins.")

with st.form("alerts"):
    modes = {
        reason: st.radio(
            LABELS[reason],
            MODES,
            index=MODES.index(getattr(preference, reason)),
            format_func=cast(Callable[[Any], str], MODE_LABELS.get),
            horizontal=True,
            key=f"mode_{reason}",
        )
        for reason in REASONS
    }
    weekly = st.toggle("The weekly digest (Mondays)", value=preference.weekly_digest, key="weekly_digest")
    language = st.selectbox(
        "Language of my emails", ["en", "de"], index=["en", "de"].index(preference.language),
        format_func=cast(Callable[[Any], str], {"en": "English", "de": "Deutsch"}.get), key="alert_language",
    )  # fmt: skip
    if st.form_submit_button("Save", type="primary"):
        try:
            with session_scope(engine()) as session:
                save(session, user.username, language=language, modes=modes, weekly_digest=weekly)
        except PreferenceError as error:
            st.error(f"{plain(str(error))}. Nothing was changed.")
        else:
            st.success("Saved.")
