"""Gap tests from sums must equal pingouin's tests on the raw scores."""

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.reporting.gaps import Gap, gaps

LABELS = {"trust": "Trust", "satisfaction": "Satisfaction"}


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=10_000))
def test_p_values_from_sums_equal_pingouin_on_the_raw_scores(seed):
    rng = np.random.default_rng(seed)
    ours = rng.normal(62, 15, size=int(rng.integers(8, 200)))
    theirs = rng.normal(68, 12, size=int(rng.integers(8, 200)))
    published = 65.0
    own = pd.DataFrame([{"indicator": "trust", "n": len(ours), "mean": ours.mean(), "sd": ours.std(ddof=1)}])
    leader = pd.DataFrame(
        [
            {
                "indicator": "trust",
                "name": "B",
                "n": len(theirs),
                "mean": theirs.mean(),
                "sd": theirs.std(ddof=1),
            }
        ]
    )
    figure = pd.DataFrame([{"indicator": "trust", "name": "Index", "value_100": published, "n": None}])
    welch, one_sample = gaps(own, leader, figure, LABELS, min_n=5)
    assert welch.p == pytest.approx(pg.ttest(ours, theirs, correction=True)["p_val"].iloc[0], rel=1e-9)
    assert one_sample.p == pytest.approx(pg.ttest(ours, published)["p_val"].iloc[0], rel=1e-9)
    # Holm over two tests: the smaller p doubled, the larger at least that.
    low, high = sorted([welch.p, one_sample.p])
    corrected = sorted([welch.p_corrected, one_sample.p_corrected])
    assert corrected[0] == pytest.approx(min(1.0, 2 * low))
    assert corrected[1] == pytest.approx(max(min(1.0, 2 * low), high))


def test_small_groups_are_not_compared():
    own = pd.DataFrame([{"indicator": "trust", "n": 4, "mean": 60.0, "sd": 10.0}])
    figure = pd.DataFrame([{"indicator": "trust", "name": "Index", "value_100": 70.0, "n": None}])
    assert gaps(own, pd.DataFrame(columns=["indicator", "name", "n", "mean", "sd"]), figure, LABELS, 5) == []


@pytest.mark.parametrize(
    ("ours", "theirs", "p", "sentence"),
    [
        (62.0, 68.2, 0.0104, "Trust is 6 points below Competitor A (p = 0.01, n = 84)"),
        (70.4, 69.6, 0.5, "Trust is 1 point above Competitor A (p = 0.50, n = 84)"),
        (70.2, 70.0, 0.9, "Trust is on a par with Competitor A (p = 0.90, n = 84)"),
        (50.0, 60.0, 0.0004, "Trust is 10 points below Competitor A (p < 0.001, n = 84)"),
        (50.0, 60.0, 0.0042, "Trust is 10 points below Competitor A (p = 0.004, n = 84)"),
    ],
)
def test_gaps_are_worded_for_a_manager(ours, theirs, p, sentence):
    gap = Gap("trust", "Trust", "Competitor A", "published", ours, theirs, 84, None, p, p)
    assert gap.sentence() == sentence
