"""Gap tests from sums must equal pingouin's tests on the raw scores, and a published figure
without its own n and sd is never tested."""

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.reporting.gaps import PUBLISHED, RATED, REFERENCE, Gap, gaps

LABELS = {"trust": "Trust", "satisfaction": "Satisfaction"}
NO_LEADERS = pd.DataFrame(columns=["indicator", "name", "n", "mean", "sd"])


def summary(indicator: str, scores: np.ndarray, **extra) -> dict:
    return {
        "indicator": indicator,
        "n": len(scores),
        "mean": scores.mean(),
        "sd": scores.std(ddof=1),
        **extra,
    }


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=10_000))
def test_p_values_from_sums_equal_pingouin_on_the_raw_scores(seed):
    rng = np.random.default_rng(seed)
    ours = rng.normal(62, 15, size=int(rng.integers(8, 200)))
    theirs = rng.normal(68, 12, size=int(rng.integers(8, 200)))
    study = rng.normal(65, 18, size=int(rng.integers(8, 400)))  # the published study's sample
    own = pd.DataFrame([summary("trust", ours)])
    leader = pd.DataFrame([summary("trust", theirs, name="B")])
    figure = pd.DataFrame(
        [
            {
                "indicator": "trust",
                "name": "Index",
                "value_100": study.mean(),
                "sd_100": study.std(ddof=1),
                "n": len(study),
            }
        ]
    )
    welch, published = gaps(own, leader, figure, LABELS, min_n=5)
    assert (welch.kind, published.kind) == (RATED, PUBLISHED)
    assert welch.p == pytest.approx(pg.ttest(ours, theirs, correction=True)["p_val"].iloc[0], rel=1e-9)
    assert published.p == pytest.approx(pg.ttest(ours, study, correction=True)["p_val"].iloc[0], rel=1e-9)
    assert (welch.n_theirs, published.n_theirs) == (len(theirs), len(study))
    # Holm over two tests: the smaller p doubled, the larger at least that.
    low, high = sorted([welch.p, published.p])
    corrected = sorted([welch.p_corrected, published.p_corrected])
    assert corrected[0] == pytest.approx(min(1.0, 2 * low))
    assert corrected[1] == pytest.approx(max(min(1.0, 2 * low), high))


@pytest.mark.parametrize(("n", "sd"), [(None, None), (500, None), (None, 12.0), (1, 12.0), (500, 0.0)])
def test_a_published_figure_without_its_own_n_and_sd_is_a_reference_never_a_test(n, sd):
    rng = np.random.default_rng(3)
    ours = rng.normal(50, 10, size=400)  # far below the figure: a one-sample test would say p < 0.001
    own = pd.DataFrame([summary("trust", ours)])
    figure = pd.DataFrame(
        [{"indicator": "trust", "name": "B2B average", "value_100": 61.0, "sd_100": sd, "n": n}]
    )
    [gap] = gaps(own, NO_LEADERS, figure, LABELS, min_n=5)
    assert gap.kind == REFERENCE
    assert (gap.p, gap.p_corrected, gap.tested, gap.significant) == (None, None, False, False)
    assert (
        gap.sentence()
        == "Trust is 11 points below B2B average (not tested: the figure has no n and sd; our n = 400)"
    )


def test_reference_figures_do_not_count_in_the_correction():
    rng = np.random.default_rng(5)
    ours, theirs = rng.normal(60, 10, size=50), rng.normal(66, 10, size=60)
    own = pd.DataFrame([summary("trust", ours)])
    leader = pd.DataFrame([summary("trust", theirs, name="B")])
    figure = pd.DataFrame(
        [{"indicator": "trust", "name": "Index", "value_100": 70.0, "sd_100": None, "n": None}]
    )
    welch, reference = gaps(own, leader, figure, LABELS, min_n=5)
    assert welch.p_corrected == pytest.approx(welch.p)  # one test: nothing to correct
    assert reference.kind == REFERENCE


def test_small_groups_are_not_compared():
    own = pd.DataFrame([{"indicator": "trust", "n": 4, "mean": 60.0, "sd": 10.0}])
    figure = pd.DataFrame(
        [{"indicator": "trust", "name": "Index", "value_100": 70.0, "sd_100": 10.0, "n": 90}]
    )
    assert gaps(own, NO_LEADERS, figure, LABELS, 5) == []


@pytest.mark.parametrize(
    ("ours", "theirs", "p", "n_theirs", "sentence"),
    [
        (62.0, 68.2, 0.0104, 120, "Trust is 6 points below Competitor A (p = 0.01, n = 84 and 120)"),
        (70.4, 69.6, 0.5, 120, "Trust is 1 point above Competitor A (p = 0.50, n = 84 and 120)"),
        (70.2, 70.0, 0.9, 120, "Trust is on a par with Competitor A (p = 0.90, n = 84 and 120)"),
        (50.0, 60.0, 0.0004, 120, "Trust is 10 points below Competitor A (p < 0.001, n = 84 and 120)"),
        (50.0, 60.0, 0.0042, None, "Trust is 10 points below Competitor A (p = 0.004, n = 84)"),
    ],
)
def test_gaps_are_worded_for_a_manager(ours, theirs, p, n_theirs, sentence):
    gap = Gap("trust", "Trust", "Competitor A", RATED, ours, theirs, 84, n_theirs, p, p)
    assert gap.sentence() == sentence
