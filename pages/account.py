"""One account: contacts and who answered, the influence-weighted scores, the relationship level
as the customer and as the account manager see it, and the quarterly trend."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page, visible_accounts
from survey.accounts.actions import ACTION_TYPES, ActionError, closed_follow_ups, list_actions, record_action
from survey.accounts.people import QUIET_DAYS, people
from survey.accounts.profile import (
    VALUE_LEVEL_MEANINGS,
    VALUE_LEVELS,
    AccountError,
    account_view,
)
from survey.accounts.values import (
    assess_value_level,
    assessment_history,
    customer_levels_by_quarter,
    level_label,
)
from survey.charts.account import account_trend
from survey.charts.accounts import value_levels_over_time
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
            assess_value_level(
                session, account_id, level, author=user.username, now=datetime.now(UTC), scope=reader_scope()
            )
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
    format_func=cast(Callable[[Any], str], choices.get),  # option labels are plain text, never Markdown
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
    st.metric(
        "As the customer sees it",
        level_label(value.customer_level),
        help=f"The median of each contact's latest answer (n = {value.customer_n}); the levels are "
        "ordered categories, so they are counted below, never averaged.",
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
    st.info(
        f"No quarter has {settings.min_n} or more responses from {settings.min_n} or more different "
        "people of this account yet: a quarter from fewer could show one person's answers."
    )
else:
    st.plotly_chart(account_trend(view.trend, labels, settings.min_n), width="stretch")
    st.caption(
        "95% intervals allow for the same contacts answering again and again (clustered by "
        "contact); the effective n in each point's details is how many independent answers "
        "that is worth."
    )


# --- Accounts first: people, value-level history, the action log --------------------------


def people_section(account_id: int) -> None:
    """Each contact's own relationship strength: who is warm and who has gone quiet."""
    st.subheader("People in the account")
    st.caption(
        "Each contact's strength is the mean of their latest answer's six indicators (0–100); the trend "
        f"compares it with their answer before. Gone quiet: no answer for more than {QUIET_DAYS} days. "
        "Answers given anonymously are not attributed to anyone here."
    )
    with session_scope(engine()) as session:
        rows = people(session, account_id, now, scope=scope)
    st.dataframe(
        pd.DataFrame(
            {
                "Name": [p.name or p.email for p in rows],
                "Role": [p.role.replace("_", " ") for p in rows],
                "Buying influence": [p.buying_influence for p in rows],
                "Strength (0-100)": [None if p.strength is None else round(p.strength) for p in rows],
                "Trend": [None if p.trend is None else round(p.trend) for p in rows],
                "Last answered": [
                    "—" if p.last_answered is None else f"{p.last_answered:%Y-%m-%d}" for p in rows
                ],
                "Answers": [p.responses for p in rows],
                "Status": [p.status for p in rows],
            }
        ),
        hide_index=True,
        key="people_table",
    )


def value_history_section(account_id: int) -> None:
    """The manager's assessments with date and author, and the customer's level over time."""
    st.subheader("Value level over time")
    with session_scope(engine()) as session:
        history = assessment_history(session, account_id, scope=scope)
        customer = customer_levels_by_quarter(session, account_id, now)
    manager = pd.DataFrame(
        {"at": [h.assessed_at for h in history], "level": [h.level for h in history]}
    ).dropna(subset=["level"])
    if customer.empty and manager.empty:
        st.info("No value level yet, from the customer or the account manager.")
    else:
        st.plotly_chart(value_levels_over_time(customer, manager), width="stretch", key="value_chart")
    st.dataframe(
        pd.DataFrame(
            {
                "Assessed": [f"{h.assessed_at:%Y-%m-%d %H:%M}" for h in history],
                "Account manager's level": [
                    level_label(h.level) if h.level is not None else "cleared" for h in history
                ],
                "By": [h.author for h in history],
            }
        ),
        hide_index=True,
        key="value_history_table",
    )


def save_action(account_id: int) -> None:
    state = st.session_state
    try:
        with session_scope(engine()) as session:
            record_action(
                session,
                account_id=account_id,
                kind=state.get("action_kind", ""),
                occurred_on=state.get("action_date") or date.today(),
                owner=state.get("action_owner", ""),
                note=state.get("action_note", ""),
                follow_up_id=state.get("action_follow_up"),
                recorded_by=user.username,
                now=datetime.now(UTC),
                scope=reader_scope(),
            )
    except ActionError as error:
        state[FLASH] = ("error", f"{error}. Nothing was recorded.")
        return
    state[FLASH] = ("success", f"Recorded: {ACTION_TYPES[state['action_kind']]} on {state['action_date']}.")


def action_log_section(account_id: int) -> None:
    """What we did for this account; "What works" compares before and after."""
    st.subheader("What we did")
    with session_scope(engine()) as session:
        actions = list_actions(session, account_id=account_id, scope=scope)
        closed = dict(closed_follow_ups(session, account_id, scope=scope))
    if actions:
        st.dataframe(
            pd.DataFrame(
                {
                    "Date": [f"{a.occurred_on:%Y-%m-%d}" for a in actions],
                    "Action": [a.label for a in actions],
                    "Owner": [a.owner for a in actions],
                    "Note": [a.note for a in actions],
                    "Follow-up": ["" if a.follow_up_id is None else f"#{a.follow_up_id}" for a in actions],
                }
            ),
            hide_index=True,
            key="actions_table",
        )
    else:
        st.info("No actions logged for this account yet.")
    st.page_link(
        "pages/what_works.py", label="Which actions are followed by better scores", icon=":material/science:"
    )
    if not user.can_change:
        return
    with st.form("action_form", clear_on_submit=True):
        st.markdown("**Log an action**")
        cols = st.columns(3)
        cols[0].selectbox(
            "Type",
            list(ACTION_TYPES),
            format_func=cast(Callable[[Any], str], ACTION_TYPES.get),
            key="action_kind",
        )
        cols[1].date_input("Date", value=now.date(), max_value=now.date(), key="action_date")
        cols[2].text_input("Owner", value=user.username, key="action_owner")
        st.text_area("Note", key="action_note", height=80)
        st.selectbox(
            "Answers a closed follow-up (optional)",
            [None, *closed],
            format_func=lambda f: "—" if f is None else closed[f],
            key="action_follow_up",
        )
        st.form_submit_button("Log action", on_click=save_action, args=(account_id,))


people_section(account_id)
value_history_section(account_id)
action_log_section(account_id)
