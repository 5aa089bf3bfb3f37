"""Which survey forms a figure rests on, and each scale's reliability per form.

A check-up answers every statement, so its alpha is the usual one. A pulse answers one or
two statements per indicator in a planned-missingness rotation (survey/instrument/forms.py):
no pulse has all of a scale's items, but every pair of them is answered together in some
pulses, so the pairwise-complete covariance matrix — what R ``psych::alpha()`` uses by
default — is estimable from pulses alone, and with it the alpha of the full scale
(:func:`survey.reporting.reliability.alpha_from_frame`, checked against psych).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sqlmodel import Session, col, func, select

from models.tables import Account, Answer, Contact, Response
from survey.instrument.definition import Instrument
from survey.instrument.forms import CHECKUP, FORM_LABELS, FORMS, PULSE
from survey.reporting.filters import Filters, month_of, role_of, where
from survey.reporting.reliability import ReliabilityInputError, alpha_from_covariance, alpha_from_frame

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


def responses_by_form(session: Session, filters: Filters | None = None) -> dict[str, int]:
    """How many responses each form contributed under the dashboard's ``filters`` (every form
    named, zero when none)."""
    if filters is None:
        statement = select(Response.form, func.count()).group_by(Response.form)
    else:
        # The dashboard's own filter definition, on the responses' own columns.
        columns = {
            "month": month_of(col(Response.submitted_at), session.get_bind().dialect.name),
            "version": Response.instrument_version,
            "account_id": Response.account_id,
            "segment": Account.segment,
            "touchpoint_id": Response.touchpoint_id,
            "role": role_of(),
        }
        statement = (
            select(Response.form, func.count())
            .join(Account, col(Account.id) == Response.account_id)
            .outerjoin(Contact, col(Contact.id) == Response.contact_id)
            .where(*where(filters, columns.__getitem__))
            .group_by(Response.form)
        )
    counts = {form: count for form, count in session.execute(statement).all()}
    return {form: int(counts.get(form, 0)) for form in FORMS}


def rests_on(counts: dict[str, int]) -> str:
    """A manager-readable line: "6,412 responses: 5,108 pulses and 1,304 check-ups"."""
    total = sum(counts.values())
    parts = [f"{counts.get(PULSE, 0):,} pulses", f"{counts.get(CHECKUP, 0):,} check-ups"]
    return f"{total:,} responses: {' and '.join(parts)}"


def _answers(session: Session, instrument: Instrument, form: str) -> pd.DataFrame:
    """Reverse-keyed answers to the indicator statements, one row per response of ``form``."""
    codes = [item.code for item in instrument.items if item.indicator]
    rows = session.exec(
        select(Answer.response_id, Answer.item_code, Answer.value)
        .join(Response, col(Response.id) == Answer.response_id)
        .where(
            Response.form == form,
            Response.instrument_version == instrument.version,
            col(Answer.item_code).in_(codes),
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["response_id", "item_code", "value"])
    wide = frame.pivot(index="response_id", columns="item_code", values="value").astype(float)
    wide = wide.reindex(columns=codes)
    scale = instrument.agree_scale
    for item in instrument.items:
        if item.indicator and item.reverse:
            wide[item.code] = scale.min + scale.max - wide[item.code]
    return wide


def alpha_by_form(session: Session, instrument: Instrument) -> pd.DataFrame:
    """Per indicator: alpha from check-ups and from pulses alone (pairwise covariances),
    each with its Feldt 95% interval and n, and their difference. ``pulse_fewest_pair_n`` is
    the fewest pulses that answered one pair of the scale's statements together."""
    frames = {form: _answers(session, instrument, form) for form in FORMS}
    rows = []
    for indicator in instrument.indicators:
        codes = [item.code for item in instrument.indicator_items(indicator.code)]
        row: dict[str, object] = {"indicator": indicator.code}
        for form, prefix in ((CHECKUP, "checkup"), (PULSE, "pulse")):
            data = frames[form][codes].dropna(how="all")
            answered = data.notna()
            fewest = min(int((answered[a] & answered[b]).sum()) for a, b in combinations(codes, 2))
            try:
                # A pulse's interval counts the fewest pulses behind one covariance, not every
                # pulse: psych's row count would make it far too narrow under planned missingness.
                result = (
                    alpha_from_covariance(data.cov(), fewest) if form == PULSE else alpha_from_frame(data)
                )
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


def form_label(form: str) -> str:
    return FORM_LABELS.get(form, form)
