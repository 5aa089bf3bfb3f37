"""Both survey forms in the demo data: check-ups and pulses over the same two years.

The demo's interactions (``survey.demo.data``) get their form by the product's rule: a
contact's first interaction in any 90 days gets the check-up, the others a pulse in the
planned-missingness rotation. Feedback after *every* interaction also means many more short
surveys than check-ups: each answered interaction is followed by a few more pulse
interactions of the same contact in the next weeks (a delivery, a service call), drawn from
the same latent model, so that pulses alone estimate each scale's reliability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session

from models.tables import Contact, Interaction, Invitation, Touchpoint
from survey.collecting.tokens import hash_token, new_token
from survey.instrument.forms import CHECKUP, PULSE

# The demo team asks the full check-up every 60 days (the app's default is 90): enough complete
# answers in both languages for the instrument-quality checks to compare them.
CHECKUP_DAYS = 60
# Pulses that follow an answered interaction of the same contact, on average.
PULSES_PER_ANSWER = 4.0
PULSE_TOUCHPOINTS = {"delivery": 3, "service": 4, "purchase": 1, "onboarding": 1}


@dataclass
class FormRule:
    """The product's form rule, replayed over the demo's history."""

    last_checkup: dict[int, datetime] = field(default_factory=dict)
    slots: int = 0

    def assign(self, invitation: Invitation, when: datetime) -> None:
        last = self.last_checkup.get(invitation.contact_id)
        if last is None or last <= when - timedelta(days=CHECKUP_DAYS):
            invitation.form, invitation.design_slot = CHECKUP, None
            self.last_checkup[invitation.contact_id] = when
        else:
            invitation.form, invitation.design_slot = PULSE, self.slots
            self.slots += 1

    def pulse(self, invitation: Invitation) -> None:
        invitation.form, invitation.design_slot = PULSE, self.slots
        self.slots += 1


def add_followers(
    session: Session,
    rng: np.random.Generator,
    forms: FormRule,
    contact: Contact,
    touchpoints: dict[str, Touchpoint],
    instrument_version: int,
    after: datetime,
    now: datetime,
) -> list[tuple[datetime | None, str, Invitation, Interaction, float]]:
    """The pulse interactions and invitations that follow one answered interaction, stored;
    for each: when it was answered (None when not), its touchpoint code, the invitation and
    interaction, and the respondent's level noise for that moment."""
    codes = [code for code in PULSE_TOUCHPOINTS if code in touchpoints]
    weights = np.array([PULSE_TOUCHPOINTS[code] for code in codes], dtype=float)
    weights /= weights.sum()
    planned = []
    for _ in range(int(rng.poisson(PULSES_PER_ANSWER))):
        when = after + timedelta(days=float(rng.uniform(1, 40)))
        code = codes[int(rng.choice(len(codes), p=weights))]
        noise = float(rng.normal(0, 0.55))
        answered = when + timedelta(hours=float(rng.exponential(20)))
        responds = rng.random() >= 0.35 and answered < now
        if when < now - timedelta(hours=3):
            planned.append((when, code, noise, answered if responds else None))
    planned.sort(key=lambda plan: plan[0])
    interactions = [
        Interaction(
            account_id=contact.account_id,
            contact_id=contact.id,
            touchpoint_id=touchpoints[code].id or 0,
            occurred_at=when,
            channel="email",
            created_at=when,
        )
        for when, code, _, _ in planned
    ]
    session.add_all(interactions)
    session.flush()
    invitations = []
    for (when, _, _, _), interaction in zip(planned, interactions, strict=True):
        invitation = Invitation(
            interaction_id=interaction.id or 0,
            contact_id=contact.id or 0,
            token_hash=hash_token(new_token()),
            instrument_version=instrument_version,
            created_at=when,
            sent_at=when,
            expires_at=when + timedelta(days=14),
        )
        forms.pulse(invitation)
        invitations.append(invitation)
    session.add_all(invitations)
    session.flush()
    return [
        (answered, code, invitation, interaction, noise)
        for (_, code, noise, answered), invitation, interaction in zip(
            planned, invitations, interactions, strict=True
        )
    ]
