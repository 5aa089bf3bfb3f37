"""The demo data must look real enough for the charts to mean something."""

from datetime import UTC, datetime

import pandas as pd
import pingouin as pg
import pytest
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Account, Competitor, Contact, IndicatorScore, Response
from survey.demo.data import DECLINING_ACCOUNT, seed_demo
from survey.demo.pulses import CHECKUP_DAYS
from survey.instrument.definition import load_instrument

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(sqlite_template, tmp_path_factory):
    import shutil

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        summary = seed_demo(session, now=NOW)
        session.commit()
    yield engine, summary
    engine.dispose()


def frame(engine, sql):
    with engine.connect() as connection:
        return pd.read_sql(sql, connection)


def test_demo_has_forty_accounts_with_three_to_six_contacts(demo):
    engine, summary = demo
    assert summary.accounts == 40
    contacts = frame(engine, "select account_id, count(*) n from contact group by account_id")
    assert len(contacts) == 40
    assert contacts["n"].between(3, 6).all()
    with Session(engine) as session:
        segments = {a.segment for a in session.exec(select(Account)).all()}
        roles = {c.role for c in session.exec(select(Contact)).all()}
    assert len(segments) >= 3
    assert roles == {"decision_maker", "buyer", "influencer", "user"}


def test_demo_spans_two_years_of_all_touchpoints(demo):
    engine, summary = demo
    assert summary.responses > 800
    spread = frame(
        engine,
        "select min(occurred_at) first, max(occurred_at) last, count(distinct touchpoint_id) touchpoints "
        "from interaction",
    )
    first, last = pd.to_datetime(spread["first"][0]), pd.to_datetime(spread["last"][0])
    assert (last - first).days > 700
    assert spread["touchpoints"][0] == 7


def test_every_scale_is_reliable(demo):
    engine, _ = demo
    instrument = load_instrument()
    answers = frame(engine, "select response_id, item_code, value from answer").pivot(
        index="response_id", columns="item_code", values="value"
    )
    for indicator in instrument.indicators:
        items = instrument.indicator_items(indicator.code)
        data = answers[[item.code for item in items]].dropna().copy()
        for item in items:
            if item.reverse:
                data[item.code] = 8 - data[item.code]
        alpha, _ = pg.cronbach_alpha(data)
        assert 0.75 <= alpha <= 0.95, f"{indicator.code}: alpha {alpha:.3f}"


def _mean_by_half_year(engine, where: str) -> pd.Series:
    scores = frame(
        engine,
        "select r.submitted_at, s.score from indicator_score s join response r on r.id = s.response_id "
        f"join account a on a.id = r.account_id where s.subject = 'own' and {where}",
    )
    age = (pd.Timestamp(NOW) - pd.to_datetime(scores["submitted_at"], utc=True)).dt.days
    return scores.groupby(age < 183)["score"].mean()


def test_one_segment_improves(demo):
    engine, _ = demo
    means = _mean_by_half_year(engine, "a.segment = 'Healthcare'")
    assert means[True] > means[False] + 0.3


def test_one_account_declines(demo):
    engine, _ = demo
    means = _mean_by_half_year(engine, f"a.name = '{DECLINING_ACCOUNT}'")
    assert means[True] < means[False] - 0.4


def test_respondents_rate_the_competitors(demo):
    engine, _ = demo
    with Session(engine) as session:
        competitors = session.exec(select(Competitor)).all()
        named = session.exec(
            select(Response.leader_competitor_id).where(Response.leader_competitor_id.is_not(None))
        ).all()
        leader_scores = session.exec(select(IndicatorScore).where(IndicatorScore.subject == "leader")).all()
    assert 2 <= len(competitors) <= 3
    assert {c.id for c in competitors} == set(named)
    assert len(leader_scores) > 1000


def test_seeding_twice_is_refused(demo):
    engine, _ = demo
    with Session(engine) as session, pytest.raises(ValueError, match="already has accounts"):
        seed_demo(session, now=NOW)


def test_the_demo_has_quarterly_behaviour_for_every_account(demo):
    engine, summary = demo
    quarters = frame(engine, "select account_id, count(*) n from transaction_measure group by account_id")
    assert len(quarters) == summary.accounts
    assert (quarters["n"] == 7).all()  # the full quarters of two years up to NOW: 2025-Q1 .. 2026-Q3


def test_the_seeded_link_from_commitment_to_repurchase_is_found(demo):
    from survey.behaviour.predictors import predictions

    engine, _ = demo
    labels = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}
    with Session(engine) as session:
        table = predictions(session, min_n=5, labels=labels).table
    base = table[(table["kind"] == "all") & (table["outcome"] == "sales_transactions")].set_index("indicator")
    commitment = base.loc["commitment"]
    assert commitment["claim"]
    assert commitment["low"] > 0.2
    assert commitment["n"] > 200
    assert base["r"].idxmax() == "commitment"  # the indicator the link was built on predicts best


def test_the_demo_has_both_forms_over_two_years(demo):
    engine, _ = demo
    forms = frame(
        engine,
        "select form, count(*) n, min(submitted_at) first, max(submitted_at) last "
        "from response group by form",
    ).set_index("form")
    assert set(forms.index) == {"pulse", "checkup"}
    assert forms.loc["pulse", "n"] > 4 * forms.loc["checkup", "n"]  # feedback after every interaction
    for form in ("pulse", "checkup"):
        span = pd.to_datetime(forms.loc[form, "last"]) - pd.to_datetime(forms.loc[form, "first"])
        assert span.days > 680, form
    # No contact got two check-ups within 90 days.
    checkups = frame(
        engine,
        "select contact_id, created_at from invitation "
        "where form = 'checkup' order by contact_id, created_at",
    )
    checkups["created_at"] = pd.to_datetime(checkups["created_at"], format="mixed")
    gaps = checkups.groupby("contact_id")["created_at"].diff().dropna()
    assert gaps.min() >= pd.Timedelta(days=CHECKUP_DAYS)


def _hand_alpha(data: pd.DataFrame) -> float:
    """Alpha from pairwise-complete covariances, written out item pair by item pair."""
    codes = list(data.columns)
    k = len(codes)
    total = 0.0
    variances = 0.0
    for a in codes:
        for b in codes:
            both = data[[a, b]].dropna().to_numpy()
            x, y = both[:, 0], both[:, 1]
            cov = float(((x - x.mean()) * (y - y.mean())).sum() / (len(x) - 1))
            total += cov
            variances += cov if a == b else 0.0
    return k / (k - 1) * (1 - variances / total)


def test_alpha_from_pulses_alone_is_within_0_05_of_the_check_up_alpha(demo):
    from survey.reporting.forms import alpha_by_form

    engine, _ = demo
    instrument = load_instrument()
    with Session(engine) as session:
        table = alpha_by_form(session, instrument).set_index("indicator")
    assert set(table.index) == {indicator.code for indicator in instrument.indicators}
    assert (table["difference"].abs() < 0.05).all(), table[["checkup_alpha", "pulse_alpha"]]
    assert (table["pulse_fewest_pair_n"] >= 100).all()

    answers = frame(
        engine,
        "select a.response_id, r.form, a.item_code, a.value "
        "from answer a join response r on r.id = a.response_id",
    ).pivot_table(index=["response_id", "form"], columns="item_code", values="value")
    for indicator in instrument.indicators:
        codes = [item.code for item in instrument.indicator_items(indicator.code)]
        keyed = answers[codes].copy()
        for item in instrument.indicator_items(indicator.code):
            if item.reverse:
                keyed[item.code] = 8 - keyed[item.code]
        checkups = keyed.xs("checkup", level="form").dropna()
        expected, _ = pg.cronbach_alpha(checkups)  # independent: pingouin on complete check-ups
        assert table.loc[indicator.code, "checkup_alpha"] == pytest.approx(expected, abs=0.005)
        pulses = keyed.xs("pulse", level="form").dropna(how="all")
        assert pulses.notna().sum(axis=1).max() <= 2  # no pulse has more than two of a scale's items
        assert table.loc[indicator.code, "pulse_alpha"] == pytest.approx(_hand_alpha(pulses), abs=1e-9)
