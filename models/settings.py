"""Settings read once from the environment, in one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the app behaves; every field has an env variable."""

    database_url: str
    base_url: str
    link_valid_days: int
    demo_data: bool
    # Figures based on fewer responses than this are suppressed, not shown.
    min_n: int
    # A signed-in session ends after this many minutes without activity.
    idle_minutes: int = 30
    # Failed sign-ins in a row before an account is locked (then locked again after each one).
    lockout_after: int = 5
    # Free-text comments older than this many months are purged; 0 keeps them.
    comment_retention_months: int = 0
    # One reminder goes to contacts who have not answered this many days after the invitation.
    reminder_days: int = 5
    # A contact is not invited again within this many days (survey fatigue).
    fatigue_days: int = 30
    # A contact gets the full check-up at most once in this many days; pulses otherwise.
    checkup_days: int = 90

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("PULSE_DATA_DIR", PROJECT_ROOT / "data"))
        default_url = f"sqlite:///{data_dir / 'pulse.db'}"
        return cls(
            database_url=os.environ.get("DATABASE_URL") or default_url,
            base_url=os.environ.get("PULSE_BASE_URL", "http://localhost:8501").rstrip("/"),
            link_valid_days=int(os.environ.get("PULSE_LINK_VALID_DAYS", "14")),
            demo_data=_flag("PULSE_DEMO_DATA", default=True),
            min_n=int(os.environ.get("PULSE_MIN_N", "5")),
            idle_minutes=int(os.environ.get("PULSE_IDLE_MINUTES", "30")),
            lockout_after=int(os.environ.get("PULSE_LOCKOUT_AFTER", "5")),
            comment_retention_months=int(os.environ.get("PULSE_COMMENT_RETENTION_MONTHS", "0")),
            reminder_days=int(os.environ.get("PULSE_REMINDER_DAYS", "5")),
            fatigue_days=int(os.environ.get("PULSE_FATIGUE_DAYS", "30")),
            checkup_days=int(os.environ.get("PULSE_CHECKUP_DAYS", "90")),
        )


def get_settings() -> Settings:
    return Settings.from_env()
