"""What predicts what: which indicator, at which touchpoint, goes with what accounts do next."""

from collections.abc import Callable
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page
from survey.behaviour.predictors import OUTCOMES, Predictions, data_version, predictions, strongest
from survey.charts.behaviour import correlation_forest, correlation_grid
from survey.charts.common import PNG_CONFIG
from survey.instrument.definition import load_instrument
from survey.people.access import Scope

user = team_page()
scope = reader_scope()
st.set_page_config(layout="wide")
settings = get_settings()
labels = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}
KINDS = {"all": "All accounts", "segment": "By segment", "touchpoint": "By touchpoint"}


@st.cache_data(show_spinner="Relating scores to behaviour…", max_entries=8)
def _predictions(
    url: str, min_n: int, version: tuple[int, str, int], accounts: tuple[int, ...] | None
) -> Predictions:
    # ``version`` and the reader's accounts are the cache key: a manager gets their own figures.
    del url, version
    scope = Scope.everything() if accounts is None else Scope.of_accounts(accounts)
    with session_scope(engine()) as session:
        return predictions(session, min_n=min_n, labels=labels, scope=scope)


st.title("What predicts what")
st.write(
    "Each account's indicator scores in one period against what it did in the **next** period: sales "
    "transactions, monetary volume and whether it bought again. Every figure carries its n (account-periods) "
    "and 95% interval; a sentence claims a link only when it holds after correcting for the many "
    f"comparisons; groups with fewer than {max(settings.min_n, 4)} account-periods are not shown."
)
with session_scope(engine()) as session:
    version = data_version(session)
result = _predictions(
    settings.database_url,
    settings.min_n,
    version,
    None if scope.account_ids is None else tuple(sorted(scope.account_ids)),
)
if result.pairs == 0:
    st.info(
        "Nothing to relate yet: this needs transactional measures for at least two consecutive periods "
        "(import them on the Loyalty page) and survey responses in the earlier one."
    )
    st.stop()

table = result.table
outcome = (
    st.segmented_control(
        "Next period's",
        list(OUTCOMES),
        default="sales_transactions",
        format_func=cast(Callable[[Any], str], OUTCOMES.get),
        key="outcome",
    )
    or "sales_transactions"
)

st.subheader(f"Strongest links with {OUTCOMES[outcome].lower()}")
best = strongest(table, outcome, count=5)
if best.empty:
    st.info("No indicator shows a clear link with this outcome after correction for many comparisons.")
for row in best.itertuples(index=False):
    where = "all accounts" if row.kind == "all" else f"{row.kind} {plain(row.group)}"
    st.markdown(f"- **{labels.get(row.indicator, row.indicator)}**, {where}: {row.reading}")

by_touchpoint = strongest(table, outcome, kind="touchpoint", count=1)
touchpoint_rows = table[(table["outcome"] == outcome) & (table["kind"] == "touchpoint")]
if not by_touchpoint.empty:
    top = by_touchpoint.iloc[0]
    compared = int(touchpoint_rows["shown"].astype(bool).sum())
    claimed = int(touchpoint_rows["claim"].astype(bool).sum())
    many = (
        f"It is the largest of {compared} touchpoint × indicator correlations ({claimed} hold after "
        "the Benjamini–Hochberg correction): the largest of many estimates tends to overstate, so "
        "expect a weaker link in the next period."
        if compared > 1
        else "It is the only touchpoint × indicator correlation with enough data."
    )
    st.container(border=True).markdown(
        f"Largest link with {OUTCOMES[outcome].lower()} at a single touchpoint: "
        f"**{labels.get(top['indicator'], top['indicator'])}** after **{plain(top['group'])}** "
        f"(r = {top['r']:.2f}, 95% CI {top['low']:.2f} to {top['high']:.2f}, n = {top['n']}). "
        f"{many} Read it as association, not cause."
    )
if touchpoint_rows["shown"].astype(bool).any():
    journey = list(dict.fromkeys(touchpoint_rows["group"]))  # already in journey order
    st.plotly_chart(
        correlation_grid(
            touchpoint_rows,
            labels,
            journey,
            f"{OUTCOMES[outcome]} next {result.grain}: r by touchpoint and indicator",
        ),
        width="stretch",
        config=PNG_CONFIG,
    )

kind = (
    st.segmented_control(
        "Group", list(KINDS), default="all", format_func=cast(Callable[[Any], str], KINDS.get), key="kind"
    )
    or "all"
)
rows = table[(table["outcome"] == outcome) & (table["kind"] == kind)]
title = (
    f"{OUTCOMES[outcome]} next {result.grain} against this {result.grain}'s indicators "
    f"({KINDS[kind].lower()})"
)
if rows["shown"].astype(bool).any():
    st.plotly_chart(correlation_forest(rows, labels, title), width="stretch", config=PNG_CONFIG)
st.dataframe(
    pd.DataFrame(
        {
            "Indicator": [labels.get(code, code) for code in rows["indicator"]],
            "Group": rows["group"],
            "n": rows["n"],
            "r": rows["r"].astype(float).round(2),
            "95% CI": [
                "—" if pd.isna(low) else f"{low:.2f} to {high:.2f}"
                for low, high in zip(rows["low"], rows["high"], strict=True)
            ],
            "p (corrected)": [
                "—" if pd.isna(p) else "< 0.001" if p < 0.001 else f"{p:.3f}" for p in rows["p_corrected"]
            ],
            "Reading": rows["reading"],
        }
    ),
    hide_index=True,
    width="stretch",
)
st.caption(
    f"{result.pairs} account-{result.grain}s with survey scores and a following {result.grain}. "
    "Pearson's r with its Fisher-z interval (pingouin); p corrected by Benjamini-Hochberg across every "
    "correlation on the page. "
    "An account counts once per period, so accounts with many periods weigh more and intervals are a "
    "little optimistic. A correlation is not a cause."
)
