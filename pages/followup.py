"""The follow-up queue: detractors, bad moments and sharp drops, and what the team did about them."""

from datetime import UTC, datetime

import streamlit as st

from models.db import session_scope
from pages.common import engine, plain, reader_scope, team_page
from survey.accounts.profile import list_accounts
from survey.followup.queue import (
    ACCOUNT_REASONS,
    DEFAULT_DROP_THRESHOLD,
    REASONS,
    STATUSES,
    FollowUpError,
    QueueRow,
    add_note,
    assign,
    close,
    queue,
    reopen,
    status_counts,
)

user = team_page()

FLASH = "followup_flash"
QUEUE_SHOWN = 200
PAGE_SIZE = 20  # every follow-up on the page carries its own widgets: keep a page light
STATUS_LABELS = {"open": "Open", "in_progress": "In progress", "closed": "Closed"}
REASON_LABELS = {
    "detractor": "Detractor",
    "moment": "Bad moment",
    "drop": "Sharp drop",
    # Follow-ups about a whole account (survey/accounts/warnings.py).
    "decline": "Account declining",
    "flagged_contacts": "Several contacts flagged",
    "silent_decision_maker": "Decision maker silent",
}

st.set_page_config(layout="wide")


def act(action: str, follow_up_id: int, field: str | None = None) -> None:
    """Run one queue operation (a button's callback, before the page is drawn again)."""
    text = st.session_state.get(field, "") if field else ""
    now = datetime.now(UTC)
    scope = reader_scope()
    try:
        with session_scope(engine()) as session:
            if action == "assign":
                done = assign(session, follow_up_id, text, now, scope=scope)
                message = f"Follow-up #{follow_up_id} is now in progress with {plain(done.assignee or '')}."
            elif action == "note":
                add_note(session, follow_up_id, text, now, scope=scope)
                message = f"Note added to follow-up #{follow_up_id}."
            elif action == "close":
                close(session, follow_up_id, text, now, scope=scope)
                message = f"Follow-up #{follow_up_id} is closed."
            else:
                done = reopen(session, follow_up_id, now, note=text, scope=scope)
                message = f"Follow-up #{follow_up_id} is {STATUS_LABELS[done.status].lower()} again."
    except FollowUpError as error:
        st.session_state[FLASH] = ("error", f"Follow-up #{follow_up_id}: {error}. Nothing was changed.")
        return
    if field:
        st.session_state[field] = ""
    st.session_state[FLASH] = ("success", message)


def details(row: QueueRow) -> None:
    role = row.contact_role.replace("_", " ")
    nps = "—" if row.nps is None else f"{row.nps}/10"
    st.markdown(
        "  \n".join(
            [
                f"**Account:** {plain(row.account)}",
                f"**Contact:** {plain(row.contact)}" + (f" ({plain(role)})" if role else ""),
                f"**Touchpoint:** {plain(row.touchpoint)}, answered {row.submitted:%Y-%m-%d %H:%M} UTC"
                if row.kind == "response"
                else f"**About the whole account**, opened {row.created:%Y-%m-%d %H:%M} UTC",
                f"**Recommendation:** {nps} · **Moment:** {plain((row.moment or '—').replace('_', ' '))}",
                f"**Why:** {plain(row.detail)}",
                f"**Status:** {STATUS_LABELS[row.status]}"
                + (f" · **Assignee:** {plain(row.assignee)}" if row.assignee else ""),
            ]
        )
    )
    if row.comment:
        st.markdown("**Comment**")
        st.text(row.comment)
    if row.note:
        st.markdown("**Notes**")
        st.text(row.note)


def actions(row: QueueRow) -> None:
    key = row.follow_up_id
    if row.status == "closed":
        st.text_input("Why reopen? (optional)", key=f"reopen_note_{key}")
        st.button("Reopen", key=f"reopen_{key}", on_click=act, args=("reopen", key, f"reopen_note_{key}"))
        # What was done, into the account's action log ("What works" compares before and after).
        if st.button("Log what was done as an action", key=f"log_action_{key}", icon=":material/science:"):
            st.session_state["account"] = row.account_id
            st.session_state["action_follow_up"] = key
            st.switch_page("pages/account.py")
        return
    assign_col, note_col, close_col = st.columns(3)
    with assign_col:
        st.text_input("Assign to", key=f"assignee_{key}", placeholder="Who takes this?")
        label = "Reassign" if row.assignee else "Assign"
        st.button(label, key=f"assign_{key}", on_click=act, args=("assign", key, f"assignee_{key}"))
    with note_col:
        st.text_area("Note", key=f"note_{key}", height=80)
        st.button("Add note", key=f"add_note_{key}", on_click=act, args=("note", key, f"note_{key}"))
    with close_col:
        st.text_area("What was done (required to close)", key=f"closing_{key}", height=80)
        st.button(
            "Close", key=f"close_{key}", type="primary", on_click=act, args=("close", key, f"closing_{key}")
        )


st.title("Follow-up")
st.caption(
    "Responses that need someone to act: detractors (recommendation 0–6), moments that disappointed or "
    f"frustrated, and indicator scores that fell by {DEFAULT_DROP_THRESHOLD} points or more since the "
    "contact's previous answer. Assign each one, note what was done, and close the loop."
)

scope = reader_scope()
with session_scope(engine()) as session:
    counts = status_counts(session, scope)
    accounts = {choice.id: choice.name for choice in list_accounts(session, scope)}

status_col, reason_col, account_col = st.columns(3)
status = status_col.selectbox(
    "Status",
    [*STATUSES, None],
    format_func=lambda s: "All" if s is None else f"{STATUS_LABELS[s]} ({counts[s]})",
    key="fu_status",
)
reason = reason_col.selectbox(
    "Reason",
    [None, *REASONS, *ACCOUNT_REASONS],
    format_func=lambda r: "Any" if r is None else REASON_LABELS[r],
    key="fu_reason",
)
account_id = account_col.selectbox(
    "Account",
    [None, *accounts],
    format_func=lambda a: "All accounts" if a is None else accounts[a],
    key="fu_account",
)

flash = st.session_state.pop(FLASH, None)
if flash is not None:
    kind, message = flash
    (st.success if kind == "success" else st.error)(message)

with session_scope(engine()) as session:
    rows = queue(session, status=status, reason=reason, account_id=account_id, limit=QUEUE_SHOWN, scope=scope)

if not rows:
    st.info("Nothing to follow up with these filters.")
    st.stop()

pages = (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE
page = 1
if pages > 1:
    page = st.selectbox(
        "Page", range(1, pages + 1), format_func=lambda p: f"{p} of {pages}", key="fu_page", width=160
    )
first = (page - 1) * PAGE_SIZE
more = " (the newest; narrow the filters to see older ones)" if len(rows) == QUEUE_SHOWN else ""
st.caption(f"{first + 1}–{min(first + PAGE_SIZE, len(rows))} of {len(rows)} follow-ups{more}, newest first.")
for row in rows[first : first + PAGE_SIZE]:
    reasons = ", ".join(REASON_LABELS.get(reason, reason) for reason in row.reasons)
    label = (
        f"#{row.follow_up_id} · {row.created:%Y-%m-%d} · {plain(row.account)} · {plain(row.contact)} · "
        f"{reasons} · {STATUS_LABELS[row.status]}"
    )
    with st.expander(label):
        details(row)
        if user.can_change:
            actions(row)
        else:
            st.caption("Analysts read the queue; account managers and admins act on it.")
