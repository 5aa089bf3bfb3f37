"""Admins manage who may sign in and with which role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from sqlmodel import Session

from models.db import session_scope
from models.tables import USER_ROLES
from pages.common import engine, require_admin
from survey.accounts.profile import account_owners
from survey.people.limits import locked_names
from survey.people.users import UserError, add_user, list_users, set_active, set_password, set_role

ROLE_HELP = {
    "admin": "everything, including users and privacy requests",
    "manager": "their own accounts (where they are the owner), and acting on them",
    "analyst": "reads and exports everything, changes nothing",
}
FLASH = "users_flash"

admin = require_admin()
st.title("Users")

flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])

with session_scope(engine()) as session:
    users = list_users(session)
    locks = locked_names(session, datetime.now(UTC))
    owners = account_owners(session)

st.dataframe(
    pd.DataFrame(
        {
            "User": [u.username for u in users],
            "Name": [u.display_name for u in users],
            "Email": [u.email or "" for u in users],
            "Role": [u.role for u in users],
            "Active": [u.active for u in users],
            "Password": ["set" if u.password_hash else "single sign-on only" for u in users],
            # Locked from at least one address; a new password lifts it everywhere.
            "Locked until": [locks.get(u.username) for u in users],
            "Last sign-in": [u.last_sign_in_at for u in users],
        }
    ),
    hide_index=True,
    width="stretch",
)
orphaned = sorted(o for o in owners - {u.username for u in users} if o)
if orphaned:
    st.caption(
        "Accounts are owned by these names, which no user has yet (add them as managers): "
        + ", ".join(orphaned)
    )


def _run(action: str, change: Callable[[Session], object]) -> None:
    try:
        with session_scope(engine()) as session:
            change(session)
    except UserError as refused:
        st.session_state[FLASH] = ("error", f"{action}: {refused}. Nothing was changed.")
    else:
        st.session_state[FLASH] = ("success", f"{action}: done.")


add, change = st.tabs(["Add a user", "Change a user"])
with add, st.form("add_user", clear_on_submit=True):
    username = st.text_input("User name (for managers: the owner name on their accounts)")
    display_name = st.text_input("Full name")
    email = st.text_input("Email (needed for single sign-on)")
    role = st.selectbox(
        "Role",
        USER_ROLES,
        index=USER_ROLES.index("analyst"),  # the least a new user may do, unless chosen otherwise
        format_func=lambda r: f"{r} — {ROLE_HELP[r]}",
    )
    password = st.text_input("Initial password (at least 10 characters)", type="password")
    if st.form_submit_button("Add user", type="primary"):
        _run(
            f"Add {username.strip().lower() or 'user'}",
            lambda session: add_user(
                session,
                username,
                role,
                password=password or None,
                display_name=display_name,
                email=email or None,
                actor=admin.username,
            ),
        )
        st.rerun()

with change:
    names = [u.username for u in users]
    chosen = st.selectbox("User", names, key="user_to_change")
    if chosen:
        current = next(u for u in users if u.username == chosen)
        # One box per user and stored role: a box shared by all would keep the previous user's
        # choice, and one per user alone a choice made before their role changed elsewhere.
        new_role = st.selectbox(
            "Role", USER_ROLES, index=USER_ROLES.index(current.role), key=f"new_role_{chosen}_{current.role}"
        )
        if st.button("Save role", disabled=new_role == current.role):
            _run(f"Role of {chosen}", lambda s: set_role(s, chosen, new_role, actor=admin.username))
            st.rerun()
        # One box per user, emptied once used: a password typed for one user must never be
        # one click away from being given to the next one chosen.
        password_key = f"new_pw_{chosen}"
        new_password = st.text_input(
            "New password (also lifts a lock-out)", type="password", key=password_key
        )
        if st.button("Set password", disabled=not new_password):
            _run(
                f"Password of {chosen}", lambda s: set_password(s, chosen, new_password, actor=admin.username)
            )
            st.session_state.pop(password_key, None)
            st.rerun()
        label = "Disable" if current.active else "Enable"
        if st.button(f"{label} {chosen}", type="secondary"):
            _run(
                f"{label} {chosen}", lambda s: set_active(s, chosen, not current.active, actor=admin.username)
            )
            st.rerun()
