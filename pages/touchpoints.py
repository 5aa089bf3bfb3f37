"""Admins keep the touchpoints of the customer journey: add, rename, set the survey form and
delay, retire. Retired touchpoints keep their history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from sqlmodel import Session

from models.db import session_scope
from pages.common import engine, require_admin
from survey.instrument.touchpoints import (
    FORM_RULE_LABELS,
    FORM_RULES,
    MAX_DELAY_HOURS,
    TouchpointError,
    add_touchpoint,
    list_touchpoints,
    rename_touchpoint,
    restore_touchpoint,
    retire_touchpoint,
    set_touchpoint_rule,
)

FLASH = "touchpoints_flash"

admin = require_admin()
st.title("Touchpoints")
st.caption(
    "Where interactions happen along the customer journey. Each touchpoint says which survey its "
    "interactions get — a one-screen pulse, or the full check-up (at most once per period per contact, "
    "or always, e.g. at a renewal) — and how long after the interaction the invitation goes out."
)

flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])

with session_scope(engine()) as session:
    touchpoints = list_touchpoints(session)

st.dataframe(
    pd.DataFrame(
        {
            "Code": [t.code for t in touchpoints],
            "Name": [t.name for t in touchpoints],
            "Survey": [FORM_RULE_LABELS[t.form_rule] for t in touchpoints],
            "Delay (hours)": [t.survey_delay_hours for t in touchpoints],
            "Status": ["active" if t.active else f"retired {t.retired_at:%Y-%m-%d}" for t in touchpoints],
        }
    ),
    hide_index=True,
    width="stretch",
)


def _run(action: str, change: Callable[[Session], object]) -> None:
    try:
        with session_scope(engine()) as session:
            change(session)
    except TouchpointError as refused:
        st.session_state[FLASH] = ("error", f"{action}: {refused}. Nothing was changed.")
    else:
        st.session_state[FLASH] = ("success", f"{action}: done.")


add, change = st.tabs(["Add a touchpoint", "Change a touchpoint"])
with add, st.form("add_touchpoint", clear_on_submit=True):
    name = st.text_input("Name", placeholder="Technology implementation")
    code = st.text_input("Code (a-z, 0-9 and _; never changes)", placeholder="implementation")
    rule = st.selectbox("Survey", FORM_RULES, format_func=FORM_RULE_LABELS.__getitem__, key="new_rule")
    delay = st.number_input("Delay (hours)", min_value=0, max_value=MAX_DELAY_HOURS, value=0, step=1)
    if st.form_submit_button("Add touchpoint", type="primary"):
        _run(
            f"Add {name.strip() or 'touchpoint'}",
            lambda s: add_touchpoint(
                s, code=code, name=name, actor=admin.username, form_rule=rule, delay_hours=int(delay)
            ),
        )
        st.rerun()

with change:
    chosen = st.selectbox(
        "Touchpoint",
        [t.code for t in touchpoints],
        format_func=lambda c: next(t.name for t in touchpoints if t.code == c),
    )
    if chosen:
        current = next(t for t in touchpoints if t.code == chosen)
        new_name = st.text_input("Name", value=current.name, key=f"rename_{chosen}")
        if st.button("Rename", disabled=new_name.strip() == current.name):
            _run(
                f"Rename {current.name}",
                lambda s: rename_touchpoint(s, chosen, new_name, actor=admin.username),
            )
            st.rerun()
        new_rule = st.selectbox(
            "Survey",
            FORM_RULES,
            index=FORM_RULES.index(current.form_rule),
            format_func=FORM_RULE_LABELS.__getitem__,
            key=f"rule_{chosen}",
        )
        new_delay = st.number_input(
            "Delay (hours)",
            0,
            MAX_DELAY_HOURS,
            value=current.survey_delay_hours,
            step=1,
            key=f"delay_{chosen}",
        )
        if st.button("Save survey rule"):
            _run(
                f"Survey rule of {current.name}",
                lambda s: set_touchpoint_rule(
                    s, chosen, form_rule=new_rule, delay_hours=int(new_delay), actor=admin.username
                ),
            )
            st.rerun()
        if current.active:
            if st.button(f"Retire {current.name}", help="No new interactions; its responses keep counting."):
                _run(
                    f"Retire {current.name}",
                    lambda s: retire_touchpoint(s, chosen, actor=admin.username, now=datetime.now(UTC)),
                )
                st.rerun()
        elif st.button(f"Bring {current.name} back"):
            _run(f"Restore {current.name}", lambda s: restore_touchpoint(s, chosen, actor=admin.username))
            st.rerun()
