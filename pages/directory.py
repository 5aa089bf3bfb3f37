"""Accounts and contacts: segment, owner, roles and buying influence, kept right by hand."""

from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.tables import CONTACT_ROLES
from pages.common import engine, reader_scope, team_page, visible_accounts
from survey.accounts.directory import (
    LANGUAGES,
    DirectoryError,
    account_in_scope,
    named_contacts,
    update_account,
    update_contacts,
)

user = team_page()
scope = reader_scope()
st.title("Accounts and contacts")
choices = visible_accounts(scope)
account_id = st.selectbox(
    "Account", list(choices), format_func=cast(Callable[[Any], str], choices.get), key="directory_account"
)
with session_scope(engine()) as session:
    account = account_in_scope(session, account_id, scope)
    contacts = named_contacts(session, account_id, scope)

with st.form("account_form"):
    left, right = st.columns(2)
    changes = {
        "segment": left.text_input("Segment", account.segment),
        "tier": left.text_input("Tier", account.tier),
        "region": right.text_input("Region", account.region),
        "industry": right.text_input("Industry", account.industry),
    }
    if user.is_admin:
        changes["owner"] = st.text_input("Owner (the account manager's user name)", account.owner)
    else:
        st.caption(f"Owner: {account.owner or '—'} (admins assign accounts)")
    save_account = st.form_submit_button("Save the account", disabled=not user.can_change)

st.subheader("Contacts")
frame = pd.DataFrame(
    [
        {"id": c.id, "email": c.email, "name": c.name, "role": c.role,
         "buying_influence": c.buying_influence, "language": c.language}
        for c in contacts
    ],
    columns=["id", "email", "name", "role", "buying_influence", "language"],
)  # fmt: skip
edited = st.data_editor(
    frame,
    hide_index=True,
    width="stretch",
    disabled=["id", "email"] if user.can_change else True,
    column_config={
        "role": st.column_config.SelectboxColumn("role", options=list(CONTACT_ROLES), required=True),
        "language": st.column_config.SelectboxColumn("language", options=list(LANGUAGES), required=True),
        "buying_influence": st.column_config.NumberColumn(
            "buying influence", min_value=0.0, max_value=1.0, step=0.1
        ),
    },
    key="contacts_editor",
)
save_contacts = st.button("Save the contacts", disabled=not user.can_change or frame.empty)

if save_account or save_contacts:
    try:
        with session_scope(engine()) as session:
            if save_account:
                update_account(session, account_id, changes, scope=scope, may_reassign=user.is_admin)
            else:
                update_contacts(session, account_id, edited.to_dict("records"), scope=scope)
    except DirectoryError as refused:
        st.error("Nothing was saved: " + "; ".join(refused.problems))
    else:
        st.success("Saved.")
