"""What works: for each kind of action we log, how the accounts' indicators changed after it
compared with similar accounts that had no such action in the same weeks."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from pages.common import engine, reader_scope, team_page
from survey.accounts.actions import ACTION_TYPES
from survey.accounts.whatworks import WINDOW_DAYS, what_works
from survey.charts.accounts import effects_forest
from survey.charts.common import PNG_CONFIG
from survey.instrument.definition import load_instrument

user = team_page()
st.set_page_config(layout="wide")
scope = reader_scope()
labels = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}

st.title("What works")
st.write(
    f"For each logged action, the account's mean score in the {WINDOW_DAYS} days after it minus the "
    f"{WINDOW_DAYS} days before, compared with the same change at similar accounts (same segment) that had "
    "no such action in those weeks: a difference-in-differences, in points on 0–100, with its 95% interval "
    "and the number of accounts behind it."
)
st.write(
    "Many intervals are shown at once, and at 95% one in twenty of them would exclude zero by chance "
    "alone. So each effect has an interval **corrected for all comparisons shown** (Bonferroni: all of "
    "them hold together with 95% probability) and a Holm-adjusted p-value; the words follow the corrected "
    "interval. The 95% interval of each effect alone is shown too, labelled *uncorrected*."
)
st.warning(
    "This shows an **association, not proof**. Actions are not handed out at random — a review may be "
    "booked because a relationship was slipping — and anything else that happened in those weeks is in "
    "the difference too. Read an interval that excludes zero as a lead worth following, not a verdict.",
    icon=":material/info:",
)

with session_scope(engine()) as session:
    effects = what_works(session, datetime.now(UTC), scope)

frame = pd.DataFrame(
    [
        {
            "action": e.action,
            "indicator": e.indicator,
            "estimate": None if e.estimate is None else e.estimate.value,
            "low": None if e.estimate is None or e.estimate.n < 2 else e.estimate.low,
            "high": None if e.estimate is None or e.estimate.n < 2 else e.estimate.high,
            "sim_low": None if e.simultaneous is None else e.simultaneous.low,
            "sim_high": None if e.simultaneous is None else e.simultaneous.high,
            "p": e.p_value,
            "p_holm": e.p_holm,
            "comparisons": e.comparisons,
            "n": 0 if e.estimate is None else e.estimate.n,
            "actions": e.actions,
            "sentence": e.sentence,
        }
        for e in effects
    ]
)
figures = ["estimate", "low", "high", "sim_low", "sim_high", "p", "p_holm"]
frame[figures] = frame[figures].astype(float)  # None -> NaN
if frame["n"].sum() == 0:
    st.info(
        f"No action has {WINDOW_DAYS} days of answers before and after it yet. Log actions on the Account "
        "page, with `python -m survey action add` or through the API."
    )
    st.stop()

kind = st.selectbox(
    "Action",
    [k for k in ACTION_TYPES if frame.loc[frame["action"] == k, "n"].sum() > 0],
    format_func=cast(Callable[[Any], str], ACTION_TYPES.get),
    key="ww_action",
)
chosen = frame[frame["action"] == kind]
st.plotly_chart(
    effects_forest(chosen, labels, f"After a {ACTION_TYPES[kind].lower()}, against similar accounts"),
    width="stretch",
    config=PNG_CONFIG,
)
for sentence in chosen["sentence"]:
    st.text(sentence)

st.subheader("Every action and indicator")
st.dataframe(
    pd.DataFrame(
        {
            "Action": [ACTION_TYPES[a] for a in frame["action"]],
            "Indicator": [labels.get(i, i) for i in frame["indicator"]],
            "Difference (points)": frame["estimate"].round(1),
            "Low, all comparisons": frame["sim_low"].round(1),
            "High, all comparisons": frame["sim_high"].round(1),
            "p (Holm)": frame["p_holm"],
            "Uncorrected 95% low": frame["low"].round(1),
            "Uncorrected 95% high": frame["high"].round(1),
            "p (uncorrected)": frame["p"],
            "Accounts (n)": frame["n"],
            "Actions": frame["actions"],
        }
    ),
    hide_index=True,
    column_config={
        "p (Holm)": st.column_config.NumberColumn(format="%.3f"),
        "p (uncorrected)": st.column_config.NumberColumn(format="%.3f"),
    },
)
comparisons = int(frame["comparisons"].max())
st.caption(
    f"Corrected over the {comparisons} effects with an interval: Bonferroni-widened intervals "
    f"(each at {1 - 0.05 / max(comparisons, 1):.2%}) and Holm-adjusted p-values. The uncorrected columns "
    "are each effect's own 95% interval and t-test."
)
