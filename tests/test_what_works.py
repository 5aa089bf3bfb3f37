"""What works and the account intervals, checked against independent implementations."""

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from survey.accounts.intervals import mean_interval, shrink, t_test_p
from survey.accounts.whatworks import Effect, corrected, event_difference
from survey.reporting import intervals as core


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


def test_many_effects_are_corrected_together_as_statsmodels_does():
    rng = np.random.default_rng(20)
    # Six effects with an interval (one real), one with a single account (no interval, not counted).
    values_of = [
        list(rng.normal(mu, 8, size)) for mu, size in ((12, 25), (0, 11), (0, 9), (2, 26), (0, 12), (0, 3))
    ]
    values_of.append([4.0])
    effects = [
        Effect(
            action="business_review",
            indicator=str(i),
            estimate=mean_interval(v),
            actions=len(v),
            accounts=len(v),
        )
        for i, v in enumerate(values_of)
    ]
    result = corrected(effects, values_of)
    raw = [stats.ttest_1samp(v, 0).pvalue for v in values_of[:6]]
    assert [e.p_value for e in result[:6]] == pytest.approx(raw)
    _, holm, _, _ = multipletests(raw, alpha=0.05, method="holm")
    assert [e.p_holm for e in result[:6]] == pytest.approx(list(holm))
    for effect, values in zip(result[:6], values_of[:6], strict=True):
        low, high = stats.ttest_1samp(values, 0).confidence_interval(1 - 0.05 / 6)
        assert (effect.simultaneous.low, effect.simultaneous.high) == pytest.approx((low, high))
        assert effect.simultaneous.low < effect.estimate.low
        assert effect.estimate.high < effect.simultaneous.high
        assert effect.comparisons == 6
    assert result[6].simultaneous is None
    assert result[6].p_holm is None
    # The real effect stays clear of zero after the correction and is worded so.
    assert result[0].simultaneous.low > 0
    assert "rose more after a business review" in result[0].sentence
    assert "interval over all 6 comparisons" in result[0].sentence
    assert "uncorrected 95% interval" in result[0].sentence


def test_an_effect_uncorrected_clear_of_zero_but_not_over_all_comparisons_is_not_called_a_rise():
    # Clear of zero at 95% alone, not once widened for 30 comparisons.
    values = [float(v) for v in (6, 1, 9, -2, 7, 4, 8, 0, 5, 3, 10, 2)]
    none = [[0.0, 1.0, -1.0]] * 29
    effects = [
        Effect(action="training", indicator=str(i), estimate=mean_interval(v), actions=3, accounts=3)
        for i, v in enumerate([values, *none])
    ]
    first = corrected(effects, [values, *none])[0]
    assert first.estimate.low > 0
    assert first.simultaneous.low < 0
    assert "no clear difference after a training" in first.sentence


def test_an_account_interval_is_the_reporting_cores_figure():
    # What works' differences per account: the interval every other page shows, not a second one.
    values = [12.0, -3.5, 8.25, 20.0, 4.0, 9.5]
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    estimate = mean_interval(values)
    assert (estimate.low, estimate.high) == pytest.approx(
        core.mean_interval(mean, sd, len(values)), rel=1e-12
    )
    widened = mean_interval(values, 1 - 0.05 / 30)
    assert (widened.low, widened.high) == pytest.approx(
        core.mean_interval(mean, sd, len(values), 1 - 0.05 / 30), rel=1e-12
    )
    assert t_test_p(values) == pytest.approx(core.mean_p_value(mean, sd, len(values)), rel=1e-12)
    # The shrunk change's interval uses the core's 95% normal quantile.
    shrunk = shrink(-8.0, 16.0, 0.0, 16.0, 3)
    assert shrunk.high - shrunk.value == pytest.approx(core.Z95 * math.sqrt(shrunk.weight * 16.0))
