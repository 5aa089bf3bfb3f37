"""Relationship Pulse: the Streamlit entry point.

A survey link (``/?t=<token>``) opens the respondent's survey and nothing else; every
other visitor signs in first and then sees the pages their role allows.
"""

import streamlit as st

from pages.common import adopt_sso_user, current_user, prepare

st.set_page_config(page_title="Relationship Pulse", page_icon=":material/favorite:")
prepare()

# Query parameters are dropped on page changes: keep the token for the whole session.
link_token = st.query_params.get("t")
if link_token is not None:
    st.session_state["survey_token"] = link_token
    # The 0-10 answer the respondent tapped in the email: shown chosen, stored only on submit.
    st.session_state["first_answer"] = st.query_params.get("nps")


def _team_pages(is_admin: bool, is_analyst: bool = False) -> dict[str, list[st.Page]]:
    sections = {
        "Relationship Pulse": [
            st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
            st.Page("pages/my_accounts.py", title="My accounts", icon=":material/format_list_numbered:"),
            st.Page("pages/followup.py", title="Follow-up", icon=":material/assignment_late:"),
            st.Page("pages/loop.py", title="Loop metrics", icon=":material/avg_time:"),
            st.Page("pages/alerts.py", title="My alerts", icon=":material/notifications:"),
            st.Page("pages/account.py", title="Account", icon=":material/business:"),
            st.Page("pages/dashboard.py", title="Dashboard", icon=":material/insights:"),
            st.Page("pages/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
            st.Page("pages/timeline.py", title="Account timeline", icon=":material/timeline:"),
            st.Page("pages/loyalty.py", title="Loyalty", icon=":material/loyalty:"),
            st.Page("pages/predictors.py", title="What predicts what", icon=":material/query_stats:"),
            st.Page("pages/what_works.py", title="What works", icon=":material/science:"),
            st.Page("pages/comments.py", title="Comments", icon=":material/forum:"),
            st.Page("pages/sending.py", title="Send surveys", icon=":material/send:"),
            st.Page("pages/directory.py", title="Accounts and contacts", icon=":material/contacts:"),
            st.Page("pages/invitations.py", title="Invitations", icon=":material/outgoing_mail:"),
            st.Page("pages/export.py", title="Export", icon=":material/download:"),
        ]
    }
    if is_admin or is_analyst:
        sections["Relationship Pulse"].append(
            st.Page("pages/quality.py", title="Instrument quality", icon=":material/fact_check:")
        )
    if is_admin:
        sections["Administration"] = [
            st.Page("pages/users.py", title="Users", icon=":material/group:"),
            st.Page("pages/touchpoints.py", title="Touchpoints", icon=":material/route:"),
            st.Page("pages/instrument.py", title="Instrument versions", icon=":material/quiz:"),
            st.Page("pages/privacy.py", title="Privacy", icon=":material/shield_person:"),
            st.Page("pages/audit.py", title="Audit log", icon=":material/history:"),
            st.Page("pages/deliveries.py", title="Deliveries", icon=":material/outbox:"),
            st.Page("pages/integrations.py", title="Integrations", icon=":material/webhook:"),
        ]
    return sections


if "survey_token" in st.session_state:
    # A respondent never reaches a team page, whatever else the session holds.
    pages = [st.Page("pages/survey.py", title="Your feedback", icon=":material/rate_review:", default=True)]
    navigation = st.navigation(pages, position="hidden")
else:
    adopt_sso_user()
    user = current_user()
    if user is None:
        pages = [st.Page("pages/signin.py", title="Sign in", icon=":material/login:", default=True)]
        navigation = st.navigation(pages, position="hidden")
    else:
        # Each page shows who is signed in and checks the sign-in again (see pages/common.py).
        navigation = st.navigation(_team_pages(user.is_admin, user.role == "analyst"))
navigation.run()
