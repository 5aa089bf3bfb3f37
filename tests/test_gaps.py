"""Gap tests from sums must equal pingouin's tests on the raw scores (paired for a leader rated by
the same respondents, Welch for a published study), and a published figure without its own n
and sd is never tested."""

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from survey.exports.columns import score_columns
from survey.instrument.definition import LEADER_COUNTERPARTS, available_versions, load_instrument
from survey.reporting import moments
from survey.reporting.aggregates import PAIR_SUMS
from survey.reporting.cells import Cells
from survey.reporting.gaps import PUBLISHED, RATED, REFERENCE, Gap, gaps

LABELS = {"trust": "Trust", "satisfaction": "Satisfaction"}
NO_LEADERS = pd.DataFrame(columns=["indicator", "name", "n", "sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb"])


def pair_sums(indicator: str, ours: np.ndarray, theirs: np.ndarray, name: str = "B") -> dict:
    """The sums the pair aggregate keeps, of ratings on 1-7 (``ours`` and ``theirs`` by the
    same respondents, in the same order)."""
    return {
        "indicator": indicator,
        "name": name,
        "n": len(ours),
        "sum_a": ours.sum(),
        "sum_b": theirs.sum(),
        "sum_ab": (ours * theirs).sum(),
        "sum_aa": (ours**2).sum(),
        "sum_bb": (theirs**2).sum(),
    }


def to_100(scores: np.ndarray) -> np.ndarray:
    return (scores - 1) * 100 / 6


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
    respondents = int(rng.integers(8, 200))
    # Each respondent rates us and the leader on 1-7; the two ratings go together.
    ours = rng.integers(1, 8, size=respondents).astype(float)
    theirs = np.clip(ours + rng.integers(-2, 3, size=respondents), 1, 7)
    scale = rng.normal(62, 15, size=int(rng.integers(8, 200)))  # our scale scores, 0-100
    study = rng.normal(65, 18, size=int(rng.integers(8, 400)))  # the published study's sample
    own = pd.DataFrame([summary("trust", scale)])
    paired = pd.DataFrame([pair_sums("trust", ours, theirs)])
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
    found = gaps(own, paired, figure, LABELS, min_n=5)
    if np.ptp(ours - theirs) == 0:  # every difference the same: no spread to test against
        assert [gap.kind for gap in found] == [PUBLISHED]
        return
    rated, published = found
    assert (rated.kind, published.kind) == (RATED, PUBLISHED)
    expected = pg.ttest(to_100(ours), to_100(theirs), paired=True)
    assert rated.p == pytest.approx(expected["p_val"].iloc[0], rel=1e-9)
    # pingouin rounds its interval to two decimals; scipy's is exact.
    assert [rated.low, rated.high] == pytest.approx(list(expected["CI95"].iloc[0]), abs=0.0051)
    exact = stats.ttest_rel(to_100(ours), to_100(theirs)).confidence_interval()
    assert [rated.low, rated.high] == pytest.approx([exact.low, exact.high], rel=1e-9)
    assert abs(rated.effect) == pytest.approx(expected["cohen_d"].iloc[0], rel=1e-9)
    assert np.sign(rated.effect) == np.sign(rated.difference)
    assert rated.difference == pytest.approx(to_100(ours).mean() - to_100(theirs).mean())
    assert rated.n == rated.n_theirs == respondents
    welch = pg.ttest(scale, study, correction=True)
    assert published.p == pytest.approx(welch["p_val"].iloc[0], rel=1e-9)
    assert [published.low, published.high] == pytest.approx(list(welch["CI95"].iloc[0]), abs=0.0051)
    assert published.n_theirs == len(study)
    # Holm over two tests: the smaller p doubled, the larger at least that.
    low, high = sorted([rated.p, published.p])
    corrected = sorted([rated.p_corrected, published.p_corrected])
    assert corrected[0] == pytest.approx(min(1.0, 2 * low))
    assert corrected[1] == pytest.approx(max(min(1.0, 2 * low), high))


def test_a_leader_rated_by_the_same_people_is_compared_as_pairs_not_as_two_samples():
    """Strongly correlated ratings: a small, consistent difference is clear as pairs, and
    lost in the spread between respondents when treated as two independent samples."""
    rng = np.random.default_rng(11)
    ours = rng.integers(2, 7, size=40).astype(float)
    theirs = ours + rng.choice([0.0, 1.0], size=40, p=[0.6, 0.4])
    [rated] = gaps(
        pd.DataFrame([summary("trust", to_100(ours))]),
        pd.DataFrame([pair_sums("trust", ours, theirs)]),
        pd.DataFrame(columns=["indicator", "name", "value_100", "sd_100", "n"]),
        LABELS,
        min_n=5,
        statements={"trust": "TRU3"},
    )
    assert rated.p == pytest.approx(stats.ttest_rel(ours, theirs).pvalue, rel=1e-9)
    assert rated.p < 0.001 < stats.ttest_ind(ours, theirs, equal_var=False).pvalue
    assert rated.sentence().startswith(
        "Trust is 5 points below B on TRU3 (paired, p < 0.001, 95% CI -7.0 to -2.2, "
    )
    assert rated.sentence().endswith(", n = 40 rating both)")


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
    ours = rng.integers(1, 8, size=50).astype(float)
    theirs = np.clip(ours + rng.integers(-1, 3, size=50), 1, 7)
    own = pd.DataFrame([summary("trust", to_100(ours))])
    leader = pd.DataFrame([pair_sums("trust", ours, theirs)])
    figure = pd.DataFrame(
        [{"indicator": "trust", "name": "Index", "value_100": 70.0, "sd_100": None, "n": None}]
    )
    rated, reference = gaps(own, leader, figure, LABELS, min_n=5)
    assert rated.p_corrected == pytest.approx(rated.p)  # one test: nothing to correct
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
        (
            62.0,
            68.2,
            0.0104,
            120,
            "Trust is 6 points below Index (p = 0.01, 95% CI -9.0 to -3.0, n = 84 and 120)",
        ),
        (
            70.4,
            69.6,
            0.5,
            120,
            "Trust is 1 point above Index (p = 0.50, 95% CI -9.0 to -3.0, n = 84 and 120)",
        ),
        (
            70.2,
            70.0,
            0.9,
            120,
            "Trust is on a par with Index (p = 0.90, 95% CI -9.0 to -3.0, n = 84 and 120)",
        ),
        (
            50.0,
            60.0,
            0.0004,
            120,
            "Trust is 10 points below Index (p < 0.001, 95% CI -9.0 to -3.0, n = 84 and 120)",
        ),
    ],
)
def test_gaps_are_worded_for_a_manager(ours, theirs, p, n_theirs, sentence):
    gap = Gap("trust", "Trust", "Index", PUBLISHED, ours, theirs, 84, n_theirs, p, p, -9.0, -3.0)
    assert gap.sentence() == sentence


def test_a_paired_gap_names_the_statement_and_the_people_who_rated_both():
    gap = Gap(
        "trust", "Trust", "Competitor A", RATED, 50.0, 60.0, 84, 84, 0.0042, 0.0042, -15.2, -4.8, -0.4, "TRU3"
    )
    assert gap.sentence() == (
        "Trust is 10 points below Competitor A on TRU3 "
        "(paired, p = 0.004, 95% CI -15.2 to -4.8, n = 84 rating both)"
    )


@pytest.mark.parametrize("version", available_versions())
def test_every_leader_rating_has_our_matching_statement_to_pair_with(version):
    instrument = load_instrument(version)
    for indicator in instrument.indicators:
        ours = instrument.leader_counterpart(indicator.code)
        assert ours is not None, indicator.code
        assert (ours.indicator, ours.kind, ours.reverse) == (indicator.code, "agree", False)
        assert ours.code == LEADER_COUNTERPARTS[indicator.code]


def test_the_codebook_says_a_leader_score_is_one_statement_to_compare_as_pairs():
    labels = {column.name: column.label for column in score_columns(load_instrument())}
    assert labels["leader_trust_100"] == (
        "Trust of the category leader, one statement (CL_TRU; compare as pairs with TRU3) (0-100)"
    )
    assert labels["trust_100"] == "Trust of us (0-100)"


@pytest.mark.parametrize("seed", range(6))
def test_paired_ratings_from_several_accounts_are_tested_with_standard_errors_clustered_by_account(seed):
    """Respondents in one account rate alike: the mean difference's test and interval equal
    statsmodels' OLS of the differences on a constant, clustered by account, and the sentence
    gives the effective n."""
    rng = np.random.default_rng(seed)
    accounts = int(rng.integers(4, 12))
    account = np.repeat(np.arange(accounts), rng.integers(3, 15, size=accounts))
    ours = np.clip(np.round(4 + rng.normal(0, 1, accounts)[account] + rng.normal(0, 0.8, len(account))), 1, 7)
    shift = rng.normal(-0.5, 1, accounts)[account]  # each account sees the leader its own way
    theirs = np.clip(np.round(ours - shift + rng.normal(0, 0.5, len(account))), 1, 7)
    rows = pd.DataFrame(
        [
            pair_sums("trust", ours[account == index], theirs[account == index]) | {"account_id": index}
            for index in range(accounts)
        ]
    )
    clustered = moments.of_cells(
        Cells.from_frame(rows, PAIR_SUMS), ["indicator", "name"], "account_id", moments.PAIRED
    )
    [rated] = gaps(
        pd.DataFrame(columns=["indicator", "n", "mean", "sd"]),
        pd.DataFrame(clustered.keys | clustered.sums),
        pd.DataFrame(columns=["indicator", "name", "value_100", "sd_100", "n"]),
        LABELS,
        min_n=5,
    )
    difference = to_100(ours) - to_100(theirs)
    fit = sm.OLS(difference, np.ones(len(difference))).fit(
        cov_type="cluster", cov_kwds={"groups": account}, use_t=True
    )
    assert rated.difference == pytest.approx(fit.params[0])
    assert rated.p == pytest.approx(fit.pvalues[0], rel=1e-9)
    assert [rated.low, rated.high] == pytest.approx(list(fit.conf_int()[0]))
    assert rated.n_eff == pytest.approx(min(len(difference), difference.var(ddof=1) / fit.bse[0] ** 2))
    if round(rated.n_eff) < rated.n:
        assert rated.sentence().endswith(f"n = {rated.n} rating both, effective n {rated.n_eff:.0f})")


def test_a_published_figure_is_tested_against_our_effective_n():
    rng = np.random.default_rng(8)
    scores = rng.normal(60, 15, size=200)
    own = pd.DataFrame([summary("trust", scores, n_eff=40.0)])
    figure = pd.DataFrame(
        [{"indicator": "trust", "name": "Index", "value_100": 64.0, "sd_100": 18.0, "n": 500}]
    )
    [gap] = gaps(own, NO_LEADERS, figure, LABELS, min_n=5)
    expected = stats.ttest_ind_from_stats(
        scores.mean(), scores.std(ddof=1), 40, 64.0, 18.0, 500, equal_var=False
    )
    assert gap.p == pytest.approx(expected.pvalue, rel=1e-9)
    assert gap.sentence().endswith("n = 200 and 500, effective n 40 of ours)")
