"""The account team's dashboard: indicator trends against competitor benchmarks."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, reader_scope, team_page
from pages.filters import filter_bar
from survey.behaviour.rfm import narrow_to_rfm
from survey.charts import common as charts
from survey.instrument.definition import load_instrument
from survey.instrument.workflow import version_breaks
from survey.loop.worker import check_the_day
from survey.people.access import restrict_filters
from survey.quality.report import latest_notices
from survey.reporting.dashboard import (
    RECENT_MONTHS,
    DashboardData,
    account_movers,
    compute,
    data_version,
    filter_options,
    reliability,
)
from survey.reporting.filters import Filters, period_of
from survey.reporting.forms import READ_AT_ONCE, form_label, responses_by_form, rests_on
from survey.reporting.intervals import change_reading, effective

user = team_page()

st.set_page_config(layout="wide")
settings = get_settings()
instrument = load_instrument()
labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
texts = {item.code: item.text["en"] for item in instrument.items}


@st.cache_data(show_spinner="Computing…", max_entries=64)
def _dashboard(url: str, filters: Filters, min_n: int, version: tuple[int, int, str]) -> DashboardData:
    # ``version`` is part of the cache key: a new response or figure computes afresh.
    del url, version
    with session_scope(engine()) as session:
        return compute(session, filters, instrument, min_n)


@st.cache_data(show_spinner="Estimating reliability…", max_entries=64)
def _reliability(url: str, filters: Filters, min_n: int, version: tuple[int, int, str]) -> pd.DataFrame:
    del url, version
    with session_scope(engine()) as session:
        return reliability(session, filters, instrument, min_n)


@st.cache_data(max_entries=64)
def _forms(url: str, filters: Filters, version: tuple[int, int, str]) -> tuple[str, list[tuple[str, str]]]:
    """Which forms the figures rest on, and where the instrument version changed (month, note)."""
    del url, version
    with session_scope(engine()) as session:
        counts = responses_by_form(session, filters)
        breaks = [(change.month, change.describe()) for change in version_breaks(session)]
    return rests_on(counts), breaks


scope = reader_scope()
with session_scope(engine()) as session:
    options = filter_options(session)
    version = data_version(session)
# A manager picks from, and always sees only, their own accounts.
options["accounts"] = {key: name for key, name in options["accounts"].items() if scope.allows(key)}

st.title("Dashboard")
if options["first_month"] is None:
    st.info("No responses yet. Send a survey with `python -m survey invite --help`, or load the demo data.")
    st.stop()

filters = filter_bar(options, recent_months=RECENT_MONTHS, grain=True, version=True, rfm=True)
visible = restrict_filters(filters, scope)
if visible is None:
    st.info("Nothing to show: you own none of these accounts. An admin assigns accounts to their owners.")
    st.stop()
with session_scope(engine()) as session:
    in_segments = narrow_to_rfm(session, visible)
if in_segments is None:
    st.info(
        "No account you can see is in the chosen RFM segments (or no transactional measures are "
        "imported yet: `python -m survey import-transactions`)."
    )
    st.stop()
filters = in_segments
data = _dashboard(settings.database_url, filters, settings.min_n, version)
competitors = options["competitors"]
st.caption(
    f"{data.responses} responses from {filters.start} to {filters.end}. Scores run from 0 to 100. "
    f"Figures from fewer than {settings.min_n} responses, or from fewer than {settings.min_n} different "
    "people, are not shown. "
    "Every chart's menu can download it as a PNG."
    + (f" Instrument version {data.version}." if len(options["versions"]) > 1 else "")
)
forms_line, version_changes = _forms(settings.database_url, filters, version)
st.caption(
    f"The figures rest on {forms_line}. A pulse asks one or two statements per indicator in rotation, "
    "a check-up all of them; both score on the same 0–100 scale."
)
if data.responses == 0:
    st.warning("No responses match these filters.")
    st.stop()
# Figures pool languages and instrument versions: say where the instrument does not allow that,
# as the day's check found (the worker makes it; a base never checked is checked now, once,
# taking turns with the worker and the server's read-ahead, which may be making it already).
with session_scope(engine()) as session:
    notices = latest_notices(session)
if notices is None:
    check_the_day(engine(), datetime.now(UTC))
    with session_scope(engine()) as session:
        notices = latest_notices(session) or []
for notice in notices:
    st.warning(f"{plain(notice)} See the Instrument quality page.", icon=":material/translate:")

# Headline: where the latest period stands against the one before.
st.caption(
    f"Latest {filters.grain} and its change against the {filters.grain} before. Intervals allow for "
    "answers from one account being alike (cluster-robust across accounts)."
)
own_trend = data.trend[data.trend["subject"] == "own"]
latest = data.headlines
cards = st.columns(len(labels))
for card, (code, label) in zip(cards, labels.items(), strict=True):
    headline = latest.get(code)
    if headline is None:
        card.metric(label, "—", help=f"Fewer than {settings.min_n} responses, or people.")
        continue
    card.metric(
        label,
        f"{headline.mean:.0f}",
        delta=None if headline.change is None else f"{headline.change:+.1f}",
        help=f"{headline.period}: n = {headline.n}{effective(headline.n, headline.n_eff)}, "
        f"95% CI {headline.low:.0f}–{headline.high:.0f}",
        border=True,
    )
    card.caption(change_reading(headline.change, headline.change_interval, headline.previous_period))

significant = [gap for gap in data.gaps if gap.significant]
if significant:
    st.subheader("Gaps that are more than noise")
    for gap in sorted(significant, key=lambda g: g.difference)[:8]:
        icon = ":material/arrow_downward:" if gap.difference < 0 else ":material/arrow_upward:"
        st.markdown(f"{icon} {plain(gap.sentence())} · {plain(gap.kind)}")

st.subheader(f"Where it is slipping: the largest falls since the previous {filters.grain}")
st.caption(
    "Ranked by the estimated change: each group's change shrunk toward the indicator's change over "
    "all groups, the more the fewer its responses (empirical Bayes), so a small group's noisy fall "
    "does not outrank a large group's real one; the estimate has its own 95% interval. The raw change "
    "is shown with its 95% interval: for a segment or touchpoint clustered by account (an account's "
    "answers in both periods are alike), for one account clustered by contact."
)


def _interval(low: float, high: float) -> str:
    return "—" if pd.isna(low) else f"{low:+.1f} to {high:+.1f}"


def _falls(frame: pd.DataFrame, where: str, names: dict | None = None) -> pd.DataFrame:
    falls = frame[frame["shrunk"] < 0].head(8)
    return pd.DataFrame(
        {
            where: falls[falls.columns[0]].map(names or (lambda value: value)),
            "Indicator": falls["indicator"].map(labels),
            "Before": falls["before"].round(0),
            "Now": falls["after"].round(0),
            "Change": falls["change"].round(1),
            "Change 95% CI": [
                _interval(lo, hi) for lo, hi in zip(falls["change_low"], falls["change_high"], strict=True)
            ],
            "Estimated change": falls["shrunk"].round(1),
            "Estimate 95% CI": [
                _interval(lo, hi) for lo, hi in zip(falls["shrunk_low"], falls["shrunk_high"], strict=True)
            ],
            "n": falls["n_before"].astype(str) + " → " + falls["n_after"].astype(str),
        }
    )


by_segment, by_touchpoint = st.columns(2)
segment_falls = _falls(data.segment_movers, "Segment")
touchpoint_falls = _falls(data.touchpoint_movers, "Touchpoint", options["touchpoints"])
for column, table in ((by_segment, segment_falls), (by_touchpoint, touchpoint_falls)):
    if table.empty:
        column.info(f"No fall with {settings.min_n} or more responses in both periods.")
    else:
        column.dataframe(table, hide_index=True, width="stretch")
if st.toggle("Also look for falls account by account", key="movers"):
    with session_scope(engine()) as session:
        account_falls = _falls(
            account_movers(session, filters, settings.min_n), "Account", options["accounts"]
        )
    if account_falls.empty:
        st.info(f"No account has {settings.min_n} or more responses in both periods with a fall.")
    else:
        st.dataframe(account_falls, hide_index=True, width="stretch")


def show_trends() -> None:
    """The tab “Trends against benchmarks”."""
    st.caption(
        "Our score with its 95% interval (the band), and each provider our respondents name as the "
        "leader, rated on one statement, with its 95% interval (the bars). Both intervals are "
        "clustered by account: the same people answer again and again and share a relationship. "
        "Each point's details give its n and its effective n."
    )
    periods = sorted(data.trend["period"].unique())
    leader_rows = data.trend[(data.trend["subject"] == "leader") & (data.trend["competitor_id"] > 0)]
    leader_rows = leader_rows.assign(name=leader_rows["competitor_id"].map(competitors))
    colours = charts.series_colours([*competitors.values(), *data.benchmarks["name"]])
    breaks = [
        (str(period_of(pd.Series([month]), filters.grain).iloc[0]), note) for month, note in version_changes
    ]
    grid = st.columns(2)
    for index, (code, label) in enumerate(labels.items()):
        figure = charts.indicator_trend(
            label,
            own_trend[own_trend["indicator"] == code],
            leader_rows[leader_rows["indicator"] == code],
            data.benchmarks[data.benchmarks["indicator"] == code],
            periods,
            colours,
            breaks,
        )
        grid[index % 2].plotly_chart(figure, width="stretch", config=charts.PNG_CONFIG, key=f"trend_{code}")


def show_gaps() -> None:
    """The tab “Gaps to each benchmark”."""
    if data.gaps:
        st.caption(
            "A provider rated by our respondents: each respondent's rating of it beside their own "
            "answer to our matching statement (the same content), compared as pairs: the paired "
            "t-test, the 95% interval of the mean difference and Cohen's d_av. A published figure "
            "that states its own n and standard deviation (converted linearly to 0–100): Welch's "
            "t-test between the two samples from their summaries. A published figure without n and "
            "sd is shown for reference and not tested. Our answers are clustered by account (contacts "
            "answer repeatedly and share a relationship): the tests use cluster-robust standard errors, "
            "and the effective n is the number of independent answers they are worth. p-values "
            "corrected for all tests shown (Holm)."
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "Indicator": [gap.label for gap in data.gaps],
                    "Compared with": [gap.against for gap in data.gaps],
                    "Source": [gap.kind for gap in data.gaps],
                    "Us": [round(gap.ours, 1) for gap in data.gaps],
                    "Them": [round(gap.theirs, 1) for gap in data.gaps],
                    "Gap": [round(gap.difference, 1) for gap in data.gaps],
                    "Gap 95% CI": [
                        "—" if gap.low is None or gap.high is None else _interval(gap.low, gap.high)
                        for gap in data.gaps
                    ],
                    "Effect (d)": [None if gap.effect is None else round(gap.effect, 2) for gap in data.gaps],
                    "p (corrected)": [gap.p_corrected for gap in data.gaps],
                    "n": [gap.n for gap in data.gaps],
                    "n (effective)": [None if gap.n_eff is None else round(gap.n_eff) for gap in data.gaps],
                    "n (theirs)": [gap.n_theirs for gap in data.gaps],
                    "Reading": [gap.sentence() for gap in data.gaps],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"p (corrected)": st.column_config.NumberColumn(format="%.3f")},
        )
    else:
        st.info("No benchmark has enough data for a comparison in this selection.")


def show_profile() -> None:
    """The tab “Profile, recommendation and touchpoints”."""
    left, right = st.columns(2)
    with left:
        radar = st.toggle("Show the profile as a radar", key="radar")
        draw = charts.profile_radar if radar else charts.profile_dots
        st.plotly_chart(draw(data.profile, labels, competitors), width="stretch", config=charts.PNG_CONFIG)
    with right:
        if data.nps.empty:
            st.info(f"No {filters.grain} has {settings.min_n} or more recommendation answers.")
        else:
            st.plotly_chart(charts.nps_over_time(data.nps), width="stretch", config=charts.PNG_CONFIG)

    if not data.heat_map.empty:
        st.caption(
            "Each cell's details give its 95% interval (clustered by account), n and effective n; "
            "a blank cell rests on too few answers or people to show."
        )
        st.plotly_chart(
            charts.heat_map(data.heat_map, labels, options["touchpoints"]),
            width="stretch",
            config=charts.PNG_CONFIG,
        )


def show_statements() -> None:
    """The tab “Answers to each statement”."""
    shown = st.selectbox(
        "Indicator", list(labels), format_func=cast(Callable[[Any], str], labels.get), key="likert_indicator"
    )
    codes = [item.code for item in instrument.indicator_items(shown)]
    shares = data.distribution[data.distribution.index.isin(codes)]
    if shares.empty:
        st.info(f"Fewer than {settings.min_n} answers, or people, per statement.")
    else:
        scale_labels = {point: text["en"] for point, text in instrument.agree_scale.labels.items()}
        marked = {
            code: texts[code] + (" (reverse-keyed)" if instrument.item(code).reverse else "")
            for code in codes
        }
        st.plotly_chart(
            charts.likert_bars(shares, marked, scale_labels), width="stretch", config=charts.PNG_CONFIG
        )


def show_reliability() -> None:
    """The tab “Reliability of each scale”."""
    st.caption(
        "Cronbach's alpha with its 95% interval, for each form apart: from the check-ups that answered "
        "every statement of the scale, and from the pulses through pairwise covariances of the "
        "statements asked together (the pulses' interval counts the fewest pulses behind one pair). "
        "Answers are reverse-keyed; every filter applies. The status reads the interval against 0.70, "
        "and a statement is named for dropping only when alpha without it lies above that interval. "
        "The interval is taken at the effective n: answers from one account are alike (design effect)."
    )
    if data.responses <= READ_AT_ONCE or st.toggle(
        f"Estimate reliability (reads every answer of these {data.responses:,} responses; "
        "this can take a while)",
        key="reliability",
    ):
        alphas = _reliability(settings.database_url, filters, settings.min_n, version)
    else:
        alphas = None
    if alphas is None:
        pass
    elif alphas.empty:
        st.info("Not enough answers to estimate reliability.")
    else:
        table = alphas.assign(
            Indicator=alphas["indicator"].map(labels),
            Form=alphas["form"].map(form_label),
            drop_to_raise=alphas["drop_to_raise"].fillna("—"),
            Status=alphas["reading"],
        )
        for row in table[table["high"] < 0.7].itertuples():
            st.warning(
                f"{row.Indicator} ({row.Form.lower()}s): alpha {row.alpha:.2f} "
                f"(95% CI {row.low:.2f}–{row.high:.2f}) "
                "is below 0.70; its score is not reliable here."
            )
        for form, shown in table.groupby("form", sort=False):
            st.subheader(f"From {form_label(str(form)).lower()}s")
            st.caption(
                f"Rests on {shown['basis'].iloc[0]}; n = {shown['n'].min():,} to {shown['n'].max():,}."
            )
            st.dataframe(
                shown[
                    [
                        "Indicator",
                        "Form",
                        "alpha",
                        "low",
                        "high",
                        "n",
                        "n_eff",
                        "items",
                        "drop_to_raise",
                        "alpha_without",
                        "Status",
                    ]
                ],
                hide_index=True,
                width="stretch",
                column_config={
                    "alpha": st.column_config.NumberColumn("Alpha", format="%.3f"),
                    "low": st.column_config.NumberColumn("95% low", format="%.3f"),
                    "high": st.column_config.NumberColumn("95% high", format="%.3f"),
                    "n": st.column_config.NumberColumn("n (responses)"),
                    "n_eff": st.column_config.NumberColumn(
                        "Effective n",
                        format="%.0f",
                        help="The independent answers the interval rests on: answers from one account "
                        "are alike, so the interval is taken at n over the design effect.",
                    ),
                    "drop_to_raise": st.column_config.TextColumn("Dropping this item raises alpha"),
                    "alpha_without": st.column_config.NumberColumn("Alpha without it", format="%.3f"),
                },
            )


# Each section runs and is drawn only while its tab is open: a reader who came for the
# headline does not wait for every chart of the page.
SECTIONS = {
    "Trends against benchmarks": show_trends,
    "Gaps to each benchmark": show_gaps,
    "Profile, recommendation and touchpoints": show_profile,
    "Answers to each statement": show_statements,
    "Reliability of each scale": show_reliability,
}
for tab, show in zip(
    st.tabs(list(SECTIONS), key="section", on_change="rerun"), SECTIONS.values(), strict=True
):
    if tab.open:
        with tab:
            show()
st.caption(f"Computed {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the stored scores.")
