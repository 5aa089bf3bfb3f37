from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.instrument.definition import load_instrument
from survey.instrument.scoring import (
    mean_if_enough,
    nps_category,
    reverse_key,
    score_indicators,
    score_leader,
    to_100,
)

TWO_THIRDS = Fraction(2, 3)
answer = st.one_of(st.none(), st.integers(min_value=1, max_value=7))


def test_reverse_key_mirrors_the_scale():
    assert [reverse_key(v, 1, 7) for v in range(1, 8)] == [7, 6, 5, 4, 3, 2, 1]


@given(st.integers(min_value=1, max_value=7))
def test_reverse_keying_twice_gives_the_answer_back(value):
    assert reverse_key(reverse_key(value, 1, 7), 1, 7) == value


def test_to_100_maps_scale_ends_and_midpoint():
    assert to_100(1, 1, 7) == 0
    assert to_100(7, 1, 7) == 100
    assert to_100(4, 1, 7) == 50
    assert to_100(5.5, 1, 7) == pytest.approx(75)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 6, None], 5.5),  # 2 of 3 answered is exactly two thirds: scored
        ([5, None, None], None),  # 1 of 3: missing
        ([4, 4, 4, None, None], None),  # 3 of 5 is below two thirds
        ([4, 5, 6, 7, None], 5.5),  # 4 of 5
        ([None, None, None], None),
        ([], None),
    ],
)
def test_mean_needs_two_thirds_of_items(values, expected):
    assert mean_if_enough(values, TWO_THIRDS) == expected


@given(st.lists(answer, min_size=3, max_size=5))
def test_mean_is_within_the_scale_or_missing(values):
    score = mean_if_enough(values, TWO_THIRDS)
    answered = [v for v in values if v is not None]
    if 3 * len(answered) >= 2 * len(values):
        assert score == pytest.approx(sum(answered) / len(answered))
        assert 1 <= score <= 7
        assert 0 <= to_100(score, 1, 7) <= 100
    else:
        assert score is None


@pytest.mark.parametrize(
    ("nps", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_nps_categories(nps, category):
    assert nps_category(nps) == category


def test_nps_category_of_no_answer_is_none():
    assert nps_category(None) is None


def test_indicator_scores_match_a_hand_calculation():
    instrument = load_instrument(1)
    # Satisfaction: SAT4 is reverse keyed, so 2 counts as 6: (6 + 5 + 7 + 6) / 4 = 6.0
    # Trust: TRU2 reverse keyed (3 -> 5); TRU5 skipped: (7 + 5 + 6 + 4) / 4 = 5.5
    # Mind-set: only MIN1 answered (1 of 3): no score
    answers = {
        "SAT1": 6,
        "SAT2": 5,
        "SAT3": 7,
        "SAT4": 2,
        "TRU1": 7,
        "TRU2": 3,
        "TRU3": 6,
        "TRU4": 4,
        "MIN1": 7,
    }
    scores = {r.indicator: r for r in score_indicators(instrument, answers)}
    assert set(scores) == {"satisfaction", "trust"}
    assert scores["satisfaction"].score == 6.0
    assert scores["satisfaction"].score_100 == pytest.approx(250 / 3)
    assert scores["satisfaction"].items_answered == 4
    assert scores["trust"].score == 5.5
    assert scores["trust"].score_100 == 75.0
    assert scores["trust"].items_answered == 4


@given(st.fixed_dictionaries({code: answer for code in ("WOM1", "WOM2", "WOM3", "WOM4")}))
def test_word_of_mouth_score_follows_the_rule_for_any_answers(answers):
    instrument = load_instrument(1)
    keyed = [answers["WOM1"], answers["WOM2"], None if answers["WOM3"] is None else 8 - answers["WOM3"]]
    keyed.append(answers["WOM4"])
    answered = [v for v in keyed if v is not None]
    results = {r.indicator: r for r in score_indicators(instrument, answers)}
    if len(answered) >= 3:  # two thirds of four items, rounded up
        assert results["word_of_mouth"].score == pytest.approx(sum(answered) / len(answered))
    else:
        assert "word_of_mouth" not in results


def test_leader_ratings_score_one_item_per_indicator():
    instrument = load_instrument(1)
    results = score_leader(instrument, {"CL_TRU": 7, "CL_SAT": 1})
    assert {(r.indicator, r.score, r.score_100) for r in results} == {
        ("trust", 7.0, 100.0),
        ("satisfaction", 1.0, 0.0),
    }
    assert all(r.subject == "leader" for r in results)
