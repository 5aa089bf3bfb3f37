"""The two interval functions every page uses, against independent computations."""

import numpy as np
import pytest
from scipy import stats

from survey.reporting.intervals import (
    difference_interval,
    mean_from_sums,
    mean_interval,
    mean_p_value,
    nps_interval,
)


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
