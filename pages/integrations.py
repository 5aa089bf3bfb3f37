"""Integrations: outbound webhooks (signed per Standard Webhooks) and team chat channels."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, plain, require_admin
from survey.loop.chat import STYLES, add_channel, list_channels, remove_channel
from survey.loop.webhooks import (
    EVENT_TYPES,
    WebhookError,
    add_endpoint,
    list_endpoints,
    remove_endpoint,
    set_active,
)

require_admin()
st.title("Integrations")
SECRET_KEY = "new_webhook_secret"

st.subheader("Webhooks")
st.caption(
    "Other systems (a CRM, a BI tool) are called when something happens. Each call is signed per the "
    "Standard Webhooks specification with the endpoint's secret (headers webhook-id, webhook-timestamp, "
    "webhook-signature), retried with backoff, and listed on the Deliveries page."
)
with session_scope(engine()) as session:
    endpoints = list_endpoints(session)
    channels = list_channels(session)

shown = st.session_state.pop(SECRET_KEY, None)
if shown is not None:
    st.success("Endpoint added. Give the receiver this signing secret now; it is not shown again here:")
    st.code(shown, language=None)

for endpoint in endpoints:
    left, middle, right = st.columns([6, 1, 1])
    state = "active" if endpoint.active else "paused"
    left.markdown(f"**#{endpoint.id}** {plain(endpoint.url)}  \n{plain(endpoint.events)} · {state}")
    if middle.button("Pause" if endpoint.active else "Resume", key=f"wh_toggle_{endpoint.id}"):
        with session_scope(engine()) as session:
            set_active(session, endpoint.id or 0, not endpoint.active)
        st.rerun()
    if right.button("Remove", key=f"wh_remove_{endpoint.id}"):
        with session_scope(engine()) as session:
            remove_endpoint(session, endpoint.id or 0)
        st.rerun()
if not endpoints:
    st.info("No webhooks yet.")

with st.form("add_webhook", clear_on_submit=True):
    url = st.text_input("URL", placeholder="https://crm.example.com/hooks/pulse")
    events = st.multiselect("Events", EVENT_TYPES, default=["followup.created"])
    if st.form_submit_button("Add webhook"):
        try:
            with session_scope(engine()) as session:
                added = add_endpoint(session, url, events, now=datetime.now(UTC))
                secret = added.secret
        except WebhookError as error:
            st.error(f"{plain(str(error))}. Nothing was added.")
        else:
            st.session_state[SECRET_KEY] = secret
            st.rerun()

st.subheader("Chat channels")
st.caption(
    "A Slack or Microsoft Teams channel hears about every new follow-up through its incoming-webhook URL: "
    "for every account, or for one account manager's accounts."
)
if channels:
    st.dataframe(
        pd.DataFrame(
            [
                {"id": c.id, "name": c.name, "format": c.style, "accounts of": c.owner or "everyone"}
                for c in channels
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    names = {c.id: c.name for c in channels}
    gone = st.selectbox(
        "Remove a channel", [None, *names], key="chat_remove", format_func=lambda i: names.get(i, "—")
    )
    if gone is not None and st.button("Remove channel", key="chat_remove_button"):
        with session_scope(engine()) as session:
            remove_channel(session, gone)
        st.rerun()
with st.form("add_chat", clear_on_submit=True):
    name = st.text_input("Name", placeholder="Key accounts team")
    chat_url = st.text_input("Incoming-webhook URL")
    style = st.selectbox(
        "Format",
        STYLES,
        format_func=cast(Callable[[Any], str], {"slack": "Slack", "teams": "Microsoft Teams"}.get),
    )
    owner = st.text_input("Only the accounts of (sign-in name; empty for all)")
    if st.form_submit_button("Add channel"):
        try:
            with session_scope(engine()) as session:
                add_channel(session, name, chat_url, style, owner=owner, now=datetime.now(UTC))
        except WebhookError as error:
            st.error(f"{plain(str(error))}. Nothing was added.")
        else:
            st.rerun()
