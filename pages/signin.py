"""The sign-in page: the only page a visitor without a survey link or a session sees."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import NOTICE_KEY, USER_KEY, engine, plain, sign_in, sso_configured
from survey.people.users import SignInError, authenticate, has_users


def client_address() -> str | None:
    """The address the sign-in came from (``None`` on this machine): failures count per address."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


st.title("Relationship Pulse")

signed_in = st.session_state.get(USER_KEY)
if signed_in is not None:
    # Only seen when this page runs on its own; app.py sends a signed-in user to the overview.
    st.success(f"Signed in as {plain(signed_in.username)}. Open the overview from the menu.")
    st.stop()

notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.info(notice, icon=":material/logout:")

with session_scope(engine()) as session:
    any_users = has_users(session)

if not any_users:
    st.warning(
        "No one can sign in yet: this installation has no users. Create the first admin on the "
        "server, in the app's folder, then reload this page:",
        icon=":material/person_add:",
    )
    st.code(".venv/bin/python -m survey user add YOUR-NAME --role admin", language="bash")
    st.caption(
        "The command asks for a password (at least 10 characters). There is no default password. "
        "Admins then add account managers and analysts on the Users page or with "
        "`python -m survey user add NAME --role manager|analyst`."
    )
    st.stop()

st.subheader("Sign in")
with st.form("sign_in"):
    username = st.text_input("User name", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")

if submitted:
    try:
        with session_scope(engine(), keep_on=(SignInError,)) as session:
            user = authenticate(
                session,
                username,
                password,
                now=datetime.now(UTC),
                allowed=get_settings().lockout_after,
                address=client_address(),
            )
    except SignInError as refused:
        st.error(str(refused), icon=":material/lock:")
    else:
        sign_in(user)
        st.rerun()

if sso_configured():
    st.divider()
    st.button("Sign in with your organisation", icon=":material/badge:", on_click=st.login)
