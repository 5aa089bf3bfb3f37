"""Scoring: reverse keying, indicator means, the 0-100 conversion and NPS categories.

Pure functions of the instrument and the answers; the submit transaction calls them once
and stores what they return.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from survey.instrument.definition import Instrument


@dataclass(frozen=True)
class IndicatorResult:
    indicator: str
    subject: str  # "own" or "leader"
    score: float  # on the item scale, 1..7
    score_100: float
    items_answered: int


def reverse_key(value: int, low: int, high: int) -> int:
    """Mirror a reverse-keyed answer so that high always means a stronger relationship."""
    return low + high - value


def to_100(score: float, low: int, high: int) -> float:
    """Map a mean on ``low..high`` onto 0..100 (1-7: ``100*(mean-1)/6``)."""
    return 100.0 * (score - low) / (high - low)


def mean_if_enough(values: Sequence[int | None], min_share: Fraction) -> float | None:
    """Mean of the answered values, or ``None`` when fewer than ``min_share`` are answered."""
    answered = [v for v in values if v is not None]
    # Compare as fractions: 2 of 3 answered must pass a 2/3 rule exactly.
    if not values or Fraction(len(answered), len(values)) < min_share:
        return None
    return sum(answered) / len(answered)


def nps_category(nps: int | None) -> str | None:
    """Promoter 9-10, passive 7-8, detractor 0-6."""
    if nps is None:
        return None
    if nps >= 9:
        return "promoter"
    if nps >= 7:
        return "passive"
    return "detractor"


def score_indicators(
    instrument: Instrument, answers: Mapping[str, int], asked: Collection[str] | None = None
) -> list[IndicatorResult]:
    """The respondent's scores for us on every indicator that has enough answers.

    ``asked`` limits each indicator to the statements the form asked (a pulse asks one or two
    of them): the share rule then counts the answered among the asked, so a pulse's indicator
    score is the mean of its asked statements, on the same scale as a check-up's."""
    scale = instrument.agree_scale
    results = []
    for indicator in instrument.indicators:
        items = [
            item for item in instrument.indicator_items(indicator.code) if asked is None or item.code in asked
        ]
        keyed = [
            None
            if answers.get(item.code) is None
            else reverse_key(answers[item.code], scale.min, scale.max)
            if item.reverse
            else answers[item.code]
            for item in items
        ]
        score = mean_if_enough(keyed, instrument.min_share)
        if score is not None:
            answered = sum(v is not None for v in keyed)
            results.append(
                IndicatorResult(
                    indicator.code,
                    "own",
                    score,
                    to_100(score, scale.min, scale.max),
                    answered,
                )
            )
    return results


def score_leader(instrument: Instrument, answers: Mapping[str, int]) -> list[IndicatorResult]:
    """The respondent's ratings of the category leader: one item per indicator."""
    scale = instrument.agree_scale
    results = []
    for indicator in instrument.indicators:
        value = answers.get(instrument.leader_item(indicator.code).code)
        if value is not None:
            results.append(
                IndicatorResult(
                    indicator.code,
                    "leader",
                    float(value),
                    to_100(value, scale.min, scale.max),
                    1,
                )
            )
    return results
