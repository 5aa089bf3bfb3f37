"""Relationship Pulse: the Streamlit entry point.

A survey link (``/?t=<token>``) opens the respondent's survey and nothing else; every
other visit gets the account team's pages.
"""

import streamlit as st

from pages.common import prepare

st.set_page_config(page_title="Relationship Pulse", page_icon=":material/favorite:")
prepare()

# Query parameters are dropped on page changes: keep the token for the whole session.
link_token = st.query_params.get("t")
if link_token is not None:
    st.session_state["survey_token"] = link_token

if "survey_token" in st.session_state:
    pages = [st.Page("pages/survey.py", title="Your feedback", icon=":material/rate_review:", default=True)]
    navigation = st.navigation(pages, position="hidden")
else:
    navigation = st.navigation(
        {
            "Relationship Pulse": [
                st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
                st.Page("pages/followup.py", title="Follow-up", icon=":material/assignment_late:"),
                st.Page("pages/account.py", title="Account", icon=":material/business:"),
                st.Page("pages/dashboard.py", title="Dashboard", icon=":material/insights:"),
                st.Page("pages/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
                st.Page("pages/export.py", title="Export", icon=":material/download:"),
            ]
        }
    )
navigation.run()
