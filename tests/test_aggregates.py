"""Aggregates kept at submission equal the rebuild, and both equal their one definition
over the raw rows; reads answer every scope from aggregates; the cache takes in new responses."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, update
from sqlmodel import Session, select

from models.tables import Account, Competitor, IndicatorScore, Response
from survey.instrument.definition import load_instrument
from survey.people.access import Scope, restrict_filters
from survey.reporting import aggregates, cache, dashboard, moments
from survey.reporting.cells import Cells
from survey.reporting.filters import Filters, period_months
from tests.factories import full_answers, respond


def snapshot(session) -> dict[str, set]:
    def rows(model):
        return {
            tuple(round(v, 9) if isinstance(v, float) else v for v in row)
            for row in session.exec(select(*model.__table__.columns)).all()
        }

    return {aggregate.name: rows(aggregate.model) for aggregate in aggregates.AGGREGATES}


@pytest.fixture
def varied(session, now):
    """Nine responses over several months, two accounts, two touchpoints, four contacts,
    with and without a leader."""
    competitor = Competitor(name="Brightline Partners")
    session.add(competitor)
    session.commit()
    variants = [
        full_answers(),
        full_answers()
        | {"SAT1": 1, "TRU5": None, "MIN1": None, "LEADER": competitor.id, "LEADER_OTHER": None},
        full_answers() | {"LEADER": "none", "CL_SAT": None, "CL_TRU": None, "NPS": 3},
    ]
    for number, answers in enumerate(variants * 3):
        respond(
            session,
            now - timedelta(days=40 * number),
            answers,
            account=("Acme Tools", "Bolt Works")[number % 2],
            email=f"c{number % 4}@acme.example",
            touchpoint=("sales", "service")[number % 2],
        )


def test_aggregates_kept_at_submission_equal_a_rebuild(session, varied):
    incremental = snapshot(session)
    assert all(len(rows) > 3 for rows in incremental.values())
    aggregates.rebuild(session)
    session.commit()
    assert snapshot(session) == incremental


@pytest.mark.parametrize("aggregate", aggregates.AGGREGATES, ids=lambda a: a.name)
def test_each_aggregate_is_its_definition_over_the_raw_rows(session, varied, aggregate):
    dialect = session.get_bind().dialect.name
    raw = (
        session.connection().execute(aggregates.definition(aggregate.measure, aggregate.keys, dialect)).all()
    )
    stored = session.exec(
        select(*(aggregate.model.__table__.c[name] for name in (*aggregate.keys, *aggregate.sums)))
    ).all()

    def normal(rows):
        return sorted(tuple(round(float(v), 9) if isinstance(v, float) else v for v in row) for row in rows)

    assert normal(stored) == normal(raw)


def test_one_response_is_summed_once(session, now):
    respond(session, now)
    cells = aggregates.read(session, "scores", ["version", "month", "indicator", "subject"], Filters())
    trust = (cells.keys["indicator"] == "trust") & (cells.keys["subject"] == "own")
    assert cells.keys["version"][trust].tolist() == [load_instrument().version]
    assert cells.keys["month"][trust].tolist() == ["2026-11"]
    assert (cells.n[trust][0], cells.sums["total"][trust][0], cells.sums["total_sq"][trust][0]) == (
        1,
        5.0,
        25.0,
    )
    pairs = aggregates.read(session, "leader_pairs", ["indicator", "competitor_id"], Filters())
    at = pairs.keys["indicator"] == "trust"
    # TRU3 (ours) beside CL_TRU (the leader's), on 1-7.
    assert [pairs.sums[name][at][0] for name in ("n", "sum_a", "sum_b", "sum_ab")] == [1, 6, 4, 24]


@pytest.mark.parametrize(
    ("filters", "table"),
    [
        (Filters(), "score_segment_rollup"),
        (Filters(segments=("Retail",)), "score_segment_rollup"),
        (Filters(touchpoint_ids=(1,)), "score_rollup"),
        (Filters(roles=("user",)), "score_rollup"),
        (Filters(account_ids=(1,)), "account_score_rollup"),
        (Filters(account_ids=(1, 2), segments=("Retail",)), "account_score_rollup"),
        (Filters(account_ids=(1,), roles=("user",)), None),  # the definition over raw rows
    ],
)
def test_every_scope_reads_the_smallest_aggregate_that_can_answer(filters, table):
    keys = ["version", "month", "segment", "indicator", "subject", "competitor_id"]
    chosen = aggregates.source_for("scores", keys, filters)
    assert (chosen.name if chosen else None) == table


def test_own_scores_by_account_and_touchpoint_come_from_their_aggregate():
    chosen = aggregates.source_for(
        "own_scores", ["version", "month", "touchpoint_id"], Filters(account_ids=(3,))
    )
    assert chosen is not None
    assert chosen.name == "account_touchpoint_rollup"


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(start="2026-05", end="2026-10"),
        Filters(touchpoint_ids=(2,)),
        Filters(roles=("user",)),
        Filters(account_ids=(1,)),
        Filters(account_ids=(2,), touchpoint_ids=(2,)),
        Filters(account_ids=(1, 2), roles=("user",)),
    ],
)
@pytest.mark.parametrize("measure", ["scores", "own_scores", "answers", "leader_pairs"])
def test_a_read_from_aggregates_equals_the_definition_over_the_raw_rows(session, varied, measure, filters):
    keys = ["version", "month", "item_code"] if measure == "answers" else ["version", "month"]
    if measure in ("scores", "own_scores"):
        keys += ["indicator", "subject"] if measure == "scores" else ["indicator"]
    if measure == "leader_pairs":
        keys += ["indicator", "competitor_id"]
    if filters.touchpoint_ids:  # the touchpoint account 2 was surveyed at
        service = session.exec(select(Response.touchpoint_id).where(Response.account_id == 2)).first()
        filters = replace(filters, touchpoint_ids=(service,))
    newest = session.exec(select(func.max(Response.id))).one()
    stored = aggregates.read(session, measure, keys, filters).group(keys)
    raw = aggregates.read(session, measure, keys, filters, ids=(0, newest)).group(keys)
    assert len(stored) == len(raw) > 0
    for name in keys:
        assert stored.keys[name].tolist() == raw.keys[name].tolist()
    for name, values in stored.sums.items():
        assert values == pytest.approx(raw.sums[name])


def test_a_manager_scope_sums_only_their_accounts(session, varied):
    acme = session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    filters = restrict_filters(Filters(), Scope.of_accounts([acme]))
    cells = aggregates.read(session, "scores", ["version"], filters)
    acme_scores = session.exec(
        select(func.count()).select_from(Response).where(Response.account_id == acme)
    ).one()
    everyone = aggregates.read(session, "scores", ["version"], Filters())
    assert 0 < cells.n.sum() < everyone.n.sum()
    assert acme_scores == 5


def test_a_later_instrument_version_never_pools_with_the_first(session, varied):
    # The varied responses are on the newest version; one of them is moved to the one before.
    later = load_instrument().version
    earlier = later - 1
    newest = session.exec(select(func.max(Response.id))).one()
    session.exec(update(Response).where(Response.id == newest).values(instrument_version=earlier))
    aggregates.rebuild(session)
    session.commit()
    cells = aggregates.read(session, "own_scores", ["version", "indicator"], Filters())
    assert sorted(set(cells.keys["version"].tolist())) == [earlier, later]
    trust = cells.keys["indicator"] == "trust"
    assert dict(zip(cells.keys["version"][trust].tolist(), cells.n[trust].tolist(), strict=True)) == {
        earlier: 1,
        later: 8,
    }
    shown = dashboard.scores(session, "own", ["indicator"], Filters(version=later))
    assert shown.n[shown.keys["indicator"] == "trust"].sum() == 8
    assert dashboard.shown_version(session, Filters()) == later


@pytest.mark.parametrize(
    "filters", [Filters(), Filters(account_ids=(1,)), Filters(account_ids=(1,), roles=("user",))], ids=str
)
def test_the_cache_takes_in_a_new_response_without_reading_everything_again(session, varied, now, filters):
    keys = ["version", "month", "indicator", "subject"]
    before = cache.read(session, "scores", keys, filters)
    respond(session, now, account="Acme Tools", email="c1@acme.example")
    reads: list[tuple] = []
    original = aggregates.read

    def spy(*args, **kwargs):
        reads.append(kwargs.get("ids"))
        return original(*args, **kwargs)

    aggregates.read = spy
    try:
        after = cache.read(session, "scores", keys, filters)
    finally:
        aggregates.read = original
    newest = session.exec(select(func.max(Response.id))).one()
    assert reads == [(newest - 1, newest)]  # only the new response was read
    fresh = aggregates.read(session, "scores", keys, filters).group(keys)
    after = after.group(keys)
    assert after.n.sum() == fresh.n.sum() > before.n.sum()
    for name in keys:
        assert after.keys[name].tolist() == fresh.keys[name].tolist()
    assert after.sums["total_sq"] == pytest.approx(fresh.sums["total_sq"])


def test_every_period_of_one_scope_shares_one_read(session, varied, now, monkeypatch):
    keys = ["version", "month", "indicator", "subject"]
    calls: list[Filters] = []
    original = aggregates.read

    def spy(session, measure, keys, filters, **kwargs):
        calls.append(filters)
        return original(session, measure, keys, filters, **kwargs)

    monkeypatch.setattr(aggregates, "read", spy)
    everything = cache.read(session, "scores", keys, Filters(account_ids=(1,)))
    recent = cache.read(session, "scores", keys, Filters(account_ids=(1,), start="2026-08", end="2026-11"))
    assert [(f.start, f.end) for f in calls] == [(None, None)]
    inside = (everything.keys["month"] >= "2026-08") & (everything.keys["month"] <= "2026-11")
    assert recent.keys["month"].tolist() == everything.keys["month"][inside].tolist()
    assert 0 < len(recent) < len(everything)


def test_people_opening_one_figure_at_once_read_it_once(engine, session, varied):
    """Several readers of one figure at the same moment (a page's reads run at once, several
    managers open the Dashboard together): the first reads, the others wait and are given
    what it read."""
    keys = ["version", "month", "indicator", "subject"]
    calls: list[Filters] = []
    original = aggregates.read
    first_started = threading.Event()

    def slow(session, measure, keys, filters, **kwargs):
        calls.append(filters)
        first_started.set()
        time.sleep(0.3)  # the others arrive while it reads
        return original(session, measure, keys, filters, **kwargs)

    def reader() -> Cells:
        with Session(engine) as own:
            return cache.read(own, "scores", keys, Filters())

    aggregates.read, saved = slow, aggregates.read
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            first = pool.submit(reader)
            assert first_started.wait(5)
            others = [pool.submit(reader) for _ in range(2)]
            results = [first.result(), *(other.result() for other in others)]
    finally:
        aggregates.read = saved
    assert len(calls) == 1
    fresh = original(session, "scores", keys, Filters())
    for cells in results:
        assert cells.sums["total_sq"].tolist() == pytest.approx(fresh.sums["total_sq"].tolist())
        assert cells.keys["month"].tolist() == fresh.keys["month"].tolist()


def _response_means(session) -> pd.DataFrame:
    """Each response's mean own score (0-100) with its account and UTC day, by pandas."""
    raw = pd.read_sql(
        "select r.id, r.account_id, r.submitted_at, s.score_100 from response r "
        "join indicator_score s on s.response_id = r.id where s.subject = 'own'",
        session.connection(),
    )
    means = raw.groupby(["id", "account_id", "submitted_at"], as_index=False)["score_100"].mean()
    at = pd.to_datetime(means["submitted_at"], utc=True, format="ISO8601")
    return means.assign(day=at.dt.strftime("%Y-%m-%d"), when=at)


def test_each_responses_mean_score_is_summed_per_account_and_day(session, varied, now):
    # One more answering no statement at all, only the recommendation: it has no mean score.
    skipped = {code: None for code, value in full_answers().items() if isinstance(value, int)}
    quiet = respond(session, now, skipped | {"NPS": 9}, account="Acme Tools", email="quiet@acme.example")
    assert not session.exec(select(IndicatorScore).where(IndicatorScore.response_id == quiet)).all()
    kept = snapshot(session)  # what its submission added: nothing to the mean scores
    aggregates.rebuild(session)
    assert snapshot(session) == kept
    cells = aggregates.read(session, "response_means", ["account_id", "day"], Filters())
    got = pd.DataFrame(
        {"account_id": cells.keys["account_id"], "day": cells.keys["day"]} | dict(cells.sums)
    ).set_index(["account_id", "day"])
    means = _response_means(session)
    expected = means.groupby(["account_id", "day"])["score_100"].agg(
        n="count", total="sum", total_sq=lambda values: (values**2).sum()
    )
    assert len(got) == len(expected) == 9
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_dtype=False, atol=1e-9)


def test_an_accounts_recent_days_and_baseline_are_its_responses_means(session, varied, now):
    """My accounts' windows: the last 90 days up to today and the 365 days before, each the
    n, mean and squared deviations of the responses' own means, as pandas takes them."""
    from survey.accounts.health import BASELINE_DAYS, PERIOD_DAYS, _windows

    means = _response_means(session)
    today = now.date()
    recent_from = today - timedelta(days=PERIOD_DAYS)
    baseline_from = recent_from - timedelta(days=BASELINE_DAYS)
    day = means["when"].dt.date
    means["window"] = np.where(day >= recent_from, "recent", "baseline")
    inside = means[(day >= baseline_from) & (day <= today)]
    windows = _windows(session, now)
    assert set(windows) == set(zip(inside["account_id"], inside["window"], strict=True))
    for (account_id, window), part in inside.groupby(["account_id", "window"]):
        found = windows[(account_id, window)]
        values = part["score_100"]
        assert found.n == len(values)
        assert found.mean == pytest.approx(values.mean())
        assert found.sum_sq_dev == pytest.approx(((values - values.mean()) ** 2).sum(), abs=1e-6)


def test_kept_windows_take_in_a_new_response_as_a_fresh_read_gives_them(session, varied, now):
    """The windows are kept for the day: a response arriving after them is added to its
    account's recent window, and the result is what reading them afresh gives."""
    from survey.accounts.health import _windows

    before = _windows(session, now)
    respond(session, now, account="Acme Tools", email="late@acme.example")
    kept = _windows(session, now)
    cache.clear()
    fresh = _windows(session, now)
    assert kept.keys() == fresh.keys()
    for key, window in fresh.items():
        assert kept[key].n == window.n
        assert kept[key].mean == pytest.approx(window.mean)
        assert kept[key].sum_sq_dev == pytest.approx(window.sum_sq_dev, abs=1e-6)
    acme = session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    earlier = before.get((acme, "recent"))
    assert kept[(acme, "recent")].n == (0 if earlier is None else earlier.n) + 1


def kept_as_a_fresh_read_gives_them(session, monkeypatch, by, filters, sums, **options) -> Cells:
    """Our own scores' kept moments by ``by`` (``moments.read`` with ``options``), brought up
    to date without summing everything again (no full ``moments.statement``), and equal to
    what the database sums afresh."""
    full_reads: list[object] = []
    original = moments.statement

    def spy(*args, **kwargs):
        full_reads.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(moments, "statement", spy)
    kept = moments.read(session, "own_scores", by, filters, **options)
    monkeypatch.undo()
    assert full_reads == []
    dialect = session.get_bind().dialect.name
    query = moments.statement(dialect, "own_scores", by, filters, **options)
    fresh = Cells.from_rows(list(session.connection().execute(query).all()), by, sums)
    for name in by:
        assert kept.keys[name].tolist() == fresh.keys[name].tolist()
    for name in sums:
        assert kept.sums[name] == pytest.approx(fresh.sums[name]), name
    return kept


@pytest.mark.parametrize("filters", [Filters(), Filters(account_ids=(1,))], ids=str)
@pytest.mark.parametrize("grain", ["month", "quarter"])
@pytest.mark.parametrize("change", [False, True], ids=["level", "change"])
def test_kept_moments_take_in_new_responses_as_a_fresh_read_gives_them(
    session, varied, now, filters, grain, change, monkeypatch
):
    """A square does not add: the kept moments replace a touched account's old part by its new
    one, and equal what the database sums afresh; neither read sums every account again. So
    do a change's, from the months before that of ``now`` to that month."""
    version = dashboard.shown_version(session, filters)
    filters = replace(filters, version=version)
    by = [moments.PERIOD, "indicator"]
    after = None
    if change:
        by = ["indicator"]
        after = f"{now:%Y-%m}"
        filters = replace(filters, start=f"{now - timedelta(days=200):%Y-%m}")
    kind = moments.CHANGE if change else moments.LEVEL
    before = moments.read(session, "own_scores", by, filters, grain=grain, after=after)
    respond(session, now, account="Acme Tools", email="c1@acme.example")
    respond(session, now - timedelta(days=200), account="Acme Tools", email="c2@acme.example")
    respond(session, now, account="Cobalt Ltd", email="x@cobalt.example")  # a new cluster
    options = {"grain": grain, "after": after}
    kept = kept_as_a_fresh_read_gives_them(session, monkeypatch, by, filters, kind.sums, **options)
    counted = "n1" if change else "n"
    assert kept.sums[counted].sum() > before.sums[counted].sum()
    if not change:
        grew = 3 if filters.account_ids == () else 2
        assert kept.n.sum() == before.n.sum() + grew * 6  # six indicators each


def test_moments_clustered_by_respondent_take_in_new_responses_as_a_fresh_read_gives_them(
    session, varied, now, monkeypatch
):
    """Per account, the people who answered are the clusters: new answers from a known person
    and from a new one replace those people's part of the kept change moments, as a fresh
    read sums them, without summing every account again."""
    version = dashboard.shown_version(session, Filters())
    filters = Filters(start=f"{now - timedelta(days=200):%Y-%m}", version=version)
    by, after = ["account_id", "indicator"], f"{now:%Y-%m}"

    before = moments.read(session, "own_scores", by, filters, after=after, cluster=moments.RESPONDENT)
    respond(session, now, account="Acme Tools", email="c0@acme.example")  # answered before
    respond(session, now, account="Acme Tools", email="new@acme.example")
    options = {"after": after, "cluster": moments.RESPONDENT}
    kept = kept_as_a_fresh_read_gives_them(session, monkeypatch, by, filters, moments.CHANGES, **options)
    acme = session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()
    trust = (kept.keys["account_id"] == acme) & (kept.keys["indicator"] == "trust")
    was = (before.keys["account_id"] == acme) & (before.keys["indicator"] == "trust")
    assert kept.sums["n1"][trust].sum() == before.sums["n1"][was].sum() + 2
    assert kept.sums["clusters"][trust].sum() == before.sums["clusters"][was].sum() + 1  # one new person
    with pytest.raises(ValueError, match="per account"):
        moments.read(session, "own_scores", ["indicator"], filters, cluster=moments.RESPONDENT)


def test_the_recommendations_moments_are_its_scores_per_account(session, varied, now):
    """NPS's moments, summed by the database from answer counts, are those pandas gives from
    each response's recommendation as +1 (9-10), 0 (7-8) or -1 (0-6), clustered by account:
    per quarter, and kept up to date as responses arrive."""
    version = dashboard.shown_version(session, Filters())
    filters = Filters(version=version)
    by = [moments.PERIOD]
    moments.read(session, moments.RECOMMENDATION, by, filters, grain="quarter")
    whole_before = moments.read(session, moments.RECOMMENDATION, [], filters)  # the Overview's one figure
    respond(session, now, account="Acme Tools", email="c1@acme.example", answers=full_answers() | {"NPS": 10})
    respond(session, now, account="Cobalt Ltd", email="x@cobalt.example", answers=full_answers() | {"NPS": 2})
    kept = moments.read(session, moments.RECOMMENDATION, by, filters, grain="quarter")
    raw = pd.read_sql(
        "select account_id, submitted_at, nps from response where nps is not null", session.connection()
    )
    at = pd.to_datetime(raw["submitted_at"], utc=True, format="ISO8601")
    raw["quarter"] = at.dt.year.astype(str) + "-Q" + ((at.dt.month - 1) // 3 + 1).astype(str)
    raw["x"] = np.where(raw["nps"] >= 9, 1, np.where(raw["nps"] >= 7, 0, -1))
    cells = raw.groupby(["quarter", "account_id"])["x"].agg(n="size", total="sum")
    quarters = sorted(raw["quarter"].unique())
    assert kept.keys[moments.PERIOD].tolist() == quarters
    for at_row, quarter in enumerate(quarters):
        accounts = cells.loc[quarter]
        inside = raw[raw["quarter"] == quarter]
        expected = {
            "n": len(inside),
            "total": inside["x"].sum(),
            "total_sq": (inside["x"] ** 2).sum(),
            "clusters": len(accounts),
            "ss": (accounts["total"] ** 2).sum(),
            "sn": (accounts["total"] * accounts["n"]).sum(),
            "nn": (accounts["n"] ** 2).sum(),
        }
        for name, value in expected.items():
            assert kept.sums[name][at_row] == pytest.approx(value), (quarter, name)
    whole = moments.read(session, moments.RECOMMENDATION, [], filters)
    assert whole.n.tolist() == [len(raw)] == [whole_before.n[0] + 2]
    accounts = raw.groupby("account_id")["x"].agg(n="size", total="sum")
    assert whole.sums["clusters"].tolist() == [len(accounts)]
    assert whole.sums["ss"][0] == pytest.approx((accounts["total"] ** 2).sum())
    figure = dashboard.nps_of(kept, len(quarters) - 1)
    last = raw[raw["quarter"] == quarters[-1]]
    assert figure.nps == pytest.approx(100 * last["x"].mean())
    assert (figure.promoters, figure.passives, figure.detractors) == (
        (last["x"] == 1).sum(),
        (last["x"] == 0).sum(),
        (last["x"] == -1).sum(),
    )


def test_paired_ratings_moments_are_summed_by_the_database_and_kept_up_to_date(session, varied, now):
    """The gaps' paired ratings come as each leader's pair sums with the accounts' moments of
    the difference: the database's equal numpy's from the accounts' cells, and stay so as a
    response with a leader arrives."""
    version = dashboard.shown_version(session, Filters())
    filters = Filters(version=version)
    by = ["indicator", "competitor_id"]
    before = moments.read(session, "leader_pairs", by, filters)
    leader = session.exec(select(Competitor.id)).first()
    rated = full_answers() | {"LEADER": leader, "LEADER_OTHER": None}
    respond(session, now, account="Cobalt Ltd", email="x@cobalt.example", answers=rated)
    kept = moments.read(session, "leader_pairs", by, filters)
    cells = aggregates.read(session, "leader_pairs", [*by, "account_id"], filters)
    expected = moments.of_cells(cells, by, "account_id", moments.PAIRED)
    assert kept.keys["indicator"].tolist() == expected.keys["indicator"].tolist()
    assert kept.sums["clusters"].sum() > before.sums["clusters"].sum() > 0
    for name in moments.PAIRED.sums:
        assert kept.sums[name] == pytest.approx(expected.sums[name]), name
    d = moments.difference_sums(cells.sums)
    assert kept.sums["ss"].sum() == pytest.approx((d["total"] ** 2).sum())


def test_the_database_sums_the_same_moments_as_numpy(session, varied):
    """The nested GROUP BY gives each group's moments as numpy gives them from the accounts'
    cells, quarters labelled in SQL as in Python: a level's, and a change's between the last
    two quarters."""
    version = dashboard.shown_version(session, Filters())
    filters = Filters(version=version)
    dialect = session.get_bind().dialect.name
    by = [moments.PERIOD, "indicator"]
    query = moments.statement(dialect, "own_scores", by, filters, grain="quarter")
    database = Cells.from_rows(list(session.connection().execute(query).all()), by, moments.MOMENTS)
    cells = moments.by_period(
        aggregates.read(session, "own_scores", ["month", "account_id", "indicator"], filters), "quarter"
    )
    expected = moments.of_cells(cells, by, "account_id")
    assert len(database) == len(expected) > 6
    for name in by:
        assert database.keys[name].tolist() == expected.keys[name].tolist()
    for name in moments.MOMENTS:
        assert database.sums[name] == pytest.approx(expected.sums[name]), name

    before, after = sorted(set(cells.keys[moments.PERIOD].tolist()))[-2:]
    narrowed = replace(filters, start=period_months(before)[0])
    after = period_months(after)[0]
    query = moments.statement(dialect, "own_scores", ["indicator"], narrowed, after=after)
    database = Cells.from_rows(
        list(session.connection().execute(query).all()), ["indicator"], moments.CHANGES
    )
    two = cells.where(cells.keys["month"] >= narrowed.start)
    expected = moments.change_of_cells(two, ["indicator"], "account_id", after)
    assert len(database) == len(expected) == 6
    assert database.keys["indicator"].tolist() == expected.keys["indicator"].tolist()
    assert expected.sums["n0"].sum() > 0
    assert expected.sums["n1"].sum() > 0
    for name in moments.CHANGES:
        assert database.sums[name] == pytest.approx(expected.sums[name]), name


def test_each_side_of_a_change_is_the_level_of_its_months(session, varied, now):
    """The Overview's cards are the two sides of their change: each side's moments equal the
    moments read for its months alone."""
    version = dashboard.shown_version(session, Filters())
    filters = Filters(version=version, end=f"{now:%Y-%m}")
    start, after = f"{now - timedelta(days=250):%Y-%m}", f"{now - timedelta(days=100):%Y-%m}"
    changes = moments.read(session, "own_scores", ["indicator"], replace(filters, start=start), after=after)
    months = sorted(
        aggregates.read(session, "own_scores", ["month"], replace(filters, start=start))
        .keys["month"]
        .tolist()
    )
    last_before = max(month for month in months if month < after)
    for number, (first, last) in enumerate([(start, last_before), (after, filters.end)]):
        level = moments.read(session, "own_scores", ["indicator"], replace(filters, start=first, end=last))
        side = moments.side(changes, number)
        assert side.keys["indicator"].tolist() == level.keys["indicator"].tolist()
        assert side.n.sum() > 0
        for name in moments.MOMENTS:
            assert side.sums[name] == pytest.approx(level.sums[name]), name
