"""The team's overview page, through AppTest."""

import base64
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.factories import drawn_figures, respond, team_app

APP = "../app.py"


def respond_times(db, count: int, when: datetime) -> None:
    for number in range(count):
        respond(db, when, email=f"p{number}@acme.example")


def values(array) -> list[float]:
    """Plotly sends numeric arrays either as lists or as base64 typed arrays."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_an_empty_database_explains_how_to_start(db):
    at = team_app(db, timeout=30).run()
    assert not at.exception
    assert "No responses yet" in at.info[0].value


def test_a_team_without_answers_in_the_latest_months_still_sees_its_overview(db):
    # The cards' window is empty: its recommendation read is one row of empty sums.
    respond_times(db, 6, datetime.now(UTC) - timedelta(days=400))
    at = team_app(db, timeout=30).run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Satisfaction"] == "—"
    assert [value for label, value in shown.items() if "NPS" in label or "ecommend" in label] == ["—"]


def test_figures_below_the_minimum_n_are_suppressed(db):
    respond_times(db, 4, datetime.now(UTC) - timedelta(days=1))
    at = team_app(db, timeout=30).run()
    assert metrics(at)["Trust"] == "—"
    assert metrics(at)["NPS"] == "—"
    assert not at.get("plotly_chart")
    assert len(at.table[0].value) == 4


def test_scores_nps_and_the_trend_are_shown(db):
    respond_times(db, 5, datetime.now(UTC) - timedelta(days=1))
    at = team_app(db, timeout=30).run()
    shown = metrics(at)
    # Every respondent gave the same answers: trust 5.0 on 1-7 is 66.7 on 0-100.
    assert shown["Trust"] == "67"
    assert shown["Mind-set"] == "17"
    assert shown["NPS"] == "+100"
    [figure] = drawn_figures(at)
    lines = [trace for trace in figure["data"] if trace.get("mode") == "lines+markers"]
    assert [trace["name"] for trace in lines][:2] == ["Satisfaction", "Trust"]
    assert values(lines[1]["y"]) == pytest.approx([200 / 3])
    latest = at.table[0].value
    assert list(latest["Account"]) == ["Acme Tools"] * 5


def test_names_from_the_crm_are_shown_as_text_not_markup(db):
    when = datetime.now(UTC) - timedelta(days=1)
    respond(db, when, account="**Bold** [click](http://evil.example)")
    at = team_app(db, timeout=30).run()
    assert at.table[0].value["Account"][0] == r"\*\*Bold\*\* \[click\]\(http\://evil\.example\)"


def test_a_figure_reads_the_same_with_the_same_interval_on_overview_and_dashboard(db):
    from scipy import stats

    from tests.factories import answers_at

    when = datetime.now(UTC) - timedelta(days=1)
    levels = (3, 4, 5, 6, 7)
    for number, level in enumerate(levels):
        respond(db, when, answers_at({"trust": level}), email=f"p{number}@acme.example")
    overview = team_app(db, timeout=30).run()
    captions = [caption.value for caption in overview.caption]
    on_overview = next(m for m in overview.metric if m.label == "Trust")
    dashboard = overview.switch_page("pages/dashboard.py").run()
    on_dashboard = next(m for m in dashboard.metric if m.label == "Trust")
    assert on_overview.value == on_dashboard.value == "67"
    values = [(level - 1) * 100 / 6 for level in levels]
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    shown = f"95% CI {low:.0f}–{high:.0f}"
    assert shown in on_overview.proto.help
    assert shown in on_dashboard.proto.help
    assert "n = 5" in on_overview.proto.help
    assert "n = 5" in on_dashboard.proto.help
    # Printed under the card too: a phone shows no tooltip.
    assert f"{shown} · n = 5" in captions


def test_the_nps_card_prints_its_interval_and_n(db):
    respond_times(db, 5, datetime.now(UTC) - timedelta(days=1))
    at = team_app(db, timeout=30).run()
    nps = next(m for m in at.metric if m.label == "NPS")
    interval = nps.proto.help.split("95% CI ")[1]
    # Five promoters out of five: +100, yet the interval reaches far below (adjusted Wald).
    assert f"95% CI {interval} · n = 5" in [caption.value for caption in at.caption]
    assert not interval.startswith("+100")


def test_the_change_of_each_card_carries_its_interval(db):
    from scipy import stats

    from tests.factories import answers_at

    now = datetime.now(UTC)
    before, latest = (2, 3, 4, 5, 3), (4, 6, 7, 5, 6)  # trust on 1-7
    for number, level in enumerate(before):  # always in the three months before the window
        respond(db, now - timedelta(days=120), answers_at({"trust": level}), email=f"b{number}@acme.example")
    for number, level in enumerate(latest):
        respond(db, now - timedelta(days=1), answers_at({"trust": level}), email=f"l{number}@acme.example")
    at = team_app(db, timeout=30).run()
    to_100 = [[(level - 1) * 100 / 6 for level in levels] for levels in (latest, before)]
    welch = stats.ttest_ind(*to_100, equal_var=False).confidence_interval(0.95)
    change = np.mean(to_100[0]) - np.mean(to_100[1])
    expected = f"{change:+.1f} since the 3 months before (95% CI {welch.low:+.1f} to {welch.high:+.1f}: "
    assert any(caption.value.startswith(expected) for caption in at.caption)
