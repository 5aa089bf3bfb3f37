"""One account: contacts and who answered, the influence-weighted scores, the relationship level
as the customer and as the account manager see it, and the quarterly trend."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page, visible_accounts
from survey.accounts.profile import (
    VALUE_LEVEL_MEANINGS,
    VALUE_LEVELS,
    AccountError,
    account_view,
    set_manager_value_level,
)
from survey.charts.account import account_trend
from survey.instrument.definition import load_instrument

user = team_page()

FLASH = "account_flash"

st.set_page_config(layout="wide")
settings = get_settings()
labels = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}
now = datetime.now(UTC)


def level_name(level: int | None) -> str:
    return "not set" if level is None else f"{level} · {VALUE_LEVELS[level]}"


def save_manager_level(account_id: int, key: str) -> None:
    level = st.session_state.get(key)
    try:
        with session_scope(engine()) as session:
            set_manager_value_level(session, account_id, level, scope=reader_scope())
    except AccountError as error:
        st.session_state[FLASH] = ("error", str(error))
        return
    st.session_state[FLASH] = ("success", f"Saved the account manager's level: {level_name(level)}.")


st.title("Account")

scope = reader_scope()
choices = visible_accounts(scope)
account_id = st.selectbox(
    "Account",
    list(choices),
    format_func=choices.get,  # option labels are plain text, never Markdown
    key="account",
)
with session_scope(engine()) as session:
    view = account_view(session, account_id, now, min_n=settings.min_n, scope=scope)
st.session_state["timeline_account"] = account_id  # the timeline page opens on the same account
st.page_link(
    "pages/timeline.py",
    label="What happened, step by step: the account's timeline",
    icon=":material/timeline:",
)

facts = [
    f"Segment: {plain(view.segment or '—')}",
    f"Owner: {plain(view.owner or '—')}",
    f"Tier: {plain(view.tier or '—')}",
    f"Region: {plain(view.region or '—')}",
]
st.caption(" · ".join(facts))

flash = st.session_state.pop(FLASH, None)
if flash is not None:
    kind, message = flash
    (st.success if kind == "success" else st.error)(message)

coverage = view.coverage
top = st.columns(3)
top[0].metric(
    "Contacts who answered",
    "—" if coverage.contact_share is None else f"{coverage.contact_share:.0%}",
    help=f"{coverage.answered} of {coverage.contacts} contacts have answered at least once.",
    border=True,
)
top[1].metric(
    "Buying influence covered",
    "—" if coverage.influence_share is None else f"{coverage.influence_share:.0%}",
    help=f"Influence of the contacts who answered: {coverage.influence_answered:.2f} of "
    f"{coverage.influence_total:.2f}.",
    border=True,
)
top[2].metric(
    "Days since last interaction",
    "—" if view.days_since_last_interaction is None else str(view.days_since_last_interaction),
    help=None
    if view.last_interaction is None
    else f"Last interaction {view.last_interaction:%Y-%m-%d %H:%M} UTC",
    border=True,
)

st.subheader("Influence-weighted scores")
st.caption(
    "Each contact's most recent score per indicator, weighted by their buying influence, on 0–100. "
    "Contacts who never answered do not count; the coverage above says how much influence stands "
    "behind the score."
)
cards = st.columns(len(view.scores))
for card, (code, score) in zip(cards, view.scores.items(), strict=True):
    card.metric(
        labels.get(code, code),
        "—" if score.score_100 is None else f"{score.score_100:.0f}",
        help=f"{score.contacts} contacts, influence {score.weight:.2f}"
        + ("" if score.unweighted_100 is None else f"; unweighted {score.unweighted_100:.0f}"),
        border=True,
    )

st.subheader("Relationship level")
customer, manager = st.columns(2)
with customer:
    value = view.value
    mean = value.customer_mean
    st.metric(
        "As the customer sees it",
        "—" if mean is None else f"{mean:.1f} · {VALUE_LEVELS[int(mean + 0.5)]}",
        help=f"Mean of each contact's latest answer (n = {value.customer_n}).",
        border=True,
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Level": [level_name(level) for level in VALUE_LEVELS],
                "Meaning": [VALUE_LEVEL_MEANINGS[level] for level in VALUE_LEVELS],
                "Contacts": [value.distribution[level] for level in VALUE_LEVELS],
            }
        ),
        hide_index=True,
    )
with manager:
    st.metric(
        "As the account manager sees it",
        level_name(view.manager_value_level),
        border=True,
    )
    level_key = f"manager_level_{account_id}"
    options: list[int | None] = [None, *VALUE_LEVELS]
    st.selectbox(
        "Account manager's level",
        options,
        index=options.index(view.manager_value_level),
        format_func=level_name,
        key=level_key,
    )
    st.button(
        "Save level",
        key=f"save_manager_level_{account_id}",
        on_click=save_manager_level,
        args=(account_id, level_key),
        disabled=not user.can_change,
        help=None if user.can_change else "Analysts read; account managers and admins change.",
    )

st.subheader("Contacts")
st.dataframe(
    pd.DataFrame(
        {
            "Name": [c.name or "—" for c in view.contacts],
            "Email": [c.email for c in view.contacts],
            "Role": [c.role.replace("_", " ") for c in view.contacts],
            "Buying influence": [c.buying_influence for c in view.contacts],
            "Responses": [c.responses for c in view.contacts],
            "Last response": [
                "—" if c.last_response is None else f"{c.last_response:%Y-%m-%d}" for c in view.contacts
            ],
            "Answered": [c.answered for c in view.contacts],
        }
    ),
    hide_index=True,
)

st.subheader("Trend")
if view.trend.empty:
    st.info(f"No quarter has {settings.min_n} or more responses from this account yet.")
else:
    st.plotly_chart(account_trend(view.trend, labels, settings.min_n), width="stretch")
