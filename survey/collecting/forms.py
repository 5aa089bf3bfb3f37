"""Which form an invitation gets, decided once when it is created.

A touchpoint's ``form_rule`` says: ``checkup`` (always the full instrument, e.g. a renewal or a
quarterly review), ``pulse`` (always the short form), or ``auto``: a check-up when the contact
has had none in the last ``checkup_days`` (``PULSE_CHECKUP_DAYS``, 90 by default), a pulse
otherwise (``0`` gives every contact the check-up every time). A pulse also gets its slot
in the planned-missingness rotation
(:mod:`survey.instrument.forms`): the number of pulses created before it on that instrument
version, so that the rotation goes round evenly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from models.tables import Invitation, Touchpoint
from survey.instrument.forms import CHECKUP, PULSE

FORM_RULES = ("auto", CHECKUP, PULSE)


@dataclass(frozen=True)
class FormChoice:
    form: str
    slot: int | None
    reason: str


def choose_form(
    session: Session,
    *,
    touchpoint: Touchpoint,
    contact_id: int,
    instrument_version: int,
    now: datetime,
    checkup_days: int,
) -> FormChoice:
    """The form of a new invitation to ``contact_id`` after an interaction at ``touchpoint``."""
    if touchpoint.form_rule == CHECKUP:
        return FormChoice(CHECKUP, None, f"{touchpoint.name} always gets a check-up")
    if touchpoint.form_rule == "auto":
        last = session.exec(
            select(func.max(Invitation.created_at)).where(
                Invitation.contact_id == contact_id, Invitation.form == CHECKUP
            )
        ).one()
        if checkup_days <= 0 or last is None or last <= now - timedelta(days=checkup_days):
            return FormChoice(CHECKUP, None, f"no check-up in the last {checkup_days} days")
    slot = session.exec(
        select(func.count())
        .select_from(Invitation)
        .where(col(Invitation.form) == PULSE, Invitation.instrument_version == instrument_version)
    ).one()
    return FormChoice(
        PULSE,
        int(slot),
        "a check-up was sent recently"
        if touchpoint.form_rule == "auto"
        else f"{touchpoint.name} always gets a pulse",
    )
