"""Admins carry out privacy requests: erasing a contact, purging old comments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, require_admin
from survey.accounts.directory import named_contacts
from survey.accounts.profile import list_accounts
from survey.people.privacy import PrivacyError, erase_contact, purge_comments, retention_cutoff, was_erased

FLASH = "privacy_flash"
admin = require_admin()
st.title("Privacy")

flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])

st.subheader("Erase a contact")
st.write(
    "On a person's request, their name, email, comments and every free text they gave are removed "
    "for good and their answers become anonymous. Their scores stay in the totals, without a name. "
    "This cannot be undone."
)
with session_scope(engine()) as session:
    accounts = {choice.id: choice.name for choice in list_accounts(session)}
account_id = st.selectbox(
    "Account",
    list(accounts),
    format_func=cast(Callable[[Any], str], accounts.get),
    index=None,
    key="erase_account",
)
if account_id is not None:
    chosen = st.session_state.get("erase_contact")
    with session_scope(engine()) as session:
        contacts = {
            c.id: f"{c.name} <{c.email}>" if c.name else c.email for c in named_contacts(session, account_id)
        }
        gone = chosen is not None and chosen not in contacts and was_erased(session, chosen)
    if gone:
        st.warning(f"Contact #{chosen} was erased meanwhile, by someone else. Nothing was changed.")
    contact_id = st.selectbox(
        "Contact",
        list(contacts),
        format_func=cast(Callable[[Any], str], contacts.get),
        index=None,
        key="erase_contact",
    )
    if contact_id is not None:
        confirm = st.text_input("Type ERASE to confirm", key="erase_confirm")
        if st.button("Erase this contact's personal data", type="primary", disabled=confirm != "ERASE"):
            try:
                with session_scope(engine()) as session:
                    done = erase_contact(session, contact_id, actor=admin.username, now=datetime.now(UTC))
            except PrivacyError as refused:
                st.session_state[FLASH] = ("error", f"{refused}. Nothing was changed.")
            else:
                st.session_state[FLASH] = (
                    "success",
                    f"Contact #{done.contact_id} erased: {done.responses} response(s) anonymised, "
                    f"{done.drafts} unfinished survey(s) deleted.",
                )
            st.session_state.pop("erase_contact", None)
            st.session_state.pop("erase_confirm", None)
            st.rerun()

st.subheader("Comment retention")
months = get_settings().comment_retention_months
if months < 1:
    st.write(
        "Comments are kept without a time limit. Set `PULSE_COMMENT_RETENTION_MONTHS` to purge older "
        "ones (`python -m survey purge-comments` from a daily cron job does it unattended)."
    )
else:
    cutoff = retention_cutoff(datetime.now(UTC), months)
    st.write(f"Comments are kept for {months} months: those submitted before {cutoff:%Y-%m-%d} are purged.")
    if st.button("Purge them now"):
        with session_scope(engine()) as session:
            purged = purge_comments(session, months=months, now=datetime.now(UTC), actor=admin.username)
        st.session_state[FLASH] = ("success", f"{purged} comment(s) purged.")
        st.rerun()
