"""The two forms of the survey and the planned-missingness design of the short one.

A **check-up** asks the whole instrument. A **pulse** fits on one phone screen: a rotating
set of agreement statements, the 0-10 recommendation question, the moment question and an
optional comment. Which statements a pulse asks is fixed by its *slot*, a counter stored
on the invitation, so the same link always shows the same statements and the design can
be checked.

The design (a "one per indicator plus extras" planned-missingness design):

* every pulse asks **one statement of each of the six indicators**, so every indicator is
  scored from every pulse, on the same 0-100 scale as a check-up;
* **two indicators get a second statement** (``PULSE_EXTRAS``): which two rotates with the slot
  (slot ``s`` extends the indicators at positions ``2(s mod 3)`` and ``2(s mod 3) + 1``), so each
  indicator is extended in one pulse of three;
* within an indicator, the pulses that ask one statement take its statements in turn, and
  the pulses that ask two take its **pairs** in turn, so over a full rotation every statement
  is asked equally often and every pair of statements of one indicator is asked together
  in ``1 / (3 · C(k, 2))`` of the pulses (1 in 18 for four statements, 1 in 30 for five):
  enough to estimate each within-indicator covariance, and with it each scale's
  reliability from pulses alone (pairwise covariances, :mod:`survey.reporting.forms`).

Six statements plus two extras is at most eight, the pulse's limit; with fewer than six
indicators the pulse is shorter, never longer.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from survey.instrument.definition import Instrument

PULSE = "pulse"
CHECKUP = "checkup"
FORMS = (PULSE, CHECKUP)
FORM_LABELS = {PULSE: "Pulse", CHECKUP: "Check-up"}
PULSE_MAX_STATEMENTS = 8
PULSE_EXTRAS = 2
# Asked in every pulse besides its statements, in this order after them.
PULSE_ALWAYS = ("NPS", "MOMENT", "COMMENT")


def _extended(position: int, slot: int, count: int) -> bool:
    """Whether the indicator at ``position`` (of ``count``) gets a second statement in ``slot``."""
    groups = max(1, -(-count // PULSE_EXTRAS))  # ceil(count / extras)
    return position // PULSE_EXTRAS == slot % groups


def _turns_before(position: int, slot: int, count: int, extended: bool) -> int:
    """How many earlier slots treated this indicator the same way (one statement, or two)."""
    groups = max(1, -(-count // PULSE_EXTRAS))
    group = position // PULSE_EXTRAS
    full, rest = divmod(slot, groups)
    times_extended = full + (1 if rest > group else 0)
    return times_extended if extended else slot - times_extended


def pulse_statements(instrument: Instrument, slot: int) -> tuple[str, ...]:
    """The agreement statements a pulse in ``slot`` asks, in the instrument's order."""
    if slot < 0:
        raise ValueError(f"a pulse slot is a count, not {slot}")
    chosen: set[str] = set()
    count = len(instrument.indicators)
    for position, indicator in enumerate(instrument.indicators):
        codes = [item.code for item in instrument.indicator_items(indicator.code)]
        extended = _extended(position, slot, count) and len(codes) > 1
        turn = _turns_before(position, slot, count, extended)
        if extended:
            pairs = list(combinations(codes, 2))
            chosen.update(pairs[turn % len(pairs)])
        else:
            chosen.add(codes[turn % len(codes)])
    ordered = tuple(item.code for item in instrument.items if item.code in chosen)
    assert len(ordered) <= PULSE_MAX_STATEMENTS
    return ordered


def asked_codes(instrument: Instrument, form: str, slot: int | None) -> frozenset[str]:
    """Every item code a survey of ``form`` asks (statements and other questions)."""
    if form == CHECKUP:
        return frozenset(item.code for item in instrument.items)
    if form != PULSE or slot is None:
        raise ValueError(f"unknown form {form!r} (or a pulse without a slot)")
    known = {item.code for item in instrument.items}
    return frozenset(pulse_statements(instrument, slot)) | {code for code in PULSE_ALWAYS if code in known}


def pulse_page(instrument: Instrument, slot: int) -> tuple[str, ...]:
    """The pulse's one screen, top to bottom: its statements, then the 0-10 question, the
    moment and the comment."""
    known = {item.code for item in instrument.items}
    return pulse_statements(instrument, slot) + tuple(code for code in PULSE_ALWAYS if code in known)


def design_counts(instrument: Instrument, slots: range) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """How often each statement, and each within-indicator pair, is asked over ``slots``."""
    items: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    indicator_of = {item.code: item.indicator for item in instrument.items if item.indicator}
    for slot in slots:
        asked = pulse_statements(instrument, slot)
        items.update(asked)
        pairs.update((a, b) for a, b in combinations(asked, 2) if indicator_of[a] == indicator_of[b])
    return items, pairs
