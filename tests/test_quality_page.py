"""The Instrument quality page, through AppTest, on the demo data (whose German wording of SAT1
draws lower answers at the same satisfaction) and on too little data."""

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from models.db import make_engine
from survey.demo.data import seed_demo
from survey.instrument.definition import load_instrument
from tests.factories import full_answers, respond, team_app

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_url(sqlite_template, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("quality") / "demo.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session, now=NOW)
        session.commit()
    engine.dispose()
    return url


@pytest.fixture
def demo_db(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("PULSE_DEMO_DATA", "0")
    engine = make_engine(demo_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def text(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.title, *at.header, *at.subheader, *at.error, *at.warning]
    parts += [*at.info, *at.success]
    # What the reader sees: Markdown escapes (pages/common.py plain) removed.
    return re.sub(r"\\(.)", r"\1", "\n".join(str(part.value) for part in parts))


def open_page(session, role: str = "analyst") -> AppTest:
    at = team_app(session, role=role, timeout=240).run()
    return at.switch_page("pages/quality.py").run()


def test_the_page_names_the_statement_whose_intercept_differs_between_languages(demo_db):
    at = open_page(demo_db)
    assert not at.exception
    assert at.title[0].value == "Instrument quality"
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]
    language = next(w for w in warnings if "German and English" in w)
    assert "SAT1" in language
    assert "intercept" in language
    assert "satisfaction" in language
    # Loadings hold: only the intercepts fail.
    assert "share their loadings" in language
    assert "Every other statement's intercept holds." in language
    tables = [frame.value for frame in at.dataframe]
    groups = next(t for t in tables if "Complete responses" in t.columns and "English" in set(t["Group"]))
    counts = dict(zip(groups["Group"], groups["Complete responses"], strict=True))
    assert set(counts) == {"English", "German"}
    assert min(counts.values()) >= 100
    differing = next(table for table in tables if "Intercept, German" in table.columns)
    assert list(differing["Statement"]) == ["SAT1"]
    row = differing.iloc[0]
    assert row["Intercept, German"] < row["Intercept, English"] - 0.5


def test_the_page_shows_fit_omega_next_to_alpha_and_htmt(demo_db):
    at = open_page(demo_db, role="admin")
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert {"CFI", "RMSEA", "SRMR", "n"} <= set(metrics)
    assert any(label.startswith("χ² (") and label.endswith(" df)") for label in metrics)
    assert int(metrics["n"]) > 300  # the complete check-ups of the demo data
    tables = [frame.value for frame in at.dataframe]
    reliability = next(table for table in tables if "Omega" in table.columns)
    assert list(reliability["Indicator"]) == [
        "Satisfaction",
        "Trust",
        "Control mutuality",
        "Commitment",
        "Mind-set",
        "Word-of-mouth",
    ]
    assert reliability["Omega"].between(0.7, 1).all()
    assert reliability["Alpha"].between(0.7, 1).all()
    htmt = next(table for table in tables if "HTMT" in table.columns)
    assert len(htmt) == 15
    assert "RMSEA 90% interval" in text(at)
    assert "The six-indicator model fits the answers well" in text(at)
    # Only one instrument version has answers.
    assert "Only one of the instrument versions has answers here" in text(at)
    newest = f"version {load_instrument().version}"
    versions = next(t for t in tables if "Tested" in t.columns and newest in set(t["Group"]))
    assert list(versions["Tested"]) == ["no: nothing to compare with"]
    models = next(t for t in tables if "Model" in t.columns)
    assert list(models["Verdict"]) == ["—", "holds", "fails"]
    assert list(models["df"]) == [474, 492, 510]


def test_managers_do_not_get_the_page(demo_db):
    at = team_app(demo_db, role="manager", username="alex.morgan").run()
    with pytest.raises(ValueError, match="Known pages"):
        at.switch_page("pages/quality.py").run()


def test_a_manager_who_opens_the_script_directly_is_refused(demo_db):
    team_app(demo_db, role="manager", username="alex.morgan")
    at = AppTest.from_file("../pages/quality.py", default_timeout=60)
    at.session_state["user"] = team_app(demo_db, role="manager", username="alex.morgan").session_state["user"]
    at.session_state["last_seen"] = datetime.now(UTC)
    at.run()
    assert [error.value for error in at.error] == ["Only analysts and admins can open this page."]
    assert not at.dataframe


def test_too_few_responses_say_so_instead_of_printing_figures(db):
    for number in range(12):
        respond(db, datetime(2026, 10, 1 + number, tzinfo=UTC), full_answers(), email=f"p{number}@x.example")
    at = open_page(db)
    assert not at.exception
    page = text(at)
    assert "Only 12 responses answer every statement; the six-factor model needs at least 200." in page
    assert "Only one of the languages has answers here: there is nothing to compare." in page
    assert not at.metric


def test_no_responses_yet(db):
    at = open_page(db)
    assert not at.exception
    assert "No responses yet" in text(at)


def test_the_dashboard_warns_that_languages_are_not_comparable_on_the_demo_data(demo_db):
    """The dashboard's notice (pages/dashboard.py) rests on the same invariance check; it lives
    here to share the seeded demo database."""
    at = team_app(demo_db, role="manager", username="alex.morgan", timeout=240).run()
    at = at.switch_page("pages/dashboard.py").run()
    assert not at.exception
    notices = [w.value for w in at.warning if "German and English" in w.value]
    assert len(notices) == 1
    assert "SAT1" in notices[0]
    assert "Instrument quality page" in notices[0]


def test_the_dashboard_shows_no_notice_where_nothing_can_be_compared(db):
    # Recent answers, whatever day the test runs: the dashboard shows the last 12 months.
    for number in range(6):
        when = datetime.now(UTC) - timedelta(days=3 + number)
        respond(db, when, full_answers(), email=f"p{number}@x.example")
    at = team_app(db, role="admin", timeout=120).run()
    at = at.switch_page("pages/dashboard.py").run()
    assert not at.exception
    assert any(c.value.startswith("Computed ") for c in at.caption)  # the page ran to its end
    assert not [w.value for w in at.warning if "Instrument quality" in w.value]


def test_the_worker_checks_once_a_day_and_the_dashboard_shows_that_check(db, monkeypatch):
    """The invariance check fits factor models: the worker makes it once a day and stores it;
    the Dashboard shows the stored notices and fits nothing while its reader waits."""
    from models.tables import QualityCheck
    from survey.loop.worker import run_once
    from survey.quality import report

    for number in range(6):
        respond(
            db, datetime.now(UTC) - timedelta(days=3 + number), full_answers(), email=f"p{number}@x.example"
        )
    fitted: list[int] = []
    checks = report.comparison_checks

    def counted(session, **kwargs):
        fitted.append(1)
        return checks(session, **kwargs)

    monkeypatch.setattr(report, "comparison_checks", counted)
    now = datetime.now(UTC).replace(hour=12, minute=0)  # both passes on the same day, whatever the hour
    engine = db.get_bind()
    run_once(engine, now=now)
    run_once(engine, now=now + timedelta(minutes=1))
    assert len(fitted) == 1  # once a day, however often the worker passes
    db.expire_all()
    stored = db.get(QualityCheck, f"{now:%Y-%m-%d}")
    assert stored is not None
    assert stored.notices == []  # one language, one version: nothing to warn
    stored.notices = ["Answers in German and English are not comparable (as the worker found)."]
    db.add(stored)
    db.commit()
    at = team_app(db, role="admin", timeout=120).run()
    at = at.switch_page("pages/dashboard.py").run()
    assert not at.exception
    assert len(fitted) == 1  # the page read the check, it did not make one
    assert [w.value for w in at.warning if "as the worker found" in w.value]


def test_the_models_are_fitted_again_after_enough_new_responses_or_on_request(db):
    # Whatever day the test runs: the page reads every month.
    when = datetime.now(UTC) - timedelta(days=2)
    for number in range(200):
        respond(db, when, full_answers(), email=f"p{number}@x.example")
    at = open_page(db)
    assert not at.exception
    assert "200 responses in scope" in text(at)
    assert "fitted again after every 2 new responses" in text(at)
    # One more answer among 200 moves nothing: the page shows the fit it has, and says when.
    respond(db, when, full_answers(), email="late1@x.example")
    assert "200 responses in scope" in text(at.run())
    respond(db, when, full_answers(), email="late2@x.example")
    assert "202 responses in scope" in text(at.run())
    respond(db, when, full_answers(), email="late3@x.example")
    assert "202 responses in scope" in text(at.run())
    next(button for button in at.button if button.label == "Fit again now").click().run()
    assert not at.exception
    assert "203 responses in scope" in text(at)
