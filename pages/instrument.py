"""Admins make new instrument versions: start a draft, edit, validate, publish.
A published version never changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from sqlmodel import Session

from models.db import session_scope
from pages.common import engine, require_admin
from survey.instrument.definition import InstrumentError, available_versions, load_instrument
from survey.instrument.workflow import (
    VersionError,
    discard_draft,
    open_draft,
    publish,
    save_draft,
    start_draft,
    sync_published,
    validate,
)

FLASH = "instrument_flash"

admin = require_admin()
st.title("Instrument versions")
st.caption(
    "A new version may add statements, drop them, or reword one under a new code: trend charts link "
    "versions only through the statements they share, and mark where the version changed. A published "
    "version never changes; every response stores the fingerprint of the layout it was answered on."
)

flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])


def _run(action: str, step: Callable[[Session], object]) -> None:
    try:
        with session_scope(engine()) as session:
            step(session)
    except (VersionError, InstrumentError) as refused:
        st.session_state[FLASH] = ("error", f"{action}: {refused}. Nothing was changed.")
    else:
        st.session_state[FLASH] = ("success", f"{action}: done.")


with session_scope(engine()) as session:
    sync_published(session)
    draft = open_draft(session)
    draft_version, draft_body = (draft.version, draft.body) if draft else (None, "")
    problems = validate(session, draft.version) if draft else []

versions = [load_instrument(version) for version in available_versions()]
st.subheader("Published")
st.dataframe(
    pd.DataFrame(
        {
            "Version": [f"v{i.version}" for i in versions],
            "Released": [i.released for i in versions],
            "Languages": [", ".join(i.languages) for i in versions],
            "Statements": [sum(1 for item in i.items if item.indicator) for i in versions],
            "Fingerprint": [i.fingerprint[:16] + "…" for i in versions],
        }
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Draft")
if draft_version is None:
    st.write("No draft is open. A draft starts as a copy of the newest version with the next number.")
    if st.button("Start a draft", type="primary"):
        _run("Start a draft", lambda s: start_draft(s, actor=admin.username, now=datetime.now(UTC)))
        st.rerun()
    st.stop()
draft_number: int = draft_version  # a draft is open from here on

body = st.text_area(f"v{draft_version} (YAML)", value=draft_body, height=480, key=f"draft_{draft_version}")
if problems:
    st.warning("This draft cannot be published yet:\n\n" + "\n".join(f"* {p}" for p in problems))
else:
    st.success(f"v{draft_version} is valid and can be published.")
save, publish_column, discard = st.columns(3)
if save.button("Save and validate", disabled=body == draft_body, width="stretch"):
    _run(
        f"Save v{draft_version}",
        lambda s: save_draft(s, draft_number, body, actor=admin.username, now=datetime.now(UTC)),
    )
    st.rerun()
if publish_column.button(
    f"Publish v{draft_version}",
    type="primary",
    disabled=bool(problems) or body != draft_body,
    width="stretch",
):
    _run(
        f"Publish v{draft_version}",
        lambda s: publish(s, draft_number, actor=admin.username, now=datetime.now(UTC)),
    )
    st.rerun()
if discard.button("Discard the draft", width="stretch"):
    _run(f"Discard v{draft_version}", lambda s: discard_draft(s, draft_number, actor=admin.username))
    st.rerun()
