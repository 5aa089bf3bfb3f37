"""Cronbach's alpha against R psych::alpha (raw_alpha, pairwise missing data, Feldt interval)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from survey.reporting.reliability import (
    Reliability,
    ReliabilityInputError,
    alpha_from_covariance,
    alpha_from_frame,
    load_item_csv,
    reverse_keyed,
)

ROOT = Path(__file__).resolve().parent.parent


# --- reference figures produced by R -------------------------------------------------------


def test_psych_pairwise_alpha_on_binary_items_with_holes():
    # pingouin's data set, 12 rows x 11 items, 4 missing cells.
    data = pg.read_dataset("cronbach_wide_missing")
    result = alpha_from_frame(data)
    # R: psych::alpha(data, use = "pairwise") -> raw_alpha 0.732661, Feldt 0.435..0.909
    # (figures stated in pingouin's tests/test_reliability.py; psych prints 0.73, 0.43..0.91).
    assert round(result.alpha, 6) == 0.732661
    assert (round(result.ci95[0], 3), round(result.ci95[1], 3)) == (0.435, 0.909)
    # psych passes nrow(x) to alpha.ci: all 12 rows, although only 9 are complete.
    assert result.n == 12


def test_psych_alpha_on_complete_cases():
    data = pg.read_dataset("cronbach_wide_missing")
    result = alpha_from_frame(data.dropna())
    # R: psych::alpha(data[complete.cases(data), ]) -> raw_alpha 0.801695, Feldt 0.533..0.947
    # (pingouin's tests/test_reliability.py; psych prints 0.8).
    assert round(result.alpha, 6) == 0.801695
    assert (round(result.ci95[0], 3), round(result.ci95[1], 3)) == (0.533, 0.947)
    assert result.n == 9


def test_psych_alpha_on_likert_items():
    long = pg.read_dataset("cronbach_alpha")  # 15 subjects x 10 items, no missing answers
    wide = long.pivot(index="Subj", columns="Items", values="Scores")
    result = alpha_from_frame(wide)
    # R psych::alpha on the same data -> 0.592, Feldt 0.195..0.840 (pingouin's tests/test_reliability.py).
    assert round(result.alpha, 3) == 0.592
    assert (round(result.ci95[0], 3), round(result.ci95[1], 3)) == (0.195, 0.840)


def test_feldt_interval_matches_r():
    # Chris Evans' R function (MRC CBU statswiki, FAQ/cafun), the same qf() formula as
    # psych::alpha.ci: feldt1.return(0.913, 873, 20, 0.95, 0) -> 0.9044024 to 0.9211588.
    k, target = 20, 0.913
    c = target / (k - target * (k - 1))  # equal covariances c and variances 1 give alpha = target
    cov = np.full((k, k), c)
    np.fill_diagonal(cov, 1.0)
    names = [f"I{i}" for i in range(k)]
    result = alpha_from_covariance(pd.DataFrame(cov, index=names, columns=names), n=873)
    assert result.alpha == pytest.approx(target, abs=1e-12)
    assert result.ci95[0] == pytest.approx(0.9044024, abs=5e-8)
    assert result.ci95[1] == pytest.approx(0.9211588, abs=5e-8)


def test_psych_help_page_congeneric_example():
    # psych's ?alpha: r4 <- sim.congeneric(); alpha(r4). r4 is the model correlation matrix of
    # loadings .8, .7, .6, .5; the help page carries the result on as alpha2r(alpha = .74, n.var = 4).
    loadings = np.array([0.8, 0.7, 0.6, 0.5])
    r4 = np.outer(loadings, loadings)
    np.fill_diagonal(r4, 1.0)
    names = ["V1", "V2", "V3", "V4"]
    result = alpha_from_covariance(pd.DataFrame(r4, index=names, columns=names), n=100)
    assert round(result.alpha, 2) == 0.74
    assert result.alpha == pytest.approx(4 / 3 * (1 - 4 / 9.02), abs=1e-12)  # sum(r4) = 9.02


# --- properties ----------------------------------------------------------------------------


@st.composite
def answer_frames(draw: st.DrawFn, min_items: int = 2) -> pd.DataFrame:
    """Answers 1..6 on 2..6 items; about one cell in seven is missing."""
    k = draw(st.integers(min_value=min_items, max_value=6))
    n = draw(st.integers(min_value=4, max_value=25))
    cells = draw(st.lists(st.lists(st.integers(0, 6), min_size=k, max_size=k), min_size=n, max_size=n))
    values = np.array(cells, dtype=float)
    values[values == 0] = np.nan
    return pd.DataFrame(values, columns=[f"Q{i + 1}" for i in range(k)])


def alpha_or_reject(frame: pd.DataFrame) -> Reliability:
    try:
        return alpha_from_frame(frame)
    except ReliabilityInputError:
        assume(False)  # e.g. an item whose answers are all the same
        raise


@given(answer_frames())
def test_alpha_equals_pingouin_pairwise(frame):
    result = alpha_or_reject(frame)
    alpha, ci = pg.cronbach_alpha(data=frame, nan_policy="pairwise")
    assert result.alpha == pytest.approx(alpha, rel=1e-9, abs=1e-12)
    assert result.ci95 == pytest.approx(tuple(ci), rel=1e-9, abs=5e-4 + 1e-9)  # pingouin rounds to 3 places
    assert result.n == len(frame)


@given(answer_frames(), st.randoms(use_true_random=False))
def test_alpha_does_not_depend_on_column_order(frame, random):
    result = alpha_or_reject(frame)
    columns = list(frame.columns)
    random.shuffle(columns)
    shuffled = alpha_from_frame(frame[columns])
    assert shuffled.alpha == pytest.approx(result.alpha, rel=1e-9, abs=1e-12)
    assert shuffled.ci95 == pytest.approx(result.ci95, rel=1e-9, abs=1e-12)
    assert shuffled.alpha_if_dropped == pytest.approx(result.alpha_if_dropped, rel=1e-9, abs=1e-12)


@given(answer_frames(min_items=3))
def test_alpha_if_dropped_is_alpha_without_the_item(frame):
    result = alpha_or_reject(frame)
    assert list(result.alpha_if_dropped) == list(frame.columns)
    for item, value in result.alpha_if_dropped.items():
        assert value == pytest.approx(alpha_or_reject(frame.drop(columns=item)).alpha, rel=1e-9, abs=1e-12)


@given(answer_frames())
def test_covariance_and_frame_give_the_same_result(frame):
    result = alpha_or_reject(frame)
    assert alpha_from_covariance(frame.cov(), len(frame)) == result


@given(answer_frames(), st.data())
def test_reversing_like_psych_gives_the_same_alpha(frame, data):
    items = data.draw(st.lists(st.sampled_from(list(frame.columns)), unique=True))
    mirrored = reverse_keyed(frame, items, 1, 6)
    result = alpha_or_reject(mirrored)
    # psych mirrors with the smallest and largest answer seen instead of the scale's ends.
    psych_way = frame.copy()
    psych_way[items] = np.nanmin(frame.to_numpy()) + np.nanmax(frame.to_numpy()) - frame[items]
    assert alpha_from_frame(psych_way).alpha == pytest.approx(result.alpha, rel=1e-9, abs=1e-12)
    pd.testing.assert_frame_equal(reverse_keyed(mirrored, items, 1, 6), frame)


# --- alpha_from_covariance and reverse_keyed -----------------------------------------------


def test_two_items_have_alpha_but_no_drop_values():
    frame = pd.DataFrame({"A": [1.0, 2, 3, 4, 5], "B": [2.0, 2, 4, 5, 4]})
    result = alpha_from_frame(frame)
    cov = frame.cov().to_numpy()
    assert result.alpha == pytest.approx(4 * cov[0, 1] / cov.sum())
    assert result.alpha_if_dropped == {}


def test_as_json_dict_is_plain_json():
    frame = pd.DataFrame({"A": [1, 2, 3, 4], "B": [2, 2, 4, 5], "C": [1, 3, 3, 5]})
    payload = alpha_from_frame(frame).as_json_dict()
    assert set(payload) == {"alpha", "ci95", "n", "alpha_if_dropped"}
    assert json.loads(json.dumps(payload)) == payload
    assert payload["n"] == 4
    assert list(payload["alpha_if_dropped"]) == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"A": [1.0, 2, 3], "B": [4.0, 4, 4]}), "item B has no variance"),
        (pd.DataFrame({"A": [1.0, 2, np.nan, np.nan], "B": [np.nan, np.nan, 3, 4]}), "items A and B"),
        (pd.DataFrame({"A": [1.0, 2, 3]}), "at least two items"),
        (pd.DataFrame({"A": [1.0, 5, 1], "B": [5.0, 1, 5]}), "total score has no variance"),
        (pd.DataFrame({"A": ["1", "2"], "B": [1.0, 2]}), "item A is not numeric"),
    ],
)
def test_alpha_from_frame_rejects_what_has_no_alpha(frame, message):
    with pytest.raises(ReliabilityInputError, match=message):
        alpha_from_frame(frame)


def test_alpha_from_covariance_checks_its_input():
    names = ["A", "B"]
    cov = pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=names, columns=names)
    with pytest.raises(ReliabilityInputError, match="two respondents"):
        alpha_from_covariance(cov, n=1)
    with pytest.raises(ReliabilityInputError, match="square"):
        alpha_from_covariance(cov.iloc[:, :1], n=10)
    with pytest.raises(ReliabilityInputError, match="not symmetric"):
        alpha_from_covariance(pd.DataFrame([[1.0, 0.5], [0.4, 1.0]], index=names, columns=names), n=10)


def test_reverse_keyed_mirrors_a_copy():
    frame = pd.DataFrame({"A": [1.0, 6, np.nan], "B": [2.0, 3, 4]})
    mirrored = reverse_keyed(frame, ["A"], 1, 6)
    assert mirrored["A"].tolist()[:2] == [6.0, 1.0]
    assert math.isnan(mirrored["A"].iloc[2])
    assert frame["A"].tolist()[:2] == [1.0, 6.0]
    with pytest.raises(ReliabilityInputError, match="reverse item C is not among the items"):
        reverse_keyed(frame, ["C"], 1, 6)
    with pytest.raises(ReliabilityInputError, match="reverse item A is listed twice"):
        reverse_keyed(frame, ["A", "A"], 1, 6)


# --- load_item_csv --------------------------------------------------------------------------


def write(tmp_path: Path, text: str, bom: bool = False) -> Path:
    path = tmp_path / "answers.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("bom", [False, True])
def test_load_item_csv_reads_items_with_holes(tmp_path, bom):
    path = write(tmp_path, "id,A1,A2,Note\n1,1,2,x\n2,,3,\n\n3,4, 5 ,Grüße\n", bom=bom)
    frame = load_item_csv(path, ["A2", "A1"], 1, 5)
    assert list(frame.columns) == ["A2", "A1"]
    assert frame["A2"].tolist() == [2.0, 3.0, 5.0]
    assert frame["A1"].tolist()[0] == 1.0
    assert math.isnan(frame["A1"].iloc[1])


@pytest.mark.parametrize(
    ("text", "items", "low", "high", "message"),
    [
        ("A1,A2\n1,2\n3,4\n", ["A1", "A3"], 1, 6, "column A3 is missing from the header"),
        ("A1;A2\n1;2\n3;4\n", ["A1", "A2"], 1, 6, "seems to use ';'"),
        ("A1,A2\n1,2\n3,4\n", ["A1"], 1, 6, "at least two items"),
        ("A1,A2\n1,2\n3,4\n", ["A1", "A1"], 1, 6, "item A1 is listed twice"),
        ("A1,A2\n1,2\n\n3,x\n", ["A1", "A2"], 1, 6, "row 4, column A2: 'x' is not a number"),
        ("A1,A2\n1,2\n3,nan\n", ["A1", "A2"], 1, 6, "row 3, column A2: 'nan' is not a number"),
        ("A1,A2\n1,2\n7,4\n", ["A1", "A2"], 1, 6, "row 3, column A1: 7 is outside 1..6"),
        ("A1,A2\n1,2\n,\n", ["A1", "A2"], 1, 6, "at least two rows with answers"),
        ("A1,A2\n1,2\n3,4\n", ["A1", "A2"], 6, 1, r"minimum \(6\) must be below its maximum \(1\)"),
        ("", ["A1", "A2"], 1, 6, "is empty"),
        ("A1,A2,A1\n1,2,3\n3,4,5\n", ["A1", "A2"], 1, 6, "column A1 appears more than once"),
    ],
)
def test_load_item_csv_names_what_is_wrong(tmp_path, text, items, low, high, message):
    with pytest.raises(ReliabilityInputError, match=message):
        load_item_csv(write(tmp_path, text), items, low, high)


def test_load_item_csv_missing_file(tmp_path):
    with pytest.raises(ReliabilityInputError, match="no such file"):
        load_item_csv(tmp_path / "nope.csv", ["A1", "A2"], 1, 6)


# --- the command line -----------------------------------------------------------------------

ANSWERS = "respondent,A1,A2,A3,A4\n1,1,2,2,5\n2,3,3,4,3\n3,5,6,5,2\n4,2,,3,4\n5,6,5,6,1\n6,4,4,,3\n"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A database URL in a folder that does not exist: the command must not need one.
    env = os.environ | {"DATABASE_URL": f"sqlite:///{tmp_path / 'no-db' / 'pulse.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "survey", "reliability", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not (tmp_path / "no-db").exists()
    return result


def test_cli_prints_one_json_object_with_reversed_items(tmp_path):
    path = write(tmp_path, ANSWERS, bom=True)
    result = run(tmp_path, "--csv", str(path), "--items", "A1,A2,A3,A4", "--reverse", "A4",
                 "--min", "1", "--max", "6")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    payload = json.loads(result.stdout)
    frame = load_item_csv(path, ["A1", "A2", "A3", "A4"], 1, 6)
    expected = alpha_from_frame(reverse_keyed(frame, ["A4"], 1, 6)).as_json_dict()
    assert payload == expected  # full float precision survives the round trip
    assert payload["n"] == 6
    assert len(payload["ci95"]) == 2
    assert set(payload["alpha_if_dropped"]) == {"A1", "A2", "A3", "A4"}
    assert payload["alpha"] > 0.9  # A4 runs against the others until reversed


def test_cli_help_describes_the_command(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    assert "Usage: python -m survey reliability" in result.stdout
    assert "psych::alpha" in result.stdout
    for option in ("--csv", "--items", "--reverse", "--min", "--max"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (ANSWERS, ["--items", "A1,A5"], "column A5 is missing from the header"),
        (
            ANSWERS.replace("4,2,,3,4", "4,2,x,3,4"),
            ["--items", "A1,A2,A3"],
            "row 5, column A2: 'x' is not a number",
        ),
        (
            ANSWERS.replace("5,6,5,6,1", "5,6,5,9,1"),
            ["--items", "A1,A2,A3"],
            "row 6, column A3: 9 is outside 1..6",
        ),
        (ANSWERS, ["--items", "A1,A2", "--reverse", "A4"], "reverse item A4 is not among the items"),
    ],
)
def test_cli_bad_input_fails_with_the_message(tmp_path, text, args, message):
    path = write(tmp_path, text)
    result = run(tmp_path, "--csv", str(path), *args, "--min", "1", "--max", "6")
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_missing_file_fails_cleanly(tmp_path):
    result = run(
        tmp_path, "--csv", str(tmp_path / "nope.csv"), "--items", "A1,A2", "--min", "1", "--max", "6"
    )
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_total_variance_that_cancels_to_rounding_noise_is_named_not_turned_into_a_huge_alpha():
    # Pairwise covariances of these answers cancel without Q5 to about 1e-16: the alpha if Q5 is
    # dropped was -1e16 in one column order and -6e15 in another.
    frame = pd.DataFrame(
        {
            "Q1": [6, 4, 4, 6],
            "Q2": [6, 5, 6, None],
            "Q3": [2, 3, None, 2],
            "Q4": [3, 4, 2, 3],
            "Q5": [3, 6, 4, 3],
            "Q6": [4, 6, None, 4],
        },
        dtype=float,
    )
    for columns in (list(frame.columns), list(reversed(frame.columns))):
        with pytest.raises(ReliabilityInputError, match="without item Q5 the total score has no variance"):
            alpha_from_frame(frame[columns])


@pytest.mark.parametrize("seed", range(4))
def test_alphas_interval_is_feldts_at_the_effective_n_when_accounts_answer_alike(seed):
    """Twelve accounts whose contacts answer much alike: the interval is Feldt's (scipy's F)
    at n over the design effect of the scale score, the design effect from statsmodels'
    OLS clustered by account; the alpha itself is pingouin's."""
    import statsmodels.api as sm
    from scipy import stats

    from survey.instrument.forms import CHECKUP
    from survey.reporting.forms import form_alpha

    rng = np.random.default_rng(seed)
    accounts = np.repeat(np.arange(12), rng.integers(8, 20, size=12))
    level = rng.normal(4, 1.0, size=12)[accounts] + rng.normal(0, 0.7, size=len(accounts))
    items = pd.DataFrame(
        {f"I{k}": np.clip(np.round(level + rng.normal(0, 0.8, size=len(accounts))), 1, 7) for k in range(4)}
    )
    result, n, n_eff = form_alpha(items, CHECKUP, pd.Series(accounts, index=items.index))
    alpha, _ = pg.cronbach_alpha(items)
    score = items.mean(axis=1).to_numpy()
    fit = sm.OLS(score, np.ones(len(score))).fit(
        cov_type="cluster", cov_kwds={"groups": accounts}, use_t=True
    )
    expected_n = min(len(score), score.var(ddof=1) / fit.bse[0] ** 2)
    df1, df2 = expected_n - 1, (expected_n - 1) * 3
    low, high = 1 - (1 - alpha) * stats.f.ppf(0.975, df1, df2), 1 - (1 - alpha) * stats.f.ppf(0.025, df1, df2)
    assert n == len(items)
    assert result.alpha == pytest.approx(alpha)
    assert n_eff == pytest.approx(expected_n)
    assert n_eff < n / 2  # answers alike within an account carry far less than their count
    assert result.ci95 == pytest.approx((low, high))
    # Without the accounts, the plain Feldt interval at n, narrower.
    plain, _, _ = form_alpha(items, CHECKUP)
    assert plain.ci95[1] - plain.ci95[0] < high - low
