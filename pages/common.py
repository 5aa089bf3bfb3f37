"""What the pages share: the process's one engine, first-start preparation, safe text, who is
signed in and a table's downloads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from streamlit.delta_generator import DeltaGenerator

from models.db import default_engine, session_scope
from models.settings import get_settings
from survey.exports.frames import frame_csv, frame_xlsx
from survey.operations.startup import apply_retention, prepare_database, seed_demo_if_empty
from survey.people import audit
from survey.people.access import Scope
from survey.people.users import SignedIn, SignInError, scope_of, sign_in_by_email, still_active

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def engine() -> Engine:
    """The process-wide engine (``models.db.default_engine``): the pages and the HTTP API of
    one server process share it, its connection pool and its SQLite writer gate."""
    return default_engine()


@st.cache_resource(show_spinner="Preparing the database…")
def _prepared(url: str, demo: bool, retention_months: int) -> bool:
    # ``url`` keys the cache: preparation runs once per process and database.
    del url
    prepare_database(engine())
    if demo:
        seed_demo_if_empty(engine())
    apply_retention(engine(), retention_months, datetime.now(UTC))
    return True


def prepare() -> None:
    """Upgrade the schema once per process, add demo data on a first start, and purge
    comments past their retention."""
    settings = get_settings()
    _prepared(settings.database_url, settings.demo_data, settings.comment_retention_months)


def plain(text: str) -> str:
    """Text from users or imports, escaped so that Markdown never formats or links it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


# Sign-in state. The user is kept in the session (sticky to one server process); the
# database is asked again on every run, so that disabling someone takes effect at once.
USER_KEY = "user"
LAST_SEEN_KEY = "last_seen"
NOTICE_KEY = "sign_in_notice"


def _now() -> datetime:
    return datetime.now(UTC)


def sign_in(user: SignedIn) -> None:
    st.session_state[USER_KEY] = user
    st.session_state[LAST_SEEN_KEY] = _now()


def sign_out(notice: str | None = None) -> None:
    user = st.session_state.pop(USER_KEY, None)
    st.session_state.pop(LAST_SEEN_KEY, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice
    if user is not None and notice is None:
        with session_scope(engine()) as session:
            audit.record(session, user.username, "sign_out")


def current_user() -> SignedIn | None:
    """The signed-in user, or ``None`` after sign-out, idle expiry or when disabled."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SignedIn):
        return None
    idle = timedelta(minutes=get_settings().idle_minutes)
    last_seen = st.session_state.get(LAST_SEEN_KEY)
    if not isinstance(last_seen, datetime) or _now() - last_seen > idle:
        sign_out(f"You were signed out after {get_settings().idle_minutes} minutes without activity.")
        return None
    with session_scope(engine()) as session:
        fresh = still_active(session, user)
    if fresh is None:
        sign_out("Your user was disabled: ask an admin.")
        return None
    st.session_state[USER_KEY] = fresh
    st.session_state[LAST_SEEN_KEY] = _now()
    return fresh


def require_user() -> SignedIn:
    """The page's reader, checked again here: a page script can be reached without
    ``app.py`` (Streamlit runs files in ``pages/`` directly on a process's first request)."""
    user = current_user()
    if user is None:
        st.error(st.session_state.get(NOTICE_KEY) or "Sign in to see this page.", icon=":material/lock:")
        st.stop()
    return user


def _sign_out_clicked() -> None:
    sign_out()
    if getattr(st.user, "is_logged_in", False):
        st.logout()


def team_page() -> SignedIn:
    """Call first on every team page: checks the sign-in and shows who is signed in."""
    user = require_user()
    with st.sidebar:
        st.caption(f"Signed in as **{plain(user.label)}** · {user.role}")
        st.button("Sign out", icon=":material/logout:", on_click=_sign_out_clicked, key="sign_out")
    return user


def require_admin() -> SignedIn:
    user = team_page()
    if not user.is_admin:
        st.error("Only admins can open this page.")
        st.stop()
    return user


def reader_scope() -> Scope:
    """The accounts the signed-in user may see."""
    user = require_user()
    with session_scope(engine()) as session:
        return scope_of(session, user)


def sso_configured() -> bool:
    """Whether ``secrets.toml`` names an identity provider for ``st.login``."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return False


def adopt_sso_user() -> None:
    """After the identity provider's sign-in, map its verified email onto our user."""
    if st.session_state.get(USER_KEY) is not None or not sso_configured():
        return
    if not getattr(st.user, "is_logged_in", False):
        return
    email = str(st.user.get("email") or "")
    if st.session_state.get("sso_refused") == email:
        return  # refused once in this session: do not log the same failure on every click
    try:
        with session_scope(engine(), keep_on=(SignInError,)) as session:
            user = sign_in_by_email(session, email, now=_now())
    except SignInError as refused:
        st.session_state["sso_refused"] = email
        st.session_state[NOTICE_KEY] = str(refused)
        return
    sign_in(user)


def visible_accounts(scope: Scope) -> dict[int, str]:
    """The accounts the reader may see, by id, for a picker; stops the page when there are none."""
    from survey.accounts.profile import list_accounts

    with session_scope(engine()) as session:
        choices = {choice.id: choice.name for choice in list_accounts(session, scope)}
    if not choices and not scope.is_everything:
        st.info("You own no accounts yet. An admin assigns accounts to their owners.")
        st.stop()
    if not choices:
        st.info(
            "No accounts yet. They are created with the first survey invitation (`python -m survey invite`)."
        )
        st.stop()
    return choices


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_downloads(
    places: Sequence[DeltaGenerator], table: pd.DataFrame, *, name: str, sheet: str, key: str
) -> None:
    """The buttons "Download CSV" and "Download Excel" of ``table`` (files ``name``.csv and
    ``name``.xlsx, its sheet ``sheet``; keys ``key``_csv and ``key``_xlsx) in the first two of
    ``places``. Each file
    is built at the click from ``table`` alone: a page's download holds nothing else of the page
    for as long as the session keeps it."""
    places[0].download_button(
        "Download CSV", partial(frame_csv, table), file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv"
    )
    places[1].download_button(
        "Download Excel",
        partial(frame_xlsx, table, sheet),
        file_name=f"{name}.xlsx",
        mime=XLSX_MIME,
        key=f"{key}_xlsx",
    )
