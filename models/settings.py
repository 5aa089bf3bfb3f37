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
    # Hours until a follow-up is due, per reason: "detractor=24,moment=48,drop=72".
    sla_hours: str = "detractor=24,moment=48,drop=72"
    # Who hears when a follow-up goes overdue: sign-in names or email addresses, comma-separated;
    # empty for every active admin.
    escalate_to: str = ""
    # The hour (UTC) from which the daily and (on Mondays) the weekly digests go out.
    digest_hour: int = 7
    # Whether the app process also delivers the outbox (``make run``); 0 where a separate
    # ``python -m survey worker`` does.
    worker: bool = True
    # Seconds between the worker's looks at the outbox.
    worker_poll_seconds: float = 5.0
    # Whether the server computes each reader's first figures in the background as it starts
    # (``survey.operations.warming``), so the first to open a page finds them kept.
    warm_figures: bool = True
    # A decision maker without an answer for this many days raises an account follow-up.
    silent_decision_maker_days: int = 120
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
            sla_hours=os.environ.get("PULSE_SLA_HOURS") or "detractor=24,moment=48,drop=72",
            escalate_to=os.environ.get("PULSE_ESCALATE_TO", ""),
            digest_hour=int(os.environ.get("PULSE_DIGEST_HOUR", "7")),
            worker=_flag("PULSE_WORKER", default=True),
            worker_poll_seconds=float(os.environ.get("PULSE_WORKER_POLL_SECONDS", "5")),
            warm_figures=_flag("PULSE_WARM_FIGURES", default=True),
            silent_decision_maker_days=int(os.environ.get("PULSE_SILENT_DECISION_MAKER_DAYS", "120")),
            checkup_days=int(os.environ.get("PULSE_CHECKUP_DAYS", "90")),
        )


def get_settings() -> Settings:
    return Settings.from_env()
