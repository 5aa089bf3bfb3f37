"""The two interval functions every page uses, against independent computations."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from survey.reporting.intervals import (
    clustered_changes,
    clustered_from_sums,
    difference_interval,
    difference_intervals,
    effective,
    mean_from_sums,
    mean_interval,
    mean_p_value,
    nps_from_moments,
    nps_interval,
    shrink_many,
    t_quantile,
    t_upper_tail,
)
from survey.reporting.moments import LEVEL


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_mean_interval_is_scipys_student_t_interval(seed):
    scores = np.random.default_rng(seed).integers(1, 8, size=23).astype(float)
    figures = mean_from_sums(len(scores), scores.sum(), (scores**2).sum())
    on_100 = (scores - 1) * 100 / 6
    low, high = stats.t.interval(0.95, len(on_100) - 1, loc=on_100.mean(), scale=stats.sem(on_100))
    assert figures.mean == pytest.approx(on_100.mean())
    assert figures.sd == pytest.approx(on_100.std(ddof=1))
    assert (figures.low, figures.high) == pytest.approx((low, high))


def test_the_mean_interval_of_published_figures_uses_their_own_n_and_sd():
    # R: mean 62.5, sd 13.3, n 900 -> 62.5 + c(-1, 1) * qt(0.975, 899) * 13.3 / sqrt(900)
    low, high = mean_interval(62.5, 13.3, 900)
    assert (low, high) == pytest.approx((61.62991, 63.37009), abs=1e-5)


def test_a_wider_level_and_the_p_value_are_scipys_one_sample_t_test():
    values = np.random.default_rng(4).normal(3, 10, size=17)
    mean, sd, n = values.mean(), values.std(ddof=1), len(values)
    test = stats.ttest_1samp(values, 0)
    # Bonferroni over 30 comparisons: each interval at 1 - 0.05/30.
    assert mean_interval(mean, sd, n, 1 - 0.05 / 30) == pytest.approx(test.confidence_interval(1 - 0.05 / 30))
    assert mean_interval(mean, sd, n) == pytest.approx(test.confidence_interval(0.95))
    assert mean_p_value(mean, sd, n) == pytest.approx(test.pvalue)
    assert mean_p_value(0.0, 0.0, 5) == 1.0


def test_the_t_quantile_and_tail_are_scipys_student_t():
    df = np.array([1, 2, 3.5, 9, 29, 120, 1e6])
    for probability in (0.5, 0.9, 0.975, 1 - 0.05 / 12):
        np.testing.assert_allclose(t_quantile(probability, df), stats.t.ppf(probability, df), rtol=1e-12)
    t = np.array([0.0, 0.3, 1.96, 4.2, 40.0])
    np.testing.assert_allclose(t_upper_tail(t, 7), stats.t.sf(t, 7), rtol=1e-12)
    # Degrees of freedom that are not positive give no quantile, as scipy's give none.
    assert np.isnan(t_quantile(0.975, 0))
    assert np.isnan(stats.t.ppf(0.975, 0))


def test_one_response_has_no_interval():
    figures = mean_from_sums(1, 5.0, 25.0)
    assert np.isnan(figures.low)
    assert np.isnan(figures.high)
    assert figures.mean == pytest.approx(100 * 4 / 6)


@pytest.mark.parametrize(
    ("promoters", "passives", "detractors"), [(50, 30, 20), (3, 1, 1), (0, 0, 9), (40, 0, 0)]
)
def test_nps_interval_is_the_adjusted_wald_interval(promoters, passives, detractors):
    figure = nps_interval(promoters, passives, detractors)
    # Independently: the mean of +1/0/-1 answers with 3/4 added to promoters and detractors
    # and 3/2 to passives (3 in all), and its variance over the adjusted n.
    weights = np.array([promoters + 0.75, passives + 1.5, detractors + 0.75])
    values = np.array([1.0, 0.0, -1.0])
    mean = np.average(values, weights=weights)
    variance = np.average((values - mean) ** 2, weights=weights) / weights.sum()
    margin = stats.norm.ppf(0.975) * np.sqrt(variance)
    n = promoters + passives + detractors
    assert figure.n == n
    assert figure.nps == pytest.approx(100 * (promoters - detractors) / n)
    assert figure.low == pytest.approx(100 * max(-1, mean - margin))
    assert figure.high == pytest.approx(100 * min(1, mean + margin))
    assert -100 <= figure.low <= figure.nps <= figure.high <= 100


def test_nps_without_answers_has_no_figure():
    figure = nps_interval(0, 0, 0)
    assert (figure.nps, figure.low, figure.high, figure.n) == (None, None, None, 0)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_interval_of_a_change_is_welchs_from_scipy(seed):
    rng = np.random.default_rng(seed)
    recent, before = rng.normal(60, 15, size=31), rng.normal(55, 22, size=17)
    low, high = difference_interval(
        recent.mean(), recent.std(ddof=1), 31, before.mean(), before.std(ddof=1), 17
    )
    welch = stats.ttest_ind(recent, before, equal_var=False).confidence_interval(0.95)
    assert (low, high) == pytest.approx((welch.low, welch.high))


def test_a_change_needs_two_values_on_each_side():
    assert difference_interval(50.0, 10.0, 1, 40.0, 10.0, 30) is None


def test_many_changes_at_once_are_each_welchs_from_scipy():
    rng = np.random.default_rng(6)
    sizes = [(31, 17), (2, 2), (120, 9), (1, 40), (5, 1)]
    samples = [(rng.normal(60, 15, a), rng.normal(52, 25, b)) for a, b in sizes]
    # Both groups all alike: no spread, the difference itself.
    samples.append((np.full(4, 70.0), np.full(3, 65.0)))
    summaries = np.array(
        [(x.mean(), x.std(ddof=1) if len(x) > 1 else 0.0, len(x)) for pair in samples for x in pair]
    )
    ours, theirs = summaries[0::2], summaries[1::2]
    low, high = difference_intervals(*ours.T, *theirs.T)
    for at, (recent, before) in enumerate(samples):
        if len(recent) < 2 or len(before) < 2:
            assert np.isnan([low[at], high[at]]).all()
        elif recent.std() == before.std() == 0:
            assert low[at] == high[at] == pytest.approx(5.0)
        else:
            welch = stats.ttest_ind(recent, before, equal_var=False).confidence_interval(0.95)
            assert (low[at], high[at]) == pytest.approx((welch.low, welch.high))


def test_many_shrunk_changes_are_the_normal_posteriors():
    raw = np.array([-20.0, -20.0, np.nan, 4.0])
    variance = np.array([200.0, 5.0, np.nan, 1.0])
    prior = np.array([0.0, 0.0, -3.0, 2.0])
    spread = np.array([25.0, 25.0, 16.0, 9.0])
    value, low, high, weight = shrink_many(raw, variance, prior, spread)
    for at in (0, 1, 3):
        # Precision-weighted mean, variance 1 / (1/se² + 1/τ²).
        precision = 1 / variance[at] + 1 / spread[at]
        assert value[at] == pytest.approx((raw[at] / variance[at] + prior[at] / spread[at]) / precision)
        half = stats.norm.ppf(0.975) * np.sqrt(1 / precision)
        assert (low[at], high[at]) == pytest.approx((value[at] - half, value[at] + half))
    # No own estimate: the prior and its spread alone.
    assert (value[2], weight[2]) == (-3.0, 0.0)
    assert high[2] - value[2] == pytest.approx(stats.norm.ppf(0.975) * 4.0)
    assert weight[0] < 0.2 < 0.8 < weight[1]


def clustered_sample(seed: int) -> pd.DataFrame:
    """Scores 1-7 from accounts of very different sizes with a shared account effect (an
    intra-account correlation of about 0.4), in two periods."""
    rng = np.random.default_rng(seed)
    accounts = int(rng.integers(3, 25))
    size = rng.integers(1, 30, size=accounts)
    account = np.repeat(np.arange(accounts), size)
    effect = rng.normal(0, 1, size=accounts)[account]
    score = np.clip(np.round(4 + effect + rng.normal(0, 1.2, size=len(account))), 1, 7)
    period = rng.integers(0, 2, size=len(account))
    return pd.DataFrame({"account": account, "score": score, "period": period})


def sums_by_account(frame: pd.DataFrame, accounts: np.ndarray) -> pd.DataFrame:
    return (
        frame.groupby("account")["score"]
        .agg(n="count", total="sum", total_sq=lambda v: (v**2).sum())
        .reindex(accounts, fill_value=0)
    )


@pytest.mark.parametrize("seed", range(12))
def test_the_clustered_interval_is_statsmodels_ols_with_standard_errors_clustered_by_account(seed):
    frame = clustered_sample(seed)
    sums = sums_by_account(frame, np.unique(frame["account"]))
    robust = clustered_from_sums(
        np.zeros(len(sums), dtype=int), sums["n"], sums["total"], sums["total_sq"], 1
    )
    fit = sm.OLS(frame["score"].to_numpy(), np.ones(len(frame))).fit(
        cov_type="cluster", cov_kwds={"groups": frame["account"].to_numpy()}, use_t=True
    )
    assert robust.mean[0] == pytest.approx(fit.params[0])
    assert robust.se[0] == pytest.approx(fit.bse[0])
    assert [robust.low[0], robust.high[0]] == pytest.approx(list(fit.conf_int()[0]))
    assert robust.clusters[0] == frame["account"].nunique()
    assert robust.n_eff[0] == pytest.approx(min(len(frame), frame["score"].var(ddof=1) / fit.bse[0] ** 2))


@pytest.mark.parametrize("seed", range(12))
def test_the_clustered_change_is_statsmodels_ols_on_the_period_clustered_by_account(seed):
    frame = clustered_sample(seed)
    accounts = np.unique(frame["account"])
    before = sums_by_account(frame[frame["period"] == 0], accounts)
    after = sums_by_account(frame[frame["period"] == 1], accounts)
    changes = clustered_changes(
        np.zeros(len(accounts), dtype=int), (before["n"], before["total"]), (after["n"], after["total"]), 1
    )
    found = (changes.change[0], changes.low[0], changes.high[0])
    design = sm.add_constant(frame["period"].to_numpy(dtype=float))
    fit = sm.OLS(frame["score"].to_numpy(), design).fit(
        cov_type="cluster", cov_kwds={"groups": frame["account"].to_numpy()}, use_t=True
    )
    assert found == pytest.approx((fit.params[1], *fit.conf_int()[1]))
    assert changes.se[0] == pytest.approx(fit.bse[1])


def test_a_design_effect_shrinks_the_effective_n():
    """Ten accounts of 30 answers each, every account answering alike: 300 answers carry about
    the information of ten."""
    rng = np.random.default_rng(4)
    account = np.repeat(np.arange(10), 30)
    score = np.clip(np.round(4 + rng.normal(0, 1.5, size=10)[account] + rng.normal(0, 0.3, 300)), 1, 7)
    sums = sums_by_account(pd.DataFrame({"account": account, "score": score}), np.arange(10))
    robust = clustered_from_sums(np.zeros(10, dtype=int), sums["n"], sums["total"], sums["total_sq"], 1)
    assert 5 < robust.n_eff[0] < 20
    assert effective(300, robust.n_eff[0]) == f", effective n {robust.n_eff[0]:.0f}"
    assert effective(300, 300.0) == effective(300, None) == ""


def test_one_account_has_no_clustered_interval():
    robust = clustered_from_sums(np.zeros(1, dtype=int), [5], [20.0], [90.0], 1)
    assert np.isnan(robust.low[0])
    assert robust.clusters[0] == 1
    assert np.isnan(clustered_changes([0], ([5], [20.0]), ([4], [18.0]), 1).se[0])


@pytest.mark.parametrize("seed", range(8))
def test_a_clustered_nps_interval_is_the_adjusted_wald_one_at_statsmodels_effective_n(seed):
    """Accounts lean promoter or detractor as a whole: the design effect is statsmodels'
    clustered variance of the +1/0/-1 mean over its plain variance, and the interval is the
    adjusted-Wald one with every count divided by it (never narrower than the plain one)."""
    rng = np.random.default_rng(seed)
    accounts = int(rng.integers(3, 15))
    account = np.repeat(np.arange(accounts), rng.integers(2, 25, size=accounts))
    lean = rng.uniform(0.1, 0.9, size=accounts)[account]
    value = np.where(rng.random(len(account)) < lean, 1, np.where(rng.random(len(account)) < 0.5, 0, -1))
    per = pd.DataFrame({"account": account, "value": value})
    grouped = per.groupby("account")["value"]
    cells = {
        "n": grouped.size().to_numpy(float),
        "total": grouped.sum().to_numpy(float),
        "total_sq": (per["value"] ** 2).groupby(per["account"]).sum().to_numpy(float),
    }
    figure = nps_from_moments(*(np.sum(term(cells)) for term in LEVEL.terms.values()))
    fit = sm.OLS(value.astype(float), np.ones(len(value))).fit(
        cov_type="cluster", cov_kwds={"groups": account}
    )
    n = len(value)
    design = max(1.0, fit.bse[0] ** 2 / (value.var(ddof=1) / n))
    p, d = (value == 1).sum() / design, (value == -1).sum() / design
    n_adj = n / design + 3
    p_adj, d_adj = (p + 0.75) / n_adj, (d + 0.75) / n_adj
    half = stats.norm.ppf(0.975) * np.sqrt((p_adj + d_adj - (p_adj - d_adj) ** 2) / n_adj)
    assert figure.nps == pytest.approx(100 * value.mean())
    assert figure.n_eff == pytest.approx(n / design)
    assert [figure.low, figure.high] == pytest.approx(
        [100 * max(-1, p_adj - d_adj - half), 100 * min(1, p_adj - d_adj + half)]
    )
    plain = nps_interval(int((value == 1).sum()), int((value == 0).sum()), int((value == -1).sum()))
    assert figure.low <= plain.low + 1e-9
    assert figure.high >= plain.high - 1e-9
