"""The dashboard and benchmark pages, through AppTest."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from models.tables import Account, Benchmark, Competitor
from survey.instrument.definition import load_instrument
from survey.loop import worker
from survey.quality import report
from tests.factories import drawn_figures, full_answers, quarter_measures, respond, team_app

APP = "../app.py"
HEADER = b"kind,name,indicator,period,value,scale,n,sd,source\n"
RATED = [item.code for item in load_instrument().items if item.indicator or item.rates]


@pytest.fixture(autouse=True)
def _small_groups_count(monkeypatch):
    # A handful of test responses should still draw every figure.
    monkeypatch.setenv("PULSE_MIN_N", "2")


@pytest.fixture
def answered(db):
    competitor = Competitor(name="Brightline Partners")
    db.add(competitor)
    db.commit()
    now = datetime.now(UTC)
    for number in range(6):
        when = now - timedelta(days=40 * (number % 3) + 1)
        varied = {code: 1 + (number * 3 + len(code) + index) % 7 for index, code in enumerate(RATED)}
        answers = full_answers() | varied | {"LEADER": competitor.id, "LEADER_OTHER": None}
        respond(
            db, when, answers, account=("Acme Tools", "Bolt Works")[number % 2], email=f"p{number}@x.example"
        )


def open_page(db, page: str) -> AppTest:
    at = team_app(db, timeout=60).run()
    return at.switch_page(page).run()


def charts(at: AppTest) -> list[dict]:
    return drawn_figures(at)


SECTIONS = (
    "Trends against benchmarks",
    "Gaps to each benchmark",
    "Profile, recommendation and touchpoints",
    "Answers to each statement",
    "Reliability of each scale",
)


def open_section(at: AppTest, label: str) -> AppTest:
    """The dashboard with the tab ``label`` chosen, as a click on it does."""
    at.session_state["section"] = label
    return at.run()


def test_each_section_is_drawn_only_when_its_tab_is_open(answered, db):
    at = open_page(db, "pages/dashboard.py")
    assert [tab.label for tab in at.tabs] == list(SECTIONS)
    # The first tab is open: the six trends, and nothing of the other tabs is computed or drawn.
    titles = [figure["layout"]["title"]["text"] for figure in charts(at)]
    assert len(titles) == 6
    assert "Satisfaction" in titles
    assert not any("Compared with" in frame.value.columns for frame in at.dataframe)
    at = open_section(at, "Answers to each statement")
    assert not at.exception
    titles = [figure["layout"]["title"]["text"] for figure in charts(at)]
    assert len(titles) == 1
    assert "How customers answered each statement" in titles[0]
    # The headline stays above the tabs whichever is open.
    assert [m.label for m in at.metric][:2] == ["Satisfaction", "Trust"]


def test_the_dashboard_draws_every_chart(answered, db):
    at = open_page(db, "pages/dashboard.py")
    assert not at.exception
    titles = []
    for section in SECTIONS:
        titles += [figure["layout"]["title"]["text"] for figure in charts(open_section(at, section))]
        assert not at.exception
    for expected in (
        "Satisfaction",
        "Word-of-mouth",
        "Indicator profile",
        "Recommendation",
        "touchpoint × indicator",
        "How customers answered each statement",
    ):
        assert any(expected in title for title in titles), expected
    assert "6 responses" in at.caption[0].value
    assert [m.label for m in at.metric][:2] == ["Satisfaction", "Trust"]
    reliability = open_section(at, "Reliability of each scale").dataframe[-1].value
    assert list(reliability["Indicator"])[:2] == ["Satisfaction", "Trust"]
    # Reliability names the form it rests on: here only check-ups were answered.
    assert set(reliability["Form"]) == {"Check-up"}
    assert all(
        status.split(":")[0] in {"adequate", "below 0.70", "uncertain"} for status in reliability["Status"]
    )
    assert "From check-ups" in [header.value for header in at.subheader]
    assert any("Rests on check-ups that answered every statement" in c.value for c in at.caption)
    trust = next(
        figure
        for figure in charts(open_section(at, "Trends against benchmarks"))
        if figure["layout"]["title"]["text"] == "Trust"
    )
    names = [trace["name"] for trace in trust["data"]]
    assert "Brightline Partners (one statement, rated by our customers)" in names
    # The leader is compared with our matching statement by the same people, with its interval.
    open_section(at, "Gaps to each benchmark")
    gaps = next(frame.value for frame in at.dataframe if "Compared with" in frame.value.columns)
    rated = gaps[gaps["Compared with"] == "Brightline Partners"]
    assert len(rated) >= 5  # an indicator whose every pair differs alike has no spread to test
    reading = r"\(paired, p [=<] [0-9.]+, 95% CI .+, n = 6 rating both(?:, effective n \d)?\)"
    assert rated["Reading"].str.contains(reading).all()
    assert rated["Reading"].str.contains("on COM1 “This relationship is worth the effort").any()
    assert rated["Gap 95% CI"].str.contains(" to ").all()


def test_filters_apply_to_the_whole_page(answered, db):
    at = open_page(db, "pages/dashboard.py")
    at.multiselect(key="accounts").set_value([1]).run()
    assert "3 responses" in at.caption[0].value
    at.button_group(key="grain").set_value("month").run()
    assert not at.exception
    trust = next(figure for figure in charts(at) if figure["layout"]["title"]["text"] == "Trust")
    assert all(len(period) == 7 for period in trust["layout"]["xaxis"]["categoryarray"])


def test_falls_by_account_are_read_on_request(answered, db):
    at = open_page(db, "pages/dashboard.py")
    assert any("Where it is slipping" in header.value for header in at.subheader)
    before = len(at.dataframe) + len(at.info)
    at.toggle(key="movers").set_value(True).run()
    assert not at.exception
    assert len(at.dataframe) + len(at.info) == before + 1


def test_an_empty_database_says_so(db):
    at = open_page(db, "pages/dashboard.py")
    assert "No responses yet" in at.info[0].value


def test_a_benchmark_file_is_checked_then_imported(db):
    at = open_page(db, "pages/benchmarks.py")
    good = HEADER + b"industry,Index,Trust,2026,3.5,1-5,900,0.8,Study\n"
    at.get("file_uploader")[0].upload("figures.csv", good, "text/csv").run()
    assert "1 figure(s) are valid" in at.success[0].value
    next(b for b in at.button if b.label.startswith("Import")).click().run()
    assert "1 added, 0 updated" in at.success[-1].value
    assert db.exec(select(func.count()).select_from(Benchmark)).one() == 1
    # 3.5 on 1-5 is 62.5 on 0-100, sd 0.8 is 20: 62.5 ± qt(0.975, 899) * 20 / sqrt(900).
    assert at.dataframe[-1].value["95% CI (0-100)"].tolist() == ["61.2–63.8"]


def test_a_bad_benchmark_file_is_refused_row_by_row(db):
    at = open_page(db, "pages/benchmarks.py")
    bad = (
        b"kind,name,indicator,period,value,scale,n,sd,source\nindustry,Index,Trust,2026,9,1-5,900,0.8,Study\n"
    )
    at.get("file_uploader")[0].upload("figures.csv", bad, "text/csv").run()
    assert "Nothing was changed" in at.error[0].value
    problems = at.dataframe[0].value
    assert list(problems.iloc[0]) == [2, "value", "9 is outside the stated scale 1-5"]
    assert not [b for b in at.button if b.label.startswith("Import")]
    assert db.exec(select(func.count()).select_from(Benchmark)).one() == 0


def test_the_trend_charts_mark_where_the_instrument_changed_and_say_which_forms(db):
    from survey.instrument.workflow import publish, save_draft, start_draft
    from tests.test_instrument_versions import NEXT, reworded

    now = datetime.now(UTC)
    for number in range(3):
        respond(db, now - timedelta(days=200), email=f"early{number}@x.example")
    draft = start_draft(db, actor="ada", now=now - timedelta(days=100))
    save_draft(db, NEXT, reworded(draft.body), actor="ada", now=now - timedelta(days=100))
    publish(db, NEXT, actor="ada", now=now - timedelta(days=100))
    db.commit()
    answers = full_answers()
    answers["SAT5"] = answers.pop("SAT2")
    for number in range(3):
        respond(db, now - timedelta(days=10), answers, email=f"late{number}@x.example")

    at = open_page(db, "pages/dashboard.py")
    assert not at.exception
    # The dashboard shows one instrument version at a time (the newest first): its three responses.
    assert any("rest on 3 responses: 0 pulses and 3 check-ups" in c.value for c in at.caption)
    [satisfaction] = [f for f in charts(at) if f["layout"]["title"]["text"] == "Satisfaction"]
    notes = [a["text"] for a in satisfaction["layout"].get("annotations", [])]
    assert f"v{NEXT}: new SAT5; dropped SAT2" in notes
    [line] = [s for s in satisfaction["layout"]["shapes"] if s["type"] == "line"]
    quarter = (now - timedelta(days=10)).month
    assert line["x0"] == f"{(now - timedelta(days=10)).year}-Q{(quarter - 1) // 3 + 1}"
    # Versions are linked only through unchanged statements: trust kept its statements, so its
    # line runs on from the earlier version's quarter; satisfaction changed, so it starts afresh.
    early, late = (
        f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in (now - timedelta(days=200), now - timedelta(days=10))
    )
    [trust] = [f for f in charts(at) if f["layout"]["title"]["text"] == "Trust"]
    assert list(_us(trust)["x"]) == [early, late]
    assert list(_us(satisfaction)["x"]) == [late]


def _us(figure: dict) -> dict:
    [ours] = [trace for trace in figure["data"] if trace.get("name") == "Us"]
    return ours


def test_each_headline_change_carries_its_interval(db):
    from scipy import stats

    from tests.factories import answers_at

    now = datetime.now(UTC)
    before, latest = (2, 3, 4), (4, 6, 7)  # trust on 1-7, one quarter and a later one
    for number, level in enumerate(before):
        respond(db, now - timedelta(days=100), answers_at({"trust": level}), email=f"b{number}@acme.example")
    for number, level in enumerate(latest):
        respond(db, now - timedelta(days=1), answers_at({"trust": level}), email=f"l{number}@acme.example")
    at = open_page(db, "pages/dashboard.py")
    assert not at.exception
    to_100 = [[(level - 1) * 100 / 6 for level in levels] for levels in (latest, before)]
    welch = stats.ttest_ind(*to_100, equal_var=False).confidence_interval(0.95)
    change = sum(to_100[0]) / 3 - sum(to_100[1]) / 3
    readings = [
        caption.value for caption in at.caption if "95% CI" in caption.value and " since " in caption.value
    ]
    expected = f"{change:+.1f} since "
    [trust] = [reading for reading in readings if reading.startswith(expected)]
    assert f"(95% CI {welch.low:+.1f} to {welch.high:+.1f}: could be noise)" in trust


def measures(db, account: str, *, days: int, sales: int, volume: float) -> None:
    """One quarter of transactional measures for an account (what RFM segments come from)."""
    account_id = db.exec(select(Account.id).where(Account.name == account)).one()
    db.add(
        quarter_measures(
            account_id,
            "2026-Q1",
            sales_transactions=sales,
            days_since_purchase=days,
            days_since_payment=days,
            monetary_volume=volume,
        )
    )
    db.commit()


def test_an_rfm_segment_narrows_the_figures_to_its_accounts(db):
    # Acme buys often and recently (Loyal against this base of two), Bolt hardly (Hibernating).
    moment = datetime(2026, 3, 20, 12, tzinfo=UTC)
    for number in range(5):
        account = "Acme Tools" if number < 3 else "Bolt Works"
        respond(
            db, moment - timedelta(days=number), full_answers(), account=account, email=f"p{number}@x.example"
        )
    measures(db, "Acme Tools", days=3, sales=40, volume=90_000.0)
    measures(db, "Bolt Works", days=200, sales=1, volume=500.0)
    at = open_page(db, "pages/dashboard.py")
    assert "5 responses" in at.caption[0].value
    at.multiselect(key="rfm_segments").set_value(["Loyal"]).run()
    assert not at.exception
    assert "3 responses" in at.caption[0].value
    at.multiselect(key="rfm_segments").set_value(["Hibernating"]).run()
    assert "2 responses" in at.caption[0].value
    # A segment and an account that is not in it leave nothing, and say so.
    bolt = db.exec(select(Account.id).where(Account.name == "Bolt Works")).one()
    acme = db.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    at.multiselect(key="accounts").set_value([acme]).run()
    assert any("No account you can see is in the chosen RFM segments" in i.value for i in at.info)
    at.multiselect(key="accounts").set_value([bolt]).run()
    assert "2 responses" in at.caption[0].value


def test_a_large_selection_estimates_reliability_only_on_request(answered, db, monkeypatch):
    import survey.reporting.forms

    monkeypatch.setattr(survey.reporting.forms, "READ_AT_ONCE", 3)  # the six answers are "many"
    at = open_page(db, "pages/dashboard.py")
    assert not at.exception
    toggle = open_section(at, "Reliability of each scale").toggle(key="reliability")
    assert toggle.label.startswith("Estimate reliability (reads every answer of these 6 responses")
    assert not any("Form" in frame.value.columns for frame in at.dataframe)
    toggle.set_value(True).run()
    assert set(at.dataframe[-1].value["Form"]) == {"Check-up"}


def test_a_base_never_checked_is_checked_once_while_the_worker_checks_it_too(db, answered, monkeypatch):
    """The worker's first pass is fitting the day's check when the Dashboard is first opened:
    the page waits its turn and reads that check instead of fitting the models again."""
    made: list[int] = []
    inside = threading.Event()
    real = report.record_day_check

    def slow(session, when):
        made.append(1)
        inside.set()
        time.sleep(4)  # longer than the landing page and the Dashboard's figures take here
        return real(session, when)

    monkeypatch.setattr(report, "record_day_check", slow)
    first = threading.Thread(target=lambda: worker.check_the_day(db.get_bind(), datetime.now(UTC)))
    first.start()
    assert inside.wait(10)
    at = open_page(db, "pages/dashboard.py")
    first.join(10)
    assert not at.exception
    assert made == [1]
    assert report.latest_notices(db) == []
