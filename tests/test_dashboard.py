"""The dashboard's figures: from roll-ups, from raw rows, and by hand must agree."""

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pingouin
import pytest
import statsmodels.api as sm
from scipy import stats
from sqlalchemy import text, update
from sqlmodel import col, select

from models.tables import (
    Account,
    Answer,
    Competitor,
    Contact,
    IndicatorScore,
    Invitation,
    Response,
    Touchpoint,
)
from survey.collecting.responses import submit
from survey.imports.benchmarks import import_benchmarks
from survey.instrument.definition import load_instrument
from survey.instrument.forms import pulse_page
from survey.instrument.touchpoints import add_touchpoint
from survey.reporting import aggregates, cache
from survey.reporting.dashboard import account_movers, compute, movers, reliability
from survey.reporting.filters import Filters, period_of
from tests.factories import answers_at, full_answers, make_invitation, respond

INSTRUMENT = load_instrument()


@pytest.fixture
def responses(session, now):
    """Twelve responses over two quarters, two accounts, two touchpoints, varied answers."""
    competitor = Competitor(name="Brightline Partners")
    session.add(competitor)
    session.commit()
    rng = np.random.default_rng(3)
    for number in range(12):
        answers = full_answers() | {"LEADER": competitor.id, "LEADER_OTHER": None}
        for code in [item.code for item in INSTRUMENT.items if item.indicator] + ["CL_TRU", "NPS"]:
            high = 10 if code == "NPS" else 7
            answers[code] = int(rng.integers(0 if code == "NPS" else 1, high + 1))
        if number % 5 == 0:
            answers["SAT2"] = None
        when = now - timedelta(days=35 * (number % 4))
        respond(
            session,
            when,
            answers,
            account=("Acme Tools", "Bolt Works")[number % 2],
            email=f"p{number}@example.com",
            touchpoint=("sales", "service")[number % 3 == 0],
        )
    import_benchmarks(
        session,
        b"kind,name,indicator,period,value,scale,n,sd,source\nindustry,Index,trust,2026,3.5,1-5,900,0.8,S\n",
    )
    session.commit()


def test_roll_ups_and_raw_rows_give_the_same_dashboard(session, responses):
    everyone = tuple(session.exec(select(Account.id)).all())
    from_rollups = compute(session, Filters(grain="month"), INSTRUMENT, min_n=2)
    from_raw = compute(session, Filters(grain="month", account_ids=everyone), INSTRUMENT, min_n=2)
    for name in ("trend", "profile", "heat_map", "distribution", "nps"):
        left, right = getattr(from_rollups, name), getattr(from_raw, name)
        sort = [
            c
            for c in left.columns
            if c in ("period", "indicator", "subject", "competitor_id", "touchpoint_id")
        ]
        if sort:
            left, right = (
                left.sort_values(sort).reset_index(drop=True),
                right.sort_values(sort).reset_index(drop=True),
            )
        pd.testing.assert_frame_equal(left, right, check_dtype=False, atol=1e-9)
    assert from_rollups.responses == from_raw.responses == 12


def test_trend_mean_and_interval_match_an_independent_clustered_fit(session, responses):
    """Our score's interval is cluster-robust across accounts: it equals statsmodels' OLS of
    the scores on a constant with standard errors clustered by account (t on accounts - 1)."""
    data = compute(session, Filters(grain="quarter"), INSTRUMENT, min_n=2)
    scores = pd.read_sql(
        "select r.submitted_at, r.account_id, s.score from indicator_score s "
        "join response r on r.id = s.response_id where s.indicator = 'trust' and s.subject = 'own'",
        session.connection(),
    )
    month = pd.to_datetime(scores["submitted_at"]).dt.strftime("%Y-%m")
    scores["period"] = period_of(month, "quarter")
    own_trust = data.trend.query("indicator == 'trust' and subject == 'own'").set_index("period")
    for period, group in scores.groupby("period"):
        row = own_trust.loc[period]
        values = (group["score"] - 1) * 100 / 6
        fit = sm.OLS(values.to_numpy(), np.ones(len(values))).fit(
            cov_type="cluster", cov_kwds={"groups": group["account_id"].to_numpy()}, use_t=True
        )
        assert row["n"] == len(values)
        assert row["clusters"] == group["account_id"].nunique() == 2
        assert row["mean"] == pytest.approx(values.mean())
        assert [row["low"], row["high"]] == pytest.approx(list(fit.conf_int()[0]))
        assert row["n_eff"] == pytest.approx(min(len(values), values.var(ddof=1) / fit.bse[0] ** 2))


def test_a_leaders_rating_is_clustered_by_account_as_statsmodels_fits_it(session, responses):
    """The leader is rated by the same people as we are, again and again, within the same
    accounts: its series and its profile dot carry a cluster-robust interval too, statsmodels'
    OLS on a constant clustered by account, and their effective n."""
    data = compute(session, Filters(grain="quarter"), INSTRUMENT, min_n=2)
    leader = session.exec(select(Competitor.id).where(Competitor.name == "Brightline Partners")).one()
    ratings = pd.read_sql(
        "select r.submitted_at, r.account_id, s.score from indicator_score s "
        "join response r on r.id = s.response_id "
        f"where s.indicator = 'trust' and s.subject = 'leader' and r.leader_competitor_id = {leader}",
        session.connection(),
    )
    ratings["period"] = period_of(pd.to_datetime(ratings["submitted_at"]).dt.strftime("%Y-%m"), "quarter")
    ratings["value"] = (ratings["score"] - 1) * 100 / 6

    def check(row: pd.Series, group: pd.DataFrame) -> None:
        fit = sm.OLS(group["value"].to_numpy(), np.ones(len(group))).fit(
            cov_type="cluster", cov_kwds={"groups": group["account_id"].to_numpy()}, use_t=True
        )
        assert (row["n"], row["clusters"]) == (len(group), 2)
        assert row["mean"] == pytest.approx(group["value"].mean())
        assert [row["low"], row["high"]] == pytest.approx(list(fit.conf_int()[0]))
        effective = group["value"].var(ddof=1) / fit.bse[0] ** 2
        assert row["n_eff"] == pytest.approx(min(len(group), effective))

    series = data.trend.query(f"indicator == 'trust' and subject == 'leader' and competitor_id == {leader}")
    assert len(series) == ratings["period"].nunique() == 2
    for row in series.itertuples(index=False):
        check(pd.Series(row._asdict()), ratings[ratings["period"] == row.period])
    dot = data.profile.query(f"indicator == 'trust' and subject == 'leader' and competitor_id == {leader}")
    check(dot.iloc[0], ratings)


def test_one_account_keeps_the_student_t_interval(session, responses):
    acme = session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    data = compute(session, Filters(grain="quarter", account_ids=(acme,)), INSTRUMENT, min_n=2)
    row = data.profile.query("indicator == 'trust' and subject == 'own'").iloc[0]
    values = pd.read_sql(
        "select s.score from indicator_score s join response r on r.id = s.response_id "
        f"where s.indicator = 'trust' and s.subject = 'own' and r.account_id = {acme}",
        session.connection(),
    )["score"]
    interval = stats.t.interval(
        0.95, len(values) - 1, ((values - 1) * 100 / 6).mean(), stats.sem(values) * 100 / 6
    )
    assert (row["clusters"], row["n_eff"]) == (1, len(values))
    assert [row["low"], row["high"]] == pytest.approx(list(interval))


def test_small_groups_are_suppressed(session, responses):
    data = compute(session, Filters(grain="month"), INSTRUMENT, min_n=50)
    assert data.trend.empty
    assert data.profile.empty
    assert data.heat_map["mean"].isna().all()
    assert data.nps.empty
    assert data.gaps == []


def test_filters_narrow_every_figure(session, responses):
    acme = session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    data = compute(session, Filters(account_ids=(acme,)), INSTRUMENT, min_n=1)
    assert data.responses == 6
    service = compute(session, Filters(touchpoint_ids=(6,)), INSTRUMENT, min_n=1)
    assert service.responses == 4
    assert set(service.heat_map["touchpoint_id"]) == {6}


def _pulses(session, now, count: int) -> None:
    """``count`` pulses with random answers to what each asks, at a touchpoint that always
    gets a pulse."""
    add_touchpoint(session, code="training", name="Training", actor="ada", form_rule="pulse")
    session.commit()
    rng = np.random.default_rng(11)
    for number in range(count):
        result, _ = make_invitation(session, now, email=f"pulse{number}@example.com", touchpoint="training")
        invitation = session.get(Invitation, result.invitation_id)
        asked = pulse_page(INSTRUMENT, invitation.design_slot)
        answers = {
            code: int(rng.integers(0, 11) if code == "NPS" else rng.integers(1, 8))
            for code in asked
            if code not in ("MOMENT", "COMMENT")
        }
        submit(session, invitation_id=result.invitation_id, answers=answers, locale="en", now=now)
        session.commit()


def _keyed_answers(session, form: str) -> pd.DataFrame:
    """Every answer of one form, one row per response, reverse-keyed by hand."""
    rows = session.exec(
        select(Answer.response_id, Answer.item_code, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.form == form)
    ).all()
    wide = pd.DataFrame(rows, columns=["response_id", "item_code", "value"]).pivot(
        index="response_id", columns="item_code", values="value"
    )
    for item in INSTRUMENT.items:
        if item.indicator and item.reverse and item.code in wide:
            wide[item.code] = 8 - wide[item.code]
    return wide.astype(float)


def test_reliability_is_reported_for_check_ups_and_pulses_apart_each_with_its_n(session, responses, now):
    _pulses(session, now, 120)  # every pair of a scale asked together at least 4 times
    alphas = reliability(session, Filters(), INSTRUMENT, min_n=2)
    table = alphas.set_index(["form", "indicator"])
    checkups, pulses = _keyed_answers(session, "checkup"), _keyed_answers(session, "pulse")
    for indicator in ("satisfaction", "trust", "commitment"):
        codes = [item.code for item in INSTRUMENT.indicator_items(indicator)]
        # Check-ups: complete cases only (SAT2 was skipped in three of the twelve).
        complete = checkups[codes].dropna()
        alpha, ci = pingouin.cronbach_alpha(complete)
        row = table.loc[("checkup", indicator)]
        assert row["alpha"] == pytest.approx(alpha, abs=1e-12)
        assert [row["low"], row["high"]] == pytest.approx(list(ci), abs=1e-3)
        assert row["n"] == len(complete) == (9 if indicator == "satisfaction" else 12)
        # Pulses: no pulse asks the whole scale, so alpha comes from pairwise covariances.
        asked = pulses[codes].dropna(how="all")
        assert not asked.notna().all(axis=1).any()
        row = table.loc[("pulse", indicator)]
        assert row["alpha"] == pytest.approx(
            pingouin.cronbach_alpha(asked, nan_policy="pairwise")[0], abs=1e-12
        )
        assert row["n"] == len(asked) == 120
        assert "pairwise" in row["basis"]
    # Nothing pooled: every figure names the one form it rests on.
    assert set(alphas["form"]) == {"checkup", "pulse"}
    # The status reads the interval against 0.70, and no statement is named for dropping unless
    # alpha without it lies above alpha's own interval.
    for row in alphas.itertuples():
        if row.low >= 0.7:
            assert row.reading.startswith("adequate")
        elif row.high < 0.7:
            assert row.reading.startswith("below 0.70")
        else:
            assert row.reading.startswith("uncertain")
        assert row.drop_to_raise is None or row.alpha_without > row.high


def test_reliability_reads_responses_stored_without_a_pack_like_the_others(session, responses, now):
    """Reliability reads each response's packed record; a response stored some other way (a
    bulk load, an older database: no pack yet) is read from its answer rows, to the same alpha."""
    _pulses(session, now, 120)
    packed = reliability(session, Filters(), INSTRUMENT, min_n=2)
    ids = session.exec(select(Response.id).order_by(col(Response.id))).all()
    session.execute(update(Response).where(col(Response.id).in_(ids[::2])).values(export_pack=None))
    session.flush()
    session.expire_all()
    pd.testing.assert_frame_equal(reliability(session, Filters(), INSTRUMENT, min_n=2), packed)


def test_gaps_compare_with_the_published_figure_and_the_rated_leader(session, responses):
    data = compute(session, Filters(), INSTRUMENT, min_n=2)
    against = {(gap.indicator, gap.against, gap.kind) for gap in data.gaps}
    assert ("trust", "Index", "published (n and sd)") in against
    assert ("trust", "Brightline Partners", "rated by respondents") in against
    published = next(gap for gap in data.gaps if gap.against == "Index")
    assert published.theirs == pytest.approx(62.5)  # 3.5 on 1-5
    # The study's own n and sd (0.8 on 1-5 is 20 on 0-100) make it a second sample.
    assert published.n_theirs == 900
    own = data.profile[(data.profile["subject"] == "own") & (data.profile["indicator"] == "trust")].iloc[0]
    expected = stats.ttest_ind_from_stats(own["mean"], own["sd"], own["n"], 62.5, 20.0, 900, equal_var=False)
    assert published.p == pytest.approx(expected.pvalue, rel=1e-9)


def test_movers_find_the_group_that_fell_most():
    cells = pd.DataFrame(
        [
            # month, segment, indicator, n, total, total_sq: Health falls from 6 to 4, Retail holds at 5.
            ("2026-01", "Health", "trust", 5, 30.0, 180.0),
            ("2026-04", "Health", "trust", 5, 20.0, 80.0),
            ("2026-01", "Retail", "trust", 5, 25.0, 125.0),
            ("2026-04", "Retail", "trust", 5, 25.0, 125.0),
            ("2026-04", "Mining", "trust", 2, 4.0, 8.0),  # too few to judge
            ("2026-04", "Energy", "trust", 1, 4.0, 16.0),  # too: hidden with Mining, never alone
        ],
        columns=["month", "segment", "indicator", "n", "total", "total_sq"],
    ).assign(subject="own", touchpoint_id=1, competitor_id=0)
    found = movers(cells, "segment", "quarter", min_n=5)
    assert list(found["segment"]) == ["Health", "Retail"]
    assert found.loc[0, "change"] == pytest.approx(-100 * 2 / 6)
    assert (found.loc[0, "before"], found.loc[0, "after"]) == pytest.approx((100 * 5 / 6, 50.0))
    assert found.loc[0, "period"] == "2026-Q2"


def _movers_match_a_clustered_fit(raw: pd.DataFrame, by: str, cluster: str) -> None:
    """``raw``: month, period (0/1), ``by``, ``cluster`` and score per answer. Each ``by``
    group's change in ``movers`` is statsmodels' OLS on the period clustered by ``cluster``."""
    from survey.reporting.cells import Cells

    sums = (
        raw.assign(indicator="trust", total_sq=raw["score"] ** 2)
        .groupby(["month", by, cluster, "indicator"], as_index=False)
        .agg(n=("score", "size"), total=("score", "sum"), total_sq=("total_sq", "sum"))
    )
    found = movers(Cells.from_frame(sums), by, "quarter", min_n=2).set_index(by)
    for group, part in raw.groupby(by):
        design = sm.add_constant(part["period"].to_numpy(dtype=float))
        fit = sm.OLS(part["score"].to_numpy() * 100 / 6, design).fit(
            cov_type="cluster", cov_kwds={"groups": part[cluster].to_numpy()}, use_t=True
        )
        row = found.loc[group]
        assert row["change"] == pytest.approx(fit.params[1])
        assert [row["change_low"], row["change_high"]] == pytest.approx(list(fit.conf_int()[1]))


@pytest.mark.parametrize("seed", range(4))
def test_a_groups_change_is_clustered_by_account_as_statsmodels_fits_it(seed):
    """Accounts answer in both quarters, each much like itself: a segment's change has the
    interval of OLS on a period indicator clustered by account, not Welch's, which would count
    every answer as a new person."""
    rng = np.random.default_rng(seed)
    rows = []
    for account in range(9):
        segment, level = ("Retail", "Energy", "Health")[account % 3], rng.normal(4, 1.2)
        for period, month in enumerate(("2026-02", "2026-05")):
            for _ in range(int(rng.integers(3, 12))):
                score = float(np.clip(np.round(level - 0.4 * period + rng.normal(0, 0.6)), 1, 7))
                rows.append((month, period, segment, account, score))
    raw = pd.DataFrame(rows, columns=["month", "period", "segment", "account_id", "score"])
    _movers_match_a_clustered_fit(raw, "segment", "account_id")


@pytest.mark.parametrize("seed", range(3))
def test_one_accounts_change_is_clustered_by_contact_as_statsmodels_fits_it(seed):
    """Within one account, the same contacts answer in both quarters: an account's change has
    the interval of OLS on a period indicator clustered by contact."""
    rng = np.random.default_rng(seed)
    rows = []
    for account in (1, 2):
        for contact in range(6):
            level = rng.normal(4, 1.2)
            for period, month in enumerate(("2026-02", "2026-05")):
                for _ in range(int(rng.integers(2, 7))):
                    score = float(np.clip(np.round(level - 0.3 * period + rng.normal(0, 0.5)), 1, 7))
                    rows.append((month, period, account, account * 100 + contact, score))
    raw = pd.DataFrame(rows, columns=["month", "period", "account_id", "respondent", "score"])
    _movers_match_a_clustered_fit(raw, "account_id", "respondent")


def _sums(rng, month: str, group: str, mean: float, sd: float, n: int) -> tuple:
    scores = np.clip(rng.normal(mean, sd, size=n), 1, 7)
    return (month, group, "trust", n, scores.sum(), (scores**2).sum())


def test_movers_rank_by_a_shrunk_change_so_a_small_noisy_fall_does_not_come_first():
    rng = np.random.default_rng(7)
    rows = [
        # A large group that really fell by about half a point (8 points on 0-100)...
        _sums(rng, "2026-01", "Large", 5.0, 1.0, 400),
        _sums(rng, "2026-04", "Large", 4.5, 1.0, 400),
        # ... and a tiny one whose bigger raw fall is mostly noise.
        _sums(rng, "2026-01", "Tiny", 5.6, 1.5, 5),
        _sums(rng, "2026-04", "Tiny", 4.6, 1.5, 5),
    ] + [
        _sums(rng, month, f"Steady {k}", 5.0, 1.0, 200) for k in range(4) for month in ("2026-01", "2026-04")
    ]
    cells = pd.DataFrame(rows, columns=["month", "segment", "indicator", "n", "total", "total_sq"])
    found = movers(cells.assign(subject="own"), "segment", "quarter", min_n=5).set_index("segment")
    assert found.loc["Tiny", "change"] < found.loc["Large", "change"]  # raw: Tiny fell more
    assert found.index[0] == "Large"  # shrunk: the real fall comes first

    # Each raw change carries scipy's Welch interval.
    def scores(group, month):
        return next(r for r in rows if r[0] == month and r[1] == group)

    # The shrinkage, recomputed independently: precision-weighted centre, moment tau², posterior.
    table = found.reset_index()
    change, variance = [], []
    for group in table["segment"]:
        before, after = scores(group, "2026-01"), scores(group, "2026-04")
        stats_ = []
        for _, _, _, n, total, total_sq in (after, before):
            mean = total / n
            sd = np.sqrt((total_sq - n * mean**2) / (n - 1))
            stats_.append(((mean - 1) * 100 / 6, sd * 100 / 6, n))
        (m1, s1, n1), (m0, s0, n0) = stats_
        change.append(m1 - m0)
        variance.append(s1**2 / n1 + s0**2 / n0)
        welch = stats.ttest_ind_from_stats(m1, s1, n1, m0, s0, n0, equal_var=False)
        half = (m1 - m0) / welch.statistic * stats.t.ppf(0.975, _welch_df(s1, n1, s0, n0))
        row = table[table["segment"] == group].iloc[0]
        assert (row["change_low"], row["change_high"]) == pytest.approx((m1 - m0 - half, m1 - m0 + half))
    change, variance = np.array(change), np.array(variance)
    centre = np.sum(change / variance) / np.sum(1 / variance)
    tau2 = max(1.0, np.sum((change - centre) ** 2) / (len(change) - 1) - variance.mean())
    weight = tau2 / (tau2 + variance)
    assert table["shrunk"].to_numpy() == pytest.approx(weight * change + (1 - weight) * centre)


def _welch_df(s1: float, n1: int, s0: float, n0: int) -> float:
    a, b = s1**2 / n1, s0**2 / n0
    return (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n0 - 1))


def test_account_movers_read_only_the_last_two_periods(session, responses):
    found = account_movers(session, Filters(grain="month"), min_n=1)
    assert set(found.columns) >= {"account_id", "indicator", "before", "after", "change"}
    assert found["shrunk"].is_monotonic_increasing  # ranked by the shrunk change


def test_account_movers_come_from_their_aggregate_as_from_the_raw_scores(session, now, monkeypatch):
    """Two accounts whose contacts' trust fell between two months, with an anonymous answer in
    each month: the falls read from ``account_respondent_rollup`` are those of the raw scores."""
    for account in ("Acme Tools", "Bolt Works"):
        for contact in range(3):
            for days, level in ((62, 6 - contact % 2), (2, 3 + contact % 2)):
                for _ in range(1 + contact):
                    respond(session, now - timedelta(days=days), answers_at({"trust": level}),
                            account=account, email=f"c{contact}@{account[:4].lower()}.example")  # fmt: skip
        for days in (62, 2):
            result, _ = make_invitation(
                session, now - timedelta(days=days), account=account, email="x@x.example"
            )
            submit(session, invitation_id=result.invitation_id, answers=answers_at({"trust": 4}),
                   locale="en", now=now - timedelta(days=days), anonymous=True)  # fmt: skip
            session.commit()
    keys = ["version", "month", "account_id", "respondent", "indicator"]
    assert aggregates.source_for("own_scores", keys, Filters()).name == "account_respondent_rollup"
    assert aggregates.source_for("own_scores", keys, Filters(account_ids=(1,), roles=("user",))).name == (
        "account_respondent_rollup"
    )
    assert aggregates.source_for("own_scores", keys, Filters(touchpoint_ids=(1,))) is None
    from_aggregate = account_movers(session, Filters(grain="month"), min_n=1)
    trust = from_aggregate[from_aggregate["indicator"] == "trust"]
    assert len(trust) == 2
    assert (trust["change"] < 0).all()
    assert (trust["n_after"] == 7).all()  # six named answers and one anonymous
    # Each account's change is statsmodels' OLS on the period clustered by who answered.
    dialect = session.get_bind().dialect.name
    raw = pd.DataFrame(
        session.connection()
        .execute(
            select(
                aggregates.source("own_scores", dialect)[1]["month"].label("month"),
                Response.account_id,
                aggregates.source("own_scores", dialect)[1]["respondent"].label("respondent"),
                IndicatorScore.score,
            )
            .join(IndicatorScore, IndicatorScore.response_id == Response.id)
            .where(IndicatorScore.indicator == "trust", IndicatorScore.subject == "own")
        )
        .all(),
        columns=["month", "account_id", "respondent", "score"],
    )
    raw["period"] = (raw["month"] == raw["month"].max()).astype(float)
    for account_id, part in raw.groupby("account_id"):
        fit = sm.OLS(part["score"].to_numpy() * 100 / 6, sm.add_constant(part["period"].to_numpy())).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(part["respondent"])[0]}, use_t=True
        )
        row = trust.set_index("account_id").loc[account_id]
        assert row["change"] == pytest.approx(fit.params[1])
        assert [row["change_low"], row["change_high"]] == pytest.approx(list(fit.conf_int()[1]))
    # The same rows as the raw scores summed per person and grouped in memory, and as the
    # moments summed from the raw rows.
    keys = ["version", "month", "account_id", "respondent", "indicator"]
    cells = aggregates.read(session, "own_scores", keys, Filters(start=min(raw["month"])))
    in_memory = movers(cells, "account_id", "month", min_n=1).drop(columns="period")
    pd.testing.assert_frame_equal(in_memory, from_aggregate)
    cache.clear()
    monkeypatch.setattr(aggregates, "source_for", lambda *_args, **_kwargs: None)  # the raw rows only
    pd.testing.assert_frame_equal(account_movers(session, Filters(grain="month"), min_n=1), from_aggregate)


SEGMENTED = ("Retail", "Health", "Mining")
ROLES = ("buyer", "user", "decision_maker")


@pytest.fixture
def segmented(session, now):
    """Forty responses: three segments, three roles, three touchpoints, five months, two named leaders."""
    leaders = [Competitor(name="Brightline Partners"), Competitor(name="Northwind Advisory")]
    session.add_all(leaders)
    for number, segment in enumerate(SEGMENTED):
        account = Account(name=f"{segment} Co", segment=segment)
        session.add(account)
        session.flush()
        for index, role in enumerate(ROLES):
            session.add(Contact(account_id=account.id, email=f"c{index}@{number}.example", role=role))
    session.commit()
    rng = np.random.default_rng(11)
    for number in range(40):
        answers = full_answers() | {"LEADER": leaders[number % 2].id, "LEADER_OTHER": None}
        for code in [item.code for item in INSTRUMENT.items if item.indicator or item.rates] + ["NPS"]:
            answers[code] = int(rng.integers(0, 11)) if code == "NPS" else int(rng.integers(1, 8))
        if number % 7 == 0:  # no leader named, and a statement skipped
            rated = {item.code: None for item in INSTRUMENT.items if item.rates}
            answers |= rated | {"LEADER": "none", "TRU2": None}
        respond(
            session,
            now - timedelta(days=31 * (number % 5)),
            answers,
            account=f"{SEGMENTED[number % 3]} Co",
            email=f"c{number % 4 % 3}@{number % 3}.example",
            touchpoint=("sales", "service", "delivery")[number % 4 % 3],
        )


def _same_dashboard(fast, raw) -> None:
    names = ["trend", "profile", "heat_map", "segment_movers", "touchpoint_movers", "distribution", "nps"]
    for name in names:
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(raw, name), check_dtype=False, atol=1e-9)
    assert [gap.sentence() for gap in fast.gaps] == [gap.sentence() for gap in raw.gaps]
    assert fast.responses == raw.responses


@pytest.mark.parametrize(
    "filters",
    [
        Filters(grain="month"),
        Filters(start="2026-08", end="2026-11"),
        Filters(segments=("Retail",)),
        Filters(start="2026-09", end="2026-11", segments=("Health", "Mining"), grain="month"),
        Filters(touchpoint_ids=(-1,)),  # service, by its id below
        Filters(roles=("buyer",)),
        Filters(segments=("Retail", "Health"), roles=("user", "decision_maker")),
    ],
    ids=["all", "period", "segment", "segments-months", "touchpoint", "role", "segments-roles"],
)
def test_roll_ups_and_raw_rows_agree_under_every_filter(session, segmented, filters):
    if filters.touchpoint_ids:
        service = session.exec(select(Touchpoint.id).where(Touchpoint.code == "service")).one()
        filters = replace(filters, touchpoint_ids=(service,))
    everyone = tuple(session.exec(select(Account.id)).all())
    # Every group shown (min_n 1), so that every figure is compared, none suppressed.
    fast = compute(session, filters, INSTRUMENT, min_n=1)
    raw = compute(session, replace(filters, account_ids=everyone), INSTRUMENT, min_n=1)
    assert fast.responses > 5
    for figure in (fast.trend, fast.segment_movers, fast.touchpoint_movers):
        assert not figure.empty
    _same_dashboard(fast, raw)


def test_a_segment_filter_narrows_every_figure_to_that_segment(session, segmented):
    retail = compute(session, Filters(segments=("Retail",)), INSTRUMENT, min_n=1)
    everything = compute(session, Filters(), INSTRUMENT, min_n=1)
    assert set(retail.segment_movers["segment"]) == {"Retail"}
    assert retail.responses == 14
    assert everything.responses == 40
    assert retail.heat_map["n"].sum() < everything.heat_map["n"].sum()


def test_a_month_reads_the_same_with_the_same_interval_on_overview_and_dashboard(session, segmented, now):
    from survey.reporting.overview import overview

    on_overview = overview(session, now=now, min_n=2).trend.set_index(["month", "indicator"])
    on_dashboard = compute(session, Filters(grain="month"), INSTRUMENT, min_n=2).trend
    own = on_dashboard[on_dashboard["subject"] == "own"].set_index(["period", "indicator"])
    assert len(on_overview) == len(own) > 10
    for (month, indicator), row in on_overview.iterrows():
        other = own.loc[(month, indicator)]
        assert (row["n"], row["mean"], row["low"], row["high"]) == pytest.approx(
            (other["n"], other["mean"], other["low"], other["high"])
        )
    # And the interval is statsmodels' clustered by account on that month's raw scores.
    month, indicator = on_overview.index[-1]
    scores = pd.read_sql(
        "select r.submitted_at, r.account_id, s.score_100 from indicator_score s "
        f"join response r on r.id = s.response_id where s.indicator = '{indicator}' and s.subject = 'own'",
        session.connection(),
    )
    chosen = scores[pd.to_datetime(scores["submitted_at"]).dt.strftime("%Y-%m") == month]
    fit = sm.OLS(chosen["score_100"].to_numpy(), np.ones(len(chosen))).fit(
        cov_type="cluster", cov_kwds={"groups": chosen["account_id"].to_numpy()}, use_t=True
    )
    assert chosen["account_id"].nunique() > 1
    assert (on_overview.iloc[-1]["low"], on_overview.iloc[-1]["high"]) == pytest.approx(
        tuple(fit.conf_int()[0])
    )


def test_the_overview_cards_and_nps_come_from_the_same_aggregates(session, segmented, now):
    from survey.reporting.overview import overview

    data = overview(session, now=now, min_n=2)
    window = Filters(start=data.window[0], end=data.window[1])
    nps = compute(session, replace(window, grain="quarter"), INSTRUMENT, min_n=1)
    assert data.nps.n == nps.responses
    trust = compute(session, window, INSTRUMENT, min_n=2).profile
    trust = trust[(trust["subject"] == "own") & (trust["indicator"] == "trust")].iloc[0]
    card = data.indicators["trust"]
    assert (card.n, card.score_100, card.low, card.high) == pytest.approx(
        (trust["n"], trust["mean"], trust["low"], trust["high"])
    )


@pytest.mark.parametrize(
    ("interval", "reading"),
    [
        ((0.70, 0.90), "adequate: the whole interval is above 0.70"),
        ((0.55, 0.69), "below 0.70: read this score with care"),
        ((0.62, 0.81), "uncertain: the interval spans 0.70"),
    ],
)
def test_alpha_is_judged_by_its_interval_not_its_point(interval, reading):
    from survey.reporting.forms import alpha_reading

    assert alpha_reading(interval) == reading


def score_sums(rng: np.random.Generator, n: int, **keys: object) -> dict:
    """One cell of ``n`` random trust scores on 1-7, as an aggregate keeps it, with ``keys``."""
    scores = rng.integers(1, 8, size=n).astype(float)
    return keys | {"indicator": "trust", "n": n, "total": scores.sum(), "total_sq": (scores**2).sum()}


def test_a_hidden_heat_map_cell_cannot_be_recovered_from_the_profile():
    from survey.reporting import moments
    from survey.reporting.cells import Cells
    from survey.reporting.dashboard import heat_map

    rng = np.random.default_rng(4)
    rows = [  # touchpoint 3 is below min_n
        score_sums(rng, n, touchpoint_id=touchpoint, account_id=1)
        for touchpoint, n in ((1, 30), (2, 12), (3, 3), (4, 20))
    ]
    own = moments.of_cells(Cells.from_frame(pd.DataFrame(rows)), ["touchpoint_id", "indicator"], "account_id")
    table = heat_map(own, min_n=5).set_index("touchpoint_id")
    # The small cell is hidden, mean and n, and so is the next smallest (complementary): the
    # profile minus the visible cells gives only the two hidden ones together.
    hidden = set(table.index[table["mean"].isna()])
    assert hidden == {2, 3}
    assert table.loc[list(hidden), "n"].isna().all()
    assert table.loc[[1, 4], "n"].tolist() == [30, 20]
    # With nothing hidden, nothing more is hidden either.
    assert not heat_map(own, min_n=1)["mean"].isna().any()


def test_a_hidden_group_in_the_movers_cannot_be_recovered_from_the_trend():
    """The trend shows each period's figure and n; the movers show each group's. With one group
    left out, the period less the groups shown would give it exactly: its next smallest is left
    out too, and no row names either hidden group."""
    from survey.reporting.cells import Cells
    from survey.reporting.dashboard import movers

    rng = np.random.default_rng(9)
    rows = [
        score_sums(rng, n, month=month, segment=segment)
        for month in ("2026-04", "2026-07")
        for segment, n in (("Retail", 30), ("Energy", 12), ("Health", 3), ("Public", 20))
    ]
    cells = Cells.from_frame(pd.DataFrame(rows))
    table = movers(cells, "segment", "quarter", min_n=5)
    assert set(table["segment"]) == {"Retail", "Public"}
    assert set(movers(cells, "segment", "quarter", min_n=1)["segment"]) == {
        "Retail",
        "Energy",
        "Health",
        "Public",
    }


def test_the_heat_maps_hover_never_shows_a_hidden_cells_n():
    from survey.charts.common import heat_map as draw

    table = pd.DataFrame(
        {
            "touchpoint_id": [1, 2, 3],
            "indicator": ["trust"] * 3,
            "n": [30.0, np.nan, np.nan],
            "mean": [61.0, np.nan, np.nan],
            "low": [52.4, np.nan, np.nan],
            "high": [69.6, np.nan, np.nan],
            "n_eff": [11.6, np.nan, np.nan],
        }
    )
    figure = draw(table, {"trust": "Trust"}, {1: "Sales", 2: "Service", 3: "Delivery"})
    assert [row[0] for row in figure.data[0].customdata] == [
        "95% CI 52–70, n = 30, effective n 12",
        "hidden",
        "hidden",
    ]


def test_a_heat_map_cell_is_clustered_by_account_as_statsmodels_fits_it(session, responses):
    """Each touchpoint's cell carries the cluster-robust interval of our other figures."""
    data = compute(session, Filters(grain="quarter"), INSTRUMENT, min_n=2)
    scores = pd.read_sql(
        "select r.touchpoint_id, r.account_id, s.score from indicator_score s "
        "join response r on r.id = s.response_id where s.indicator = 'trust' and s.subject = 'own'",
        session.connection(),
    )
    cells = data.heat_map[data.heat_map["indicator"] == "trust"].set_index("touchpoint_id")
    assert set(cells.index) == set(scores["touchpoint_id"])
    for touchpoint, group in scores.groupby("touchpoint_id"):
        values = (group["score"] - 1) * 100 / 6
        fit = sm.OLS(values.to_numpy(), np.ones(len(values))).fit(
            cov_type="cluster", cov_kwds={"groups": group["account_id"].to_numpy()}, use_t=True
        )
        cell = cells.loc[touchpoint]
        assert (cell["n"], cell["mean"]) == (len(values), pytest.approx(values.mean()))
        assert [cell["low"], cell["high"]] == pytest.approx(list(fit.conf_int()[0]))


def test_a_trend_runs_on_across_a_version_only_where_the_statements_are_unchanged(session, now):
    from survey.instrument.workflow import publish, save_draft, start_draft
    from tests.factories import answers_at
    from tests.test_instrument_versions import NEXT, reworded

    early, late = now - timedelta(days=200), now - timedelta(days=10)
    for number, level in enumerate((2, 5, 7)):
        respond(
            session, early, answers_at({"trust": level, "satisfaction": level}), email=f"e{number}@x.example"
        )
    draft = start_draft(session, actor="ada", now=now - timedelta(days=100))
    save_draft(session, NEXT, reworded(draft.body), actor="ada", now=now - timedelta(days=100))
    publish(session, NEXT, actor="ada", now=now - timedelta(days=100))
    session.commit()
    for number, level in enumerate((4, 6, 6)):
        answers = answers_at({"trust": level, "satisfaction": level})
        answers["SAT5"] = answers.pop("SAT2")
        respond(session, late, answers, email=f"l{number}@x.example")
    data = compute(session, Filters(grain="month"), INSTRUMENT, min_n=2)
    assert data.version == NEXT
    own = data.trend[data.trend["subject"] == "own"].set_index(["indicator", "period"])
    early_month, late_month = f"{early:%Y-%m}", f"{late:%Y-%m}"
    # Trust kept its statements: the earlier version's month is on the same line, and its figure
    # is the plain t interval of those three scores.
    scores = [(level - 1) * 100 / 6 for level in (2, 5, 7)]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(scores), scale=stats.sem(scores))
    row = own.loc[("trust", early_month)]
    assert (row["n"], row["mean"]) == (3, pytest.approx(np.mean(scores)))
    assert (row["low"], row["high"]) == (pytest.approx(low), pytest.approx(high))
    assert ("trust", late_month) in own.index
    # Satisfaction changed (SAT2 reworded as SAT5): it starts afresh in the new version.
    assert ("satisfaction", early_month) not in own.index
    assert ("satisfaction", late_month) in own.index
    # The profile and the gaps stay on the shown version alone.
    trust = data.profile[(data.profile["subject"] == "own") & (data.profile["indicator"] == "trust")]
    assert trust["n"].iloc[0] == 3


def test_the_latest_responses_are_the_newest_in_scope_each_with_its_own_mean(session, responses):
    from survey.people.access import EVERYTHING, Scope
    from survey.reporting.overview import latest_responses

    rows = pd.DataFrame(
        session.execute(
            select(Response.id, Response.submitted_at, Account.id.label("account_id"), Account.name)
            .join(Account, Account.id == Response.account_id)
            .order_by(Response.submitted_at.desc(), Response.id.desc())
        ).all(),
        columns=["id", "submitted", "account_id", "account"],
    )
    latest = latest_responses(session, limit=5, scope=EVERYTHING)
    assert list(latest["response"]) == list(rows["id"][:5])
    first = int(latest["response"].iloc[0])
    own = session.execute(
        select(IndicatorScore.score_100).where(
            IndicatorScore.response_id == first, IndicatorScore.subject == "own"
        )
    ).scalars()
    assert latest["score_100"].iloc[0] == pytest.approx(np.mean(list(own)))
    bolt = rows[rows["account"] == "Bolt Works"]
    mine = latest_responses(session, limit=3, scope=Scope.of_accounts([int(bolt["account_id"].iloc[0])]))
    assert list(mine["response"]) == list(bolt["id"][:3])
    assert set(mine["account"]) == {"Bolt Works"}


@pytest.mark.parametrize(
    "chosen",
    [Filters(), Filters(segments=("Retail",)), Filters(account_ids=(1,)), Filters(account_ids=(1, 2))],
    ids=["everything", "a segment", "one account", "two accounts"],
)
def test_the_dashboard_never_passes_over_a_whole_account_keyed_table(engine, session, responses, chosen, now):
    """The Dashboard's and the Overview's reads of the account-keyed sums name what their key
    begins with: the subject of scores, the item of answer counts, the version. SQLite
    searches those tables by their key and never scans one whole, and a read of chosen
    accounts finds their rows by the account."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the query plan asked of SQLite")
    from sqlalchemy import event

    from survey.people.access import EVERYTHING, Scope
    from survey.reporting.overview import overview

    seen: list[tuple[str, object]] = []

    def kept(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    cache.clear()
    event.listen(engine, "before_cursor_execute", kept)
    try:
        compute(session, replace(chosen, grain="quarter"), INSTRUMENT, min_n=1)
        if not chosen.segments:  # and the Overview of everything, or of those accounts
            scope = Scope.of_accounts(list(chosen.account_ids)) if chosen.account_ids else EVERYTHING
            overview(session, now=now, min_n=1, scope=scope)
    finally:
        event.remove(engine, "before_cursor_execute", kept)
    tables = (
        "account_score_rollup",
        "account_item_rollup",
        "account_touchpoint_rollup",
        "account_leader_pair_rollup",
    )
    asked = [(statement, parameters) for statement, parameters in seen if any(t in statement for t in tables)]
    assert asked, "the dashboard read no account-keyed aggregate"
    with engine.connect() as connection:
        for statement, parameters in asked:
            plan = [
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            assert not [step for step in plan if step.startswith(tuple(f"SCAN {t}" for t in tables))], plan
            searches = [step for step in plan if step.startswith(tuple(f"SEARCH {t}" for t in tables))]
            assert searches, plan
            if chosen.account_ids:
                assert all("account_id=?" in step for step in searches), (plan, statement)
    assert {t for t in tables for statement, _ in asked if t in statement} == set(tables)


@pytest.mark.parametrize(
    ("measure", "by"),
    [
        ("own_scores", ["indicator"]),
        ("leader_scores", ["indicator", "competitor_id"]),
        ("own_scores", ["touchpoint_id", "indicator"]),
        ("leader_pairs", ["indicator", "competitor_id"]),
    ],
    ids=["our scores", "the leaders'", "by touchpoint", "paired ratings"],
)
def test_a_figure_over_every_account_sums_each_account_as_it_reads_it(engine, responses, measure, by):
    """A figure over a period, clustered by account, sums each account's months by the
    figure's groups, then those sums over the accounts. The account-keyed sums are keyed by
    the version, the account and those groups before the month, so SQLite sums each account's
    rows as it reads them: it sorts only the accounts' sums for the figure's groups (one
    temporary tree), never every row in scope."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the query plan asked of SQLite")
    from survey.reporting import moments

    filters = Filters(start="2000-01", end="2999-12", version=INSTRUMENT.version)
    query = moments.statement("sqlite", measure, by, filters)
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = [row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
        groups = connection.execute(query).all()
    assert [step for step in plan if step.startswith("SEARCH account_")], plan
    assert [step for step in plan if "TEMP B-TREE" in step] == ["USE TEMP B-TREE FOR GROUP BY"], plan
    assert groups
