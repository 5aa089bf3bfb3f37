"""Send surveys: record an interaction and invite its contact in one step, or import a CRM export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from models.tables import CONTACT_ROLES
from pages.common import engine, plain, reader_scope, team_page
from survey.collecting.invitations import InviteError
from survey.imports.crm import FIELDS, guess_mapping, import_rows, parse
from survey.imports.tabular import TableImportError, header_of
from survey.instrument.touchpoints import touchpoint_names
from survey.sending.delivery import invitation_message, send_all, send_invitation
from survey.sending.mailer import MailSettings
from survey.sending.rules import record_and_invite

user = team_page()
scope = reader_scope()
settings = get_settings()
st.title("Send surveys")
if not user.can_change:
    st.info("Analysts read; account managers and admins send surveys.")
    st.stop()
mail = MailSettings.from_env()
st.caption(
    f"Email goes out over SMTP ({plain(mail.host)})."
    if mail.host
    else "No SMTP server is configured: messages are written to the outbox folder and the link is shown here."
)

with session_scope(engine()) as session:
    touchpoints = touchpoint_names(session)

one, many = st.tabs(["One interaction", "Import from a CRM"])
with one, st.form("send_one", clear_on_submit=False):
    left, right = st.columns(2)
    account = left.text_input("Account", help="An existing account's name, or a new one.")
    touchpoint = left.selectbox(
        "Touchpoint", list(touchpoints), format_func=cast(Callable[[Any], str], touchpoints.get)
    )
    day = left.date_input("When it happened", value="today", max_value="today")
    email = right.text_input("Contact's email")
    name = right.text_input("Contact's name (for a new contact)")
    role = right.selectbox(
        "Role (for a new contact)", CONTACT_ROLES, format_func=lambda r: r.replace("_", " ")
    )
    language = right.selectbox(
        "Language",
        ["en", "de"],
        format_func=cast(Callable[[Any], str], {"en": "English", "de": "Deutsch"}.get),
    )
    submitted = st.form_submit_button("Record and send the survey", type="primary")
outcome = None
result = None
if submitted:
    now = datetime.now(UTC)
    try:
        with session_scope(engine()) as session:
            outcome = record_and_invite(
                session,
                account_name=account,
                contact_email=email,
                contact_name=name,
                contact_role=role,
                language=language,
                touchpoint=touchpoint,
                occurred_at=datetime.combine(day, time(12), tzinfo=UTC) if day < now.date() else now,
                # A manager's new account is theirs; an existing one must already be.
                owner=None if user.is_admin else user.username,
                now=now,
                base_url=settings.base_url,
                valid_days=settings.link_valid_days,
                fatigue_days=settings.fatigue_days,
                allowed=scope,
            )
            result = outcome.invitation
            if result is not None:
                # Built before the commit: a name the mail cannot carry stores nothing.
                message = invitation_message(session, result.invitation_id, result.link, mail=mail)
    except InviteError as refused:
        st.error(f"{refused}. Nothing was recorded.")
        outcome = result = None
    if outcome is not None and result is None:
        st.warning(
            f"The interaction was recorded, but no survey was sent: {plain(outcome.not_invited or '')}."
        )
    elif result is not None:
        with session_scope(engine()) as session:
            sent = send_invitation(
                session, result.invitation_id, result.link, now=now, mail=mail, message=message
            )
        said = {
            "sent": "Emailed",
            "outbox": "Written to the outbox",
            "failed": "Sending failed",
            "skipped": "Not sent",
            "scheduled": "Scheduled after the touchpoint's survey delay",
        }[sent.status]
        (st.error if sent.status in ("failed", "skipped") else st.success)(
            f"{said}: {plain(sent.to)}. {plain(sent.detail)}"
        )
        if result.link:
            st.code(result.link, language=None)


def _mapping(header: list[str]) -> dict[str, str]:
    guessed = guess_mapping(header)
    st.write("Which column holds what (fields marked * are needed):")
    columns = st.columns(3)
    chosen = {}
    for index, (ours, needed) in enumerate(FIELDS.items()):
        options = [None, *header]
        preset = next((h for h in header if h.lower() == guessed.get(ours)), None)
        theirs = columns[index % 3].selectbox(
            ours.replace("_", " ") + (" *" if needed else ""),
            options,
            index=options.index(preset),
            format_func=lambda h: "—" if h is None else h,
            key=f"map_{ours}",
        )
        if theirs:
            chosen[ours] = theirs
    return chosen


def _problems(error: TableImportError) -> None:
    table = pd.DataFrame(
        [(p.row, p.column, p.message) for p in error.problems], columns=["Row", "Column", "Problem"]
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _import(rows: list, send: bool) -> None:
    now = datetime.now(UTC)
    with session_scope(engine()) as session:
        result = import_rows(
            session, rows, now=now, base_url=settings.base_url,
            valid_days=settings.link_valid_days, fatigue_days=settings.fatigue_days, mail=mail,
        )  # fmt: skip
    st.success(
        f"{result.interactions_added} interaction(s) added, {result.already_there} already there, "
        f"{len(result.invitations)} invitation(s)."
    )
    if result.skipped:
        skipped = pd.DataFrame(result.skipped, columns=["Row", "Contact", "Not invited because"])
        st.dataframe(skipped, hide_index=True, width="stretch")
    if send and result.invitations:
        with session_scope(engine()) as session:
            sent = send_all(session, result.invitations, now=now, mail=mail, messages=result.messages)
        st.info(
            ", ".join(
                f"{sum(s.status == k for s in sent)} {k}" for k in ("sent", "outbox", "failed", "scheduled")
            )
        )
    elif result.invitations:
        # Only their hashes are stored: shown now or never.
        st.warning("The links were not emailed. Copy them now: they cannot be shown again.")
        links = pd.DataFrame(result.invitations, columns=["Invitation", "Survey link"])
        st.dataframe(links, hide_index=True, width="stretch")


def import_tab() -> None:
    """Upload, map the columns, check every row, preview, import all or nothing."""
    upload = st.file_uploader("CRM export (CSV UTF-8 or .xlsx)", type=["csv", "xlsx"], key="crm_file")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        header = header_of(data, filename=upload.name)
    except TableImportError as error:
        st.error(f"{upload.name} cannot be read.")
        _problems(error)
        return
    chosen = _mapping(header)
    try:
        with session_scope(engine()) as session:
            rows = parse(session, data, chosen, filename=upload.name)
    except TableImportError as error:
        st.error(
            f"{upload.name} would not be imported: {len(error.problems)} problem(s). Nothing was changed."
        )
        _problems(error)
        return
    st.success(f"{len(rows)} row(s) are valid. The first ones:")
    st.dataframe(pd.DataFrame([vars(r) for r in rows[:20]]), hide_index=True, width="stretch")
    send = st.toggle("Email the new invitations", value=True, key="crm_send")
    if st.button(f"Import {len(rows)} row(s)", type="primary", key="crm_import"):
        _import(rows, send)


with many:
    if user.is_admin:
        import_tab()
    else:
        st.info("Admins import CRM files (they may hold every account).")
