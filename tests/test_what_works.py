"""What works and the account intervals, checked against independent implementations."""

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from survey.accounts.intervals import mean_interval, shrink
from survey.accounts.whatworks import event_difference


def test_the_event_difference_is_the_interaction_coefficient_of_an_ols_fit():
    # Window means (0-100) of one treated account (1) and three similar accounts.
    means = {
        (1, "commitment"): (60.0, 75.0),
        (2, "commitment"): (70.0, 72.0),
        (3, "commitment"): (55.0, 54.0),
        (4, "commitment"): (80.0, 86.0),
        (5, "commitment"): (None, 50.0),  # no answer before: not a control
    }
    difference, controls = event_difference(means, 1, "commitment", [2, 3, 4, 5])
    assert controls == 3
    cells = pd.DataFrame(
        [
            {"account": a, "after": after, "treated_after": int(a == 1 and after), "y": value}
            for (a, _), pair in means.items()
            if None not in pair
            for after, value in enumerate(pair)
        ]
    )
    fit = smf.ols("y ~ C(account) + after + treated_after", data=cells).fit()
    assert difference == pytest.approx(fit.params["treated_after"], abs=1e-9)
    assert difference == pytest.approx(15 - (2 - 1 + 6) / 3)


def test_without_answers_on_both_sides_there_is_no_difference():
    means = {(1, "trust"): (60.0, None), (2, "trust"): (70.0, 72.0)}
    assert event_difference(means, 1, "trust", [2]) is None
    assert event_difference({(1, "trust"): (1.0, 2.0)}, 1, "trust", [2]) is None


def test_the_mean_interval_matches_scipy_and_pingouin():
    values = [12.0, 4.5, -3.0, 18.0, 9.5, 7.0, 0.5]
    estimate = mean_interval(values)
    low, high = stats.ttest_1samp(values, 0).confidence_interval(0.95)
    assert (estimate.low, estimate.high) == pytest.approx((low, high))
    ci = pg.ttest(np.array(values), 0)["CI95"].iloc[0]
    assert (estimate.low, estimate.high) == pytest.approx(tuple(ci), abs=0.01)  # pingouin rounds to 2
    assert estimate.n == 7


def test_one_value_has_no_interval_and_none_has_no_mean():
    assert mean_interval([]) is None
    single = mean_interval([3.0])
    assert single.value == 3.0
    assert math.isnan(single.low)
    assert single.n == 1


def test_shrinkage_borrows_more_from_the_segment_the_fewer_the_answers():
    few = shrink(-20.0, 200.0, prior=0.0, prior_variance=25.0, n=1)
    many = shrink(-20.0, 5.0, prior=0.0, prior_variance=25.0, n=40)
    # The normal-normal posterior: precision-weighted mean, variance 1 / (1/se² + 1/τ²).
    for shrunk, se2 in ((few, 200.0), (many, 5.0)):
        precision = 1 / se2 + 1 / 25.0
        assert shrunk.value == pytest.approx((-20.0 / se2) / precision)
        assert shrunk.high - shrunk.value == pytest.approx(stats.norm.ppf(0.975) * math.sqrt(1 / precision))
    assert few.weight < 0.2 < 0.8 < many.weight
    assert few.high > 0 > many.high  # only the well-measured fall is beyond its uncertainty
    alone = shrink(None, None, prior=-3.0, prior_variance=16.0, n=0)
    assert (alone.value, alone.weight) == (-3.0, 0.0)
