"""My accounts: every account in the reader's scope, the one that needs them first on top, and why."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, table_downloads, team_page
from survey.accounts.health import COMPONENT_LABELS, PERIOD_DAYS, WEIGHTS, account_health, health_frame
from survey.accounts.values import disagreements_among, level_label
from survey.accounts.warnings import check_accounts
from survey.behaviour.rfm import RFM_SEGMENTS
from survey.exports.frames import frame_csv

user = team_page()
st.set_page_config(layout="wide")
scope = reader_scope()
now = datetime.now(UTC)
FLASH = "my_accounts_flash"
GAPS_SHOWN = 200  # disagreements listed on the page; the download has them all
PICK_SHOWN = 200  # accounts offered by the picker, in the ranking's order

st.title("My accounts" if user.role == "manager" else "Accounts by health")
st.caption(
    "Ranked by a health score from 0 to 100 — lowest first, the account that needs you soonest. It "
    "combines the influence-weighted indicators, their change against the account's own baseline, how "
    "much buying influence answered lately, how recently you heard from the account, the gap between "
    "your value level and the customer's, loyalty from transactional measures, and open follow-ups."
)


def run_checks() -> None:
    with session_scope(engine()) as session:
        opened = check_accounts(
            session, datetime.now(UTC), reader_scope(), silent_days=get_settings().silent_decision_maker_days
        )
        count = len(opened)
    st.session_state[FLASH] = f"{count} account follow-up(s) opened." if count else "No new account warnings."


with st.expander("How the health score is built"):
    st.table(
        {
            "Component": [COMPONENT_LABELS[name] for name in WEIGHTS],
            "Weight": [f"{weight:.0%}" for weight in WEIGHTS.values()],
        }
    )
    st.write(
        f"The change compares the last {PERIOD_DAYS} days with the year before and is pulled toward the "
        "segment's change when the account has few answers, with its 95% interval. Components that "
        "cannot be computed are left out and the others reweighted. The README explains every component."
    )


def show() -> None:
    """The ranking and all that follows it. What it reads stays local to this call: the
    check's callback (``run_checks``) keeps this script's globals for as long as the session
    lives, and 5,000 ranked rows there would outlive every open and slow every full garbage
    collection."""
    with session_scope(engine()) as session:
        rows = account_health(session, now, scope)
    if not rows:
        st.info("No accounts to rank yet." if scope.is_everything else "You own no accounts yet.")
        st.stop()

    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)

    frame = health_frame(rows)
    frame.insert(0, "account_id", [r.account_id for r in rows])
    frame["Declining"] = [r.declining for r in rows]

    filters = st.columns(4)
    segments = filters[0].multiselect("Segment", sorted(set(frame["Segment"])), key="ma_segment")
    rfm = filters[1].multiselect("RFM segment", list(RFM_SEGMENTS), key="ma_rfm")
    owners = sorted(set(frame["Owner"]))
    owner = filters[2].multiselect("Owner", owners, key="ma_owner") if len(owners) > 1 else []
    search = filters[3].text_input("Account name contains", key="ma_search")
    options = st.columns(3)
    declining = options[0].toggle("Only accounts declining beyond uncertainty", key="ma_declining")
    sort_by = options[1].selectbox(
        "Sort by",
        [
            "Health",
            "Change",
            "Indicators (0-100)",
            "Influence heard",
            "Days since answer",
            "Open follow-ups",
            "Account",
        ],
        key="ma_sort",
    )
    descending = options[2].toggle("Highest first", key="ma_desc")

    shown = frame
    if segments:
        shown = shown[shown["Segment"].isin(segments)]
    if rfm:
        shown = shown[shown["RFM segment"].isin(rfm)]
    if owner:
        shown = shown[shown["Owner"].isin(owner)]
    if search.strip():
        shown = shown[shown["Account"].str.contains(search.strip(), case=False, regex=False)]
    if declining:
        shown = shown[shown["Declining"]]
    shown = shown.sort_values([sort_by, "Account"], ascending=[not descending, True], na_position="last")

    st.caption(f"{len(shown)} of {len(frame)} accounts.")
    if shown.empty:
        st.info("No account matches these filters.")
        st.stop()

    st.subheader("Needs you first")
    cards = st.columns(min(3, len(shown)))
    by_id = {r.account_id: r for r in rows}
    for card, account_id in zip(cards, shown["account_id"].head(3), strict=False):
        row = by_id[int(account_id)]
        with card.container(border=True):
            st.metric(plain(row.account), f"{row.health:.0f}", help="Health score, 0-100")
            if row.reasons:
                st.markdown("\n".join(f"- {plain(reason)}" for reason in row.reasons))
            else:
                st.caption("Nothing in particular pulls it down.")

    st.subheader("All accounts")
    table = shown.drop(columns=["account_id", "Declining"])
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "Health": st.column_config.ProgressColumn("Health", min_value=0, max_value=100, format="%.0f"),
            "What pulls it down": st.column_config.TextColumn(width="large"),
        },
    )
    downloads = st.columns(3)
    table_downloads(downloads, table, name="my-accounts", sheet="accounts", key="ma")
    if user.can_change:
        downloads[2].button(
            "Check for account warnings now",
            on_click=run_checks,
            key="ma_check",
            help="Opens one follow-up per account and reason: declining beyond uncertainty, two or more "
            "contacts flagged within 30 days, a decision maker gone quiet. This also runs daily "
            "(check-accounts).",
        )

    st.subheader("Value level: where the account manager and the customer disagree")
    # Among the accounts the filters above leave; a long list shows its largest gaps first.
    listed = set(shown["account_id"].tolist())
    with session_scope(engine()) as session:
        gaps = disagreements_among(session, [row for row in rows if row.account_id in listed])
    if gaps:
        more = len(gaps) > GAPS_SHOWN
        st.caption(
            "Accounts where the account manager's value level (0–4) and the customer's (the median of each "
            "contact's latest answer) are one level or more apart, the largest gap first"
            + (f": the {GAPS_SHOWN} largest of {len(gaps)}. " if more else ". ")
            + ("Narrow them with the filters above, or download them all." if more else "")
        )
        gap_table = pd.DataFrame(
            {
                "Account": [g.account for g in gaps],
                "Owner": [g.owner for g in gaps],
                "Account manager": [level_label(g.manager) for g in gaps],
                "Customer": [level_label(g.customer_level) for g in gaps],
                "Contacts (n)": [g.customer_n for g in gaps],
                "Gap (levels)": [g.gap for g in gaps],
                "Assessed": ["—" if g.assessed_at is None else f"{g.assessed_at:%Y-%m-%d}" for g in gaps],
            }
        )
        st.dataframe(gap_table.head(GAPS_SHOWN), hide_index=True)
        if more:
            st.download_button(
                f"Download all {len(gaps)} (CSV)",
                partial(frame_csv, gap_table),
                file_name="value-level-gaps.csv",
                mime="text/csv",
                key="ma_gaps_csv",
            )
    else:
        st.caption("No account here where the account manager and the customer are a level or more apart.")

    # The picker offers the ranking's first accounts as shown: the filters above reach any other.
    picked = shown.head(PICK_SHOWN)
    names = dict(zip(picked["account_id"], picked["Account"], strict=True))
    choice = st.selectbox(
        "Open an account",
        list(names),
        format_func=cast(Callable[[Any], str], names.get),
        key="ma_open",
        help=f"The first {PICK_SHOWN} accounts in the order above; search by name above to reach any other."
        if len(shown) > PICK_SHOWN
        else None,
    )
    if st.button("Open the account page", key="ma_go"):
        st.session_state["account"] = int(choice)
        st.switch_page("pages/account.py")


show()
