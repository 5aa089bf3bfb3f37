"""Each user's choice of how to hear about new follow-ups (per reason: immediately, in the daily
digest, or not at all), whether they get the weekly digest, and their language."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from models.tables import NotificationPreference
from survey.loop.texts import LANGUAGES

MODES = ("immediately", "digest", "off")
REASONS = ("detractor", "moment", "drop")


class PreferenceError(ValueError):
    """A preference that cannot be saved; the message names it. Nothing was changed."""


def preference_of(session: Session, username: str) -> NotificationPreference:
    """The user's saved choices, or the defaults (everything immediately, weekly digest on)."""
    return session.get(NotificationPreference, username) or NotificationPreference(username=username)


def save(
    session: Session, username: str, *, language: str, modes: dict[str, Any], weekly_digest: bool
) -> NotificationPreference:
    if language not in LANGUAGES:
        raise PreferenceError(f"language {language!r} is not offered (use {', '.join(LANGUAGES)})")
    for reason in REASONS:
        if modes.get(reason) not in MODES:
            raise PreferenceError(f"{reason}: choose one of {', '.join(MODES)}, not {modes.get(reason)!r}")
    preference = session.get(NotificationPreference, username) or NotificationPreference(username=username)
    preference.language = language
    preference.detractor, preference.moment, preference.drop = (modes[r] for r in REASONS)
    preference.weekly_digest = bool(weekly_digest)
    session.add(preference)
    session.flush()
    return preference


# An account-level follow-up is told as the response reason it is most like: an account whose
# indicators fell, or whose decision maker went quiet, as a drop; several flagged contacts as a
# detractor.
ACCOUNT_REASON_AS = {"decline": "drop", "flagged_contacts": "detractor", "silent_decision_maker": "drop"}


def mode_for(preference: NotificationPreference, reasons: str) -> str:
    """How to tell about a follow-up with these reasons: the most urgent choice among them."""
    wanted = (ACCOUNT_REASON_AS.get(r, r) for r in reasons.split(","))
    chosen = {getattr(preference, r) for r in wanted if r in REASONS}
    for mode in MODES:
        if mode in chosen:
            return mode
    return "off"
