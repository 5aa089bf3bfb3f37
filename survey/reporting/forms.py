"""Which survey forms a figure rests on, and each scale's reliability per form.

A check-up answers every statement, so its alpha is the usual one, from the check-ups that
answered all of the scale's statements (complete cases, as pingouin ``cronbach_alpha`` after
dropping incomplete rows). A pulse answers one or
two statements per indicator in a planned-missingness rotation (survey/instrument/forms.py):
no pulse has all of a scale's items, but every pair of them is answered together in some
pulses, so the pairwise-complete covariance matrix — what R ``psych::alpha()`` uses by
default — is estimable from pulses alone, and with it the alpha of the full scale
(:func:`survey.reporting.reliability.alpha_from_frame`, checked against psych).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from models.tables import Account, Contact, Response
from survey.exports import packs
from survey.instrument.definition import Instrument
from survey.instrument.forms import CHECKUP, FORM_LABELS, FORMS, PULSE
from survey.reporting import cache
from survey.reporting.filters import Filters, month_of, role_of, where
from survey.reporting.intervals import design_effect
from survey.reporting.reliability import (
    Reliability,
    ReliabilityInputError,
    alpha_from_covariance,
    alpha_from_frame,
    feldt_ci95,
)

CLUSTER = "account_id"  # the clusters of alpha's interval: answers from one account are alike
ALPHA_COLUMNS = [
    "indicator",
    "checkup_alpha",
    "checkup_low",
    "checkup_high",
    "checkup_n",
    "pulse_alpha",
    "pulse_low",
    "pulse_high",
    "pulse_n",
    "pulse_fewest_pair_n",
    "difference",
]


def _filtered(session: Session, statement: Any, filters: Filters | None) -> Any:
    """``statement`` over Response narrowed by the dashboard's own filter definition, on the
    responses' own columns."""
    if filters is None:
        return statement
    columns = {
        "month": month_of(col(Response.submitted_at), session.get_bind().dialect.name),
        "version": Response.instrument_version,
        "account_id": Response.account_id,
        "segment": Account.segment,
        "touchpoint_id": Response.touchpoint_id,
        "role": role_of(),
    }
    return (
        statement.join(Account, col(Account.id) == Response.account_id)
        .outerjoin(Contact, col(Contact.id) == Response.contact_id)
        .where(*where(filters, columns.__getitem__))
    )


def responses_by_form(session: Session, filters: Filters | None = None) -> dict[str, int]:
    """How many responses each form contributed under the dashboard's ``filters`` (every form
    named, zero when none)."""
    # Through the kept reads: after the first, a new response adds only itself.
    cells = cache.read(session, "responses", ["month", "form"], filters or Filters()).group(["form"])
    counts = dict(zip(cells.keys["form"].tolist(), cells.n.tolist(), strict=True))
    return {form: int(counts.get(form, 0)) for form in FORMS}


def rests_on(counts: dict[str, int]) -> str:
    """A manager-readable line: "6,412 responses: 5,108 pulses and 1,304 check-ups"."""
    total = sum(counts.values())
    parts = [f"{counts.get(PULSE, 0):,} pulses", f"{counts.get(CHECKUP, 0):,} check-ups"]
    return f"{total:,} responses: {' and '.join(parts)}"


def _answers(
    session: Session, instrument: Instrument, form: str, filters: Filters | None = None
) -> pd.DataFrame:
    """Reverse-keyed answers to the indicator statements, one row per response of ``form``
    that answered one of them at least (under the dashboard's ``filters``, when given), by
    response id, with the response's account (``CLUSTER``)."""
    codes = [item.code for item in instrument.items if item.indicator]
    # One packed record per response (``survey.exports.packs``), not some twenty answer rows:
    # at a million responses, seconds instead of minutes.
    statement = select(Response.id, Response.account_id, Response.export_pack)
    rows = (
        session.connection()
        .execute(
            _filtered(session, statement, filters)
            .where(Response.form == form, Response.instrument_version == instrument.version)
            .order_by(col(Response.id))
        )
        .all()
    )
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    values = packs.read(session, ids, [row[2] for row in rows]).answer_values(codes)
    answered = ~np.isnan(values).all(axis=1)
    wide = pd.DataFrame(values[answered], index=pd.Index(ids[answered], name="response_id"), columns=codes)
    wide[CLUSTER] = np.array([row[1] for row in rows], dtype=np.int64)[answered]
    scale = instrument.agree_scale
    for item in instrument.items:
        if item.indicator and item.reverse:
            wide[item.code] = scale.min + scale.max - wide[item.code]
    return wide


def form_alpha(
    data: pd.DataFrame, form: str, accounts: pd.Series | None = None
) -> tuple[Reliability, int, float]:
    """The alpha of one scale's reverse-keyed answers (one column per statement) from one
    form, with the number of responses it rests on and the effective n of its interval:
    check-ups from complete cases (as pingouin ``cronbach_alpha`` after dropping incomplete
    rows), pulses from pairwise covariances, their interval counting the fewest pulses behind
    one covariance (psych's row count would make it far too narrow under planned missingness).

    With ``accounts`` (each response's account, by the index of ``data``), the interval is
    Feldt's at the effective n: that count over the design effect of the scale score (each
    response's mean of the statements it answered) clustered by account (``design_effect``;
    Kish), since answers from one account are alike. Raises ``ReliabilityInputError`` when
    there is too little to estimate it."""
    if form == CHECKUP:
        used = data.dropna(how="any")
        result, n = alpha_from_frame(used), len(used)
        basis = float(n)
    else:
        used = data.dropna(how="all")
        present = used.notna()
        fewest = min(int((present[a] & present[b]).sum()) for a, b in combinations(data.columns, 2))
        result, n, basis = alpha_from_covariance(used.cov(), fewest), len(used), float(fewest)
    if accounts is None:
        return result, n, basis
    score = used.mean(axis=1)
    sums = (
        pd.DataFrame({CLUSTER: accounts.reindex(used.index), "score": score, "square": score**2})
        .groupby(CLUSTER)
        .agg(n=("score", "size"), total=("score", "sum"), total_sq=("square", "sum"))
    )
    design = design_effect(sums["n"], sums["total"], sums["total_sq"])
    if design == 1.0:
        return result, n, basis
    n_eff = max(basis / design, 2.0)
    return replace(result, ci95=feldt_ci95(result.alpha, n_eff, len(data.columns))), n, n_eff


def alpha_by_form(session: Session, instrument: Instrument, filters: Filters | None = None) -> pd.DataFrame:
    """Per indicator: alpha from check-ups (complete cases) and from pulses alone (pairwise
    covariances), each with its Feldt 95% interval and n, and their difference, under the
    dashboard's ``filters`` when given. ``pulse_fewest_pair_n`` is the fewest pulses that
    answered one pair of the scale's statements together."""
    frames = {form: _answers(session, instrument, form, filters) for form in FORMS}
    rows = []
    for indicator in instrument.indicators:
        codes = [item.code for item in instrument.indicator_items(indicator.code)]
        row: dict[str, object] = {"indicator": indicator.code}
        for form, prefix in ((CHECKUP, "checkup"), (PULSE, "pulse")):
            data = frames[form][codes].dropna(how="all")
            answered = data.notna()
            fewest = min(int((answered[a] & answered[b]).sum()) for a, b in combinations(codes, 2))
            try:
                result, _, _ = form_alpha(data, form, frames[form][CLUSTER])
            except ReliabilityInputError:
                row |= {f"{prefix}_alpha": np.nan, f"{prefix}_low": np.nan, f"{prefix}_high": np.nan}
                row[f"{prefix}_n"] = len(data)
                continue
            row |= {
                f"{prefix}_alpha": result.alpha,
                f"{prefix}_low": result.ci95[0],
                f"{prefix}_high": result.ci95[1],
                f"{prefix}_n": result.n,
            }
            if form == PULSE:
                row["pulse_n"] = len(data)
                row["pulse_fewest_pair_n"] = fewest
        row["difference"] = float(row["pulse_alpha"]) - float(row["checkup_alpha"])  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows, columns=ALPHA_COLUMNS)


RELIABILITY_COLUMNS = [
    "indicator",
    "form",
    "alpha",
    "low",
    "high",
    "n",
    "n_eff",
    "items",
    "basis",
    "drop_to_raise",
    "alpha_without",
    "reading",
]
# Reliability reads the selection's answers (the aggregates hold no per-form item pairs), about
# 15 µs a response from their packed records: the Dashboard estimates it at once up to this many
# responses (under a second), and on request above.
READ_AT_ONCE = 50_000
ADEQUATE = 0.70  # the usual floor for a scale used to compare groups (Nunnally 1978)
BASIS = {
    CHECKUP: "check-ups that answered every statement of the scale",
    PULSE: "pulses, from pairwise covariances of the statements asked together",
}


def reliability_by_form(
    session: Session, filters: Filters, instrument: Instrument, min_n: int
) -> pd.DataFrame:
    """The dashboard's reliability: per indicator, one row for the check-ups and one for the
    pulses (``form_alpha``), each with the n it rests on, its Feldt 95% interval and the
    statement whose dropping would raise it. A form with fewer than ``min_n`` (at least 3)
    responses behind it, or too little variation, has no row."""
    rows = []
    for form in (CHECKUP, PULSE):
        answers = _answers(session, instrument, form, filters)
        if len(answers) < max(min_n, 3):
            continue
        for indicator in instrument.indicators:
            codes = [item.code for item in instrument.indicator_items(indicator.code)]
            try:
                result, n, n_eff = form_alpha(answers[codes], form, answers[CLUSTER])
            except ReliabilityInputError:
                continue  # too few answers, or an item everyone answered alike
            if result.n < max(min_n, 3):
                continue
            best_item, best_alpha = max(
                result.alpha_if_dropped.items(), key=lambda pair: pair[1], default=(None, None)
            )
            # Dropping a statement is suggested only when alpha without it lies above the upper
            # end of alpha's own interval: a smaller rise is within noise, and deleting items on
            # noise shortens the scale for nothing.
            raises = best_alpha is not None and best_alpha > result.ci95[1]
            rows.append(
                {
                    "indicator": indicator.code,
                    "form": form,
                    "alpha": result.alpha,
                    "low": result.ci95[0],
                    "high": result.ci95[1],
                    "n": n,
                    "n_eff": n_eff,
                    "items": len(codes),
                    "basis": BASIS[form],
                    "drop_to_raise": best_item if raises else None,
                    "alpha_without": best_alpha if raises else None,
                    "reading": alpha_reading(result.ci95),
                }
            )
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


def alpha_reading(interval: tuple[float, float]) -> str:
    """How alpha stands against ``ADEQUATE``, judged by its 95% interval, not its point."""
    low, high = interval
    if low >= ADEQUATE:
        return f"adequate: the whole interval is above {ADEQUATE:.2f}"
    if high < ADEQUATE:
        return f"below {ADEQUATE:.2f}: read this score with care"
    return f"uncertain: the interval spans {ADEQUATE:.2f}"


def form_label(form: str) -> str:
    return FORM_LABELS.get(form, form)
