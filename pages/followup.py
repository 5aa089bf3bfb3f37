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
from survey.followup.replies import draft_for

user = team_page()

FLASH = "followup_flash"
OPENED = "fu_opened"  # the ids of the follow-ups open in this session
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
                tell = st.session_state.get(f"tell_{follow_up_id}", False)
                customer = st.session_state.get(f"reply_{follow_up_id}", "") if tell else None
                close(session, follow_up_id, text, now, scope=scope, customer_message=customer)
                message = f"Follow-up #{follow_up_id} is closed." + (
                    " The contact will get your message within a minute." if tell else ""
                )
            else:
                done = reopen(session, follow_up_id, now, note=text, scope=scope)
                message = f"Follow-up #{follow_up_id} is {STATUS_LABELS[done.status].lower()} again."
    except FollowUpError as error:
        st.session_state[FLASH] = ("error", f"Follow-up #{follow_up_id}: {error}. Nothing was changed.")
        return
    if field:
        st.session_state[field] = ""
    st.session_state[FLASH] = ("success", message)


def due_text(row: QueueRow) -> str:
    if row.due is None:
        return "no due time"
    if row.status == "closed":
        met = row.closed is not None and row.closed <= row.due
        return f"was due {row.due:%Y-%m-%d %H:%M} UTC ({'closed in time' if met else 'closed late'})"
    late = " · **overdue**" if row.due <= datetime.now(UTC) else ""
    escalated = f" · escalated {row.escalated:%Y-%m-%d %H:%M} UTC" if row.escalated else ""
    return f"due {row.due:%Y-%m-%d %H:%M} UTC{late}{escalated}"


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
                f"**Service level:** {due_text(row)}",
            ]
        )
    )
    if row.comment:
        st.markdown("**Comment**")
        st.text(row.comment)
    if row.note:
        st.markdown("**Notes**")
        st.text(row.note)
    if row.customer_message:
        st.markdown(f"**Told the contact** ({row.customer_message_at:%Y-%m-%d %H:%M} UTC)")
        st.text(row.customer_message)


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
        with session_scope(engine()) as session:
            draft = draft_for(session, key, reader_scope())
        if draft.possible:
            if st.toggle("Tell the contact what was done", key=f"tell_{key}"):
                if f"reply_{key}" not in st.session_state:
                    st.session_state[f"reply_{key}"] = draft.text
                st.text_area(
                    f"Message to {draft.to} (replace … with what was done)", key=f"reply_{key}", height=160
                )
        else:
            st.caption(f"No message can go to the contact: {plain(draft.why_not)}.")
        st.button(
            "Close", key=f"close_{key}", type="primary", on_click=act, args=("close", key, f"closing_{key}")
        )


st.title("Follow-up")
st.caption(
    "Responses that need someone to act: detractors (recommendation 0–6), moments that disappointed or "
    f"frustrated, and indicator scores that fell by {DEFAULT_DROP_THRESHOLD} points or more since the "
    "contact's previous answer. Each is due within its service level (PULSE_SLA_HOURS) and escalated "
    "once when left open past it. Assign each one, note what was done, close the loop, and tell the "
    "contact what was done."
)

scope = reader_scope()
with session_scope(engine()) as session:
    counts = status_counts(session, scope)
    accounts = {choice.id: choice.name for choice in list_accounts(session, scope)}

# Links from alert and escalation emails: ?followup=ID opens that one, ?overdue=1 the overdue ones.
linked = st.query_params.get("followup")
linked_id = int(linked) if linked and linked.isdigit() else None
if st.query_params.get("overdue") == "1" and "fu_overdue" not in st.session_state:
    st.session_state["fu_overdue"] = True

status_col, reason_col, account_col, overdue_col = st.columns([3, 3, 3, 2])
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

overdue_only = overdue_col.toggle(
    "Only overdue", key="fu_overdue", help="Still open past their due time (service level per reason)."
)
if linked_id is not None:
    st.caption(f"Showing follow-up #{linked_id} from the link.")

flash = st.session_state.pop(FLASH, None)
if flash is not None:
    kind, message = flash
    (st.success if kind == "success" else st.error)(message)

with session_scope(engine()) as session:
    try:
        rows = queue(
            session,
            status=None if linked_id is not None else status,
            reason=reason,
            account_id=account_id,
            limit=QUEUE_SHOWN,
            scope=scope,
            overdue_at=datetime.now(UTC) if overdue_only else None,
            follow_up_id=linked_id,
        )
    except FollowUpError as error:
        st.error(str(error))
        st.stop()

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
st.caption(
    f"{first + 1}–{min(first + PAGE_SIZE, len(rows))} of {len(rows)} follow-ups{more}, newest first. "
    "Open one to see its answers and act on it."
)
for row in rows[first : first + PAGE_SIZE]:
    reasons = ", ".join(REASON_LABELS.get(reason, reason) for reason in row.reasons)
    label = (
        f"#{row.follow_up_id} · {row.created:%Y-%m-%d} · {plain(row.account)} · {plain(row.contact)} · "
        f"{reasons} · {STATUS_LABELS[row.status]}"
        + (" · Overdue" if row.status != "closed" and row.due and row.due <= datetime.now(UTC) else "")
    )
    # Only an opened follow-up draws its details and actions: a page of twenty, each with its
    # own form, would otherwise draw some two hundred widgets at every open.
    # Which follow-ups are open is remembered apart from the boxes: Streamlit forgets a box's
    # state while it is not drawn, and one that left the list (a change of filter) and came
    # back would otherwise start closed again.
    opened: set[int] = st.session_state.setdefault(OPENED, set())
    box = st.expander(
        label,
        expanded=linked_id is not None or row.follow_up_id in opened,
        key=f"fu_open_{row.follow_up_id}",
        on_change="rerun",
    )
    if not box.open:
        opened.discard(row.follow_up_id)
        continue
    opened.add(row.follow_up_id)
    with box:
        details(row)
        if user.can_change:
            actions(row)
        else:
            st.caption("Analysts read the queue; account managers and admins act on it.")
