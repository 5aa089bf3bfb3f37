"""What customers say: every non-anonymous comment in scope, filtered, tagged by keyword rules,
counted by touchpoint and over time, and exported with its tags."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import streamlit as st

from models.db import session_scope
from pages.common import engine, plain, reader_scope, table_downloads, team_page, visible_accounts
from survey.charts.accounts import tags_over_time
from survey.charts.common import PNG_CONFIG
from survey.comments.listing import (
    LEVELS,
    NPS_GROUPS,
    CommentFilterError,
    CommentFilters,
    comments,
    counts_by_month,
    counts_by_touchpoint,
    export_frame,
)
from survey.comments.tags import TagRuleError, add_rule, delete_rule, list_rules, update_rule
from survey.instrument.definition import load_instrument
from survey.instrument.touchpoints import touchpoint_names_by_id

user = team_page()
st.set_page_config(layout="wide")
scope = reader_scope()
FLASH = "comments_flash"
SHOWN = 5000
labels = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}

st.title("Comments")
st.caption(
    "What customers wrote, in their words. Comments of respondents who asked to stay anonymous are never "
    "listed here. Tags come from keyword rules an admin sets below."
)


def rule_action(action: str, rule_id: int | None = None) -> None:
    try:
        with session_scope(engine()) as session:
            if action == "add":
                rule = add_rule(
                    session,
                    st.session_state.get("rule_tag", ""),
                    st.session_state.get("rule_keywords", ""),
                    actor=user.username,
                    now=datetime.now(UTC),
                )
                message = f"Added the tag {rule.tag!r}."
            elif action == "update" and rule_id is not None:
                rule = update_rule(session, rule_id, st.session_state.get(f"rule_keywords_{rule_id}", ""))
                message = f"Changed the keywords of {rule.tag!r}."
            elif rule_id is not None:
                delete_rule(session, rule_id)
                message = "Deleted the rule."
    except TagRuleError as error:
        st.session_state[FLASH] = ("error", f"{error}. Nothing was changed.")
        return
    st.session_state[FLASH] = ("success", message)


choices = visible_accounts(scope)
with session_scope(engine()) as session:
    touchpoints = touchpoint_names_by_id(session)
    rules = list_rules(session)

today = datetime.now(UTC).date()
top = st.columns(4)
period = top[0].date_input("Period", (today - timedelta(days=365), today), key="cm_period")
accounts = top[1].multiselect(
    "Account", list(choices), format_func=cast(Callable[[Any], str], choices.get), key="cm_accounts"
)
chosen_touchpoints = top[2].multiselect(
    "Touchpoint",
    list(touchpoints),
    format_func=cast(Callable[[Any], str], touchpoints.get),
    key="cm_touchpoints",
)
groups = top[3].multiselect(
    "Recommendation group", list(NPS_GROUPS), format_func=lambda g: g.capitalize(), key="cm_nps"
)
second = st.columns(3)
indicator = second[0].selectbox(
    "Indicator",
    [None, *labels],
    format_func=lambda c: "Any indicator" if c is None else labels[c],
    key="cm_ind",
)
level = second[1].selectbox(
    "Its score (0–100)",
    [None, *LEVELS],
    format_func=lambda lv: (
        "Any" if lv is None else f"{lv} ({LEVELS[lv][0]:.0f}–{min(100, LEVELS[lv][1]):.0f})"
    ),
    key="cm_level",
    disabled=indicator is None,
)
tag = second[2].selectbox(
    "Tag", [None, *(r.tag for r in rules)], format_func=lambda t: "Any tag" if t is None else t, key="cm_tag"
)

flash = st.session_state.pop(FLASH, None)
if flash is not None:
    (st.success if flash[0] == "success" else st.error)(flash[1])

start: date | None = period[0] if len(period) > 0 else None
end: date | None = period[1] if len(period) > 1 else None
filters = CommentFilters(
    start=start,
    end=end,
    account_ids=tuple(accounts),
    touchpoint_ids=tuple(chosen_touchpoints),
    nps_groups=tuple(groups),
    indicator=indicator if level is not None else None,
    level=level if indicator is not None else None,
    tag=tag,
)
try:
    with session_scope(engine()) as session:
        frame = comments(session, filters, scope, limit=SHOWN, rules=rules)
except CommentFilterError as error:
    st.error(f"{error}. Nothing is shown.")
    st.stop()

more = f" (the newest {SHOWN}; narrow the filters to see older ones)" if len(frame) == SHOWN else ""
st.caption(f"{len(frame)} comments{more}.")
if frame.empty:
    st.info("No comment matches these filters.")
else:
    exported = export_frame(frame)
    st.dataframe(
        exported.drop(columns=["response_id"]),
        hide_index=True,
        column_config={"comment": st.column_config.TextColumn("Comment", width="large")},
    )
    table_downloads(st.columns(2), exported, name="comments", sheet="comments", key="cm")
    st.subheader("Tags by touchpoint")
    st.dataframe(counts_by_touchpoint(frame))
    st.plotly_chart(tags_over_time(counts_by_month(frame)), width="stretch", config=PNG_CONFIG)

st.subheader("Tag rules")
if not rules:
    st.info("No tag rules yet." + (" Add one below." if user.is_admin else " An admin adds them."))
for rule in rules:
    with st.expander(f"{plain(rule.tag)} · {len(rule.keywords)} keywords"):
        st.text(", ".join(rule.keywords))
        if user.is_admin:
            st.text_input(
                "Keywords, separated by commas", ", ".join(rule.keywords), key=f"rule_keywords_{rule.id}"
            )
            cols = st.columns(2)
            cols[0].button(
                "Save keywords", key=f"rule_save_{rule.id}", on_click=rule_action, args=("update", rule.id)
            )
            cols[1].button(
                "Delete rule", key=f"rule_delete_{rule.id}", on_click=rule_action, args=("delete", rule.id)
            )
if user.is_admin:
    with st.form("new_rule", clear_on_submit=True, border=True):
        st.text_input("Tag", key="rule_tag", placeholder="Delivery")
        st.text_input(
            "Keywords, separated by commas (whole words; a * at the end matches any ending)",
            key="rule_keywords",
            placeholder="late, deliver*, shipment",
        )
        st.form_submit_button("Add rule", on_click=rule_action, args=("add",))
