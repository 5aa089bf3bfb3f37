"""The database tables. Every schema change here needs an Alembic migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

CONTACT_ROLES = ("decision_maker", "influencer", "user", "buyer")
NPS_CATEGORIES = ("promoter", "passive", "detractor")
SCORE_SUBJECTS = ("own", "leader")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    external_id: str | None = Field(default=None, unique=True, max_length=100)
    segment: str = Field(default="", max_length=100, index=True)
    industry: str = Field(default="", max_length=100)
    region: str = Field(default="", max_length=100)
    tier: str = Field(default="", max_length=50)
    # The account manager who owns the account (their sign-in name).
    owner: str = Field(default="", max_length=200, index=True)
    # The account manager's own view of the relationship level 0-4 (seed 002).
    manager_value_level: int | None = Field(default=None, ge=0, le=4)
    created_at: datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(default="", max_length=200)
    email: str = Field(max_length=320)
    role: str = Field(default="user", max_length=30)
    # Relative weight of this contact in buying decisions, 0..1.
    buying_influence: float = Field(default=0.5, ge=0, le=1)
    language: str = Field(default="en", max_length=10)
    created_at: datetime = Field(default_factory=utcnow)


class Touchpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=50)
    name: str = Field(max_length=100)
    # Position along the customer journey, for ordering charts and timelines.
    stage: int = Field(default=0)
    # A retired touchpoint takes no new interactions; its history stays and keeps counting.
    active: bool = Field(default=True)
    # Which survey its interactions get: "auto" (a check-up when one is due, else a pulse),
    # "checkup" (always the full instrument) or "pulse" (always the short form).
    form_rule: str = Field(default="auto", max_length=10, sa_column_kwargs={"server_default": "auto"})
    # Hours between the interaction and its invitation, so the survey arrives when it makes sense.
    survey_delay_hours: int = Field(default=0, ge=0, sa_column_kwargs={"server_default": "0"})
    retired_at: datetime | None = None


class InstrumentVersion(SQLModel, table=True):
    """A version of the instrument made in the app: a draft until published, then never changed.
    Versions shipped as files (survey/instrument/versions/) are published by definition."""

    __tablename__ = "instrument_version"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    status: str = Field(default="draft", max_length=10)  # draft or published
    body: str  # the YAML text, as in a version file
    fingerprint: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_by: str | None = Field(default=None, max_length=100)
    published_at: datetime | None = None


class Competitor(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    active: bool = Field(default=True)


class Interaction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    touchpoint_id: int = Field(foreign_key="touchpoint.id", index=True)
    occurred_at: datetime
    channel: str = Field(default="", max_length=50)
    value: float | None = None
    external_id: str | None = Field(default=None, unique=True, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    interaction_id: int = Field(foreign_key="interaction.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    # SHA-256 of the link token; the token itself is never stored.
    token_hash: str = Field(unique=True, max_length=64)
    instrument_version: int
    # "pulse" or "checkup", decided when the invitation is created (survey/collecting/forms.py).
    form: str = Field(default="checkup", max_length=10, sa_column_kwargs={"server_default": "checkup"})
    # A pulse's place in the planned-missingness rotation: which statements it asks.
    design_slot: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    sent_at: datetime | None = None
    opened_at: datetime | None = None
    started_at: datetime | None = None
    # Set in the same transaction that stores the response: the link is then used.
    completed_at: datetime | None = None


class Draft(SQLModel, table=True):
    """Answers saved while the respondent works, so they can close the tab and resume."""

    invitation_id: int = Field(primary_key=True, foreign_key="invitation.id")
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    step: int = 0
    locale: str = Field(default="en", max_length=10)
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Response(SQLModel, table=True):
    __table_args__ = (Index("ix_response_submitted_touchpoint", "submitted_at", "touchpoint_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # Unique: one invitation can never yield two responses.
    invitation_id: int = Field(foreign_key="invitation.id", unique=True)
    interaction_id: int = Field(foreign_key="interaction.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    touchpoint_id: int = Field(foreign_key="touchpoint.id", index=True)
    instrument_version: int
    # The instrument's item layout it was answered on (Instrument.fingerprint).
    instrument_fingerprint: str | None = Field(default=None, max_length=64)
    form: str = Field(default="checkup", max_length=10, sa_column_kwargs={"server_default": "checkup"})
    locale: str = Field(max_length=10)
    started_at: datetime
    submitted_at: datetime = Field(index=True)
    duration_seconds: int
    nps: int | None = Field(default=None, ge=0, le=10)
    nps_category: str | None = Field(default=None, max_length=10)
    leader_competitor_id: int | None = Field(default=None, foreign_key="competitor.id")
    leader_other: str | None = Field(default=None, max_length=200)
    value_level: int | None = Field(default=None, ge=0, le=4)
    moment: str | None = Field(default=None, max_length=20)
    comment: str | None = None
    # The respondent asked that their answers carry no identity: never show or export the contact.
    anonymous: bool = Field(default=False)
    # Its fixed facts, answers and scores again, packed for exports (survey/exports/packs.py).
    export_pack: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class Answer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("response_id", "item_code"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    item_code: str = Field(max_length=30)
    value: int


class IndicatorScore(SQLModel, table=True):
    """One indicator's score in one response, computed once at submission."""

    __tablename__ = "indicator_score"
    __table_args__ = (
        UniqueConstraint("response_id", "indicator", "subject"),
        Index("ix_score_indicator_subject", "indicator", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True)
    indicator: str = Field(max_length=30)
    # "own" rates us; "leader" rates the provider the respondent named as category leader.
    subject: str = Field(default="own", max_length=10)
    score: float  # 1..7
    score_100: float  # 0..100
    items_answered: int


class Benchmark(SQLModel, table=True):
    """A published or purchased figure to compare an indicator with (seed 003)."""

    __table_args__ = (UniqueConstraint("name", "indicator", "period", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # "competitor" or "industry"
    name: str = Field(max_length=200)  # the competitor's or the industry's name
    indicator: str = Field(max_length=30)
    period: str = Field(max_length=20)  # as given: 2026, 2026-Q1 or 2026-03
    period_start: date
    period_end: date  # inclusive
    value: float  # on the stated scale
    scale_min: float
    scale_max: float
    value_100: float
    n: int | None = None
    sd: float | None = None  # on the stated scale
    source: str = Field(max_length=300)
    imported_at: datetime = Field(default_factory=utcnow)


class FollowUp(SQLModel, table=True):
    """A response that needs action, and what the team did about it: the closed loop."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    # Comma-separated: detractor, moment, drop.
    reasons: str = Field(max_length=100)
    detail: str = Field(default="", max_length=500)
    status: str = Field(default="open", max_length=20, index=True)  # open, in_progress, closed
    assignee: str | None = Field(default=None, max_length=200)
    note: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


# Roll-ups: running sums kept up to date in the submit transaction, so that dashboards
# aggregate a few thousand rows instead of every response. ``segment`` and ``role`` are
# copied from the account and the contact at submission time.


class ScoreRollup(SQLModel, table=True):
    __tablename__ = "score_rollup"
    # Covering, in the order the dashboard groups by: SQLite sums without sorting.
    __table_args__ = (
        Index(
            "ix_score_rollup_by_month",
            "month", "indicator", "subject", "competitor_id", "segment", "touchpoint_id", "role",
            "n", "total", "total_sq",
        ),
    )  # fmt: skip

    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    segment: str = Field(primary_key=True, max_length=100)
    touchpoint_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True, max_length=30)
    indicator: str = Field(primary_key=True, max_length=30)
    subject: str = Field(primary_key=True, max_length=10)  # own or leader
    # The named leader; 0 for our own scores and for a leader not on the list.
    competitor_id: int = Field(primary_key=True)
    n: int
    total: float
    total_sq: float


class ItemRollup(SQLModel, table=True):
    """How often each answer was given: one row per item, a counter per scale point
    (0-10 covers both scales), which keeps the table small enough to scan quickly."""

    __tablename__ = "item_rollup"
    __table_args__ = (
        Index(
            "ix_item_rollup_by_month",
            "month", "item_code", "segment", "touchpoint_id", "role",
            "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10",
        ),
    )  # fmt: skip

    month: str = Field(primary_key=True, max_length=7)
    segment: str = Field(primary_key=True, max_length=100)
    touchpoint_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True, max_length=30)
    item_code: str = Field(primary_key=True, max_length=30)
    c0: int = 0
    c1: int = 0
    c2: int = 0
    c3: int = 0
    c4: int = 0
    c5: int = 0
    c6: int = 0
    c7: int = 0
    c8: int = 0
    c9: int = 0
    c10: int = 0


class PairRollup(SQLModel, table=True):
    """Sums over responses that answered both items: enough for a pairwise covariance."""

    __tablename__ = "pair_rollup"

    month: str = Field(primary_key=True, max_length=7)
    segment: str = Field(primary_key=True, max_length=100)
    item_a: str = Field(primary_key=True, max_length=30)
    item_b: str = Field(primary_key=True, max_length=30)
    n: int
    sum_a: float
    sum_b: float
    sum_ab: float
    sum_aa: float
    sum_bb: float


# Sign-in and audit.

USER_ROLES = ("admin", "manager", "analyst")


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    # The sign-in name; account managers own accounts under this name (Account.owner).
    username: str = Field(unique=True, max_length=100)
    display_name: str = Field(default="", max_length=200)
    # Matched against the identity provider's email for single sign-on.
    email: str | None = Field(default=None, unique=True, max_length=320)
    role: str = Field(max_length=20)
    # Argon2 hash; None for users who only sign in through the identity provider.
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = Field(default=True)
    failed_attempts: int = Field(default=0)
    locked_until: datetime | None = None
    last_sign_in_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    # Who did it (a username, "cli" or "system"); for failed sign-ins the name that was tried.
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50, index=True)
    detail: str = Field(default="", max_length=2000)


class ContactErasure(SQLModel, table=True):
    """A contact whose personal data was erased on request: the contact row stays as a
    nameless placeholder so that their anonymised scores keep counting."""

    __tablename__ = "contact_erasure"

    contact_id: int = Field(primary_key=True, foreign_key="contact.id")
    erased_at: datetime = Field(default_factory=utcnow)
    erased_by: str = Field(max_length=100)


class TransactionMeasure(SQLModel, table=True):
    """What one account did in one period, from a CRM or accounting export (seed 004):
    the behaviour the survey indicators are meant to predict."""

    __tablename__ = "transaction_measure"
    __table_args__ = (
        UniqueConstraint("account_id", "period"),
        Index("ix_transaction_measure_period", "period_start", "period_end"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    period: str = Field(max_length=20)  # as given: 2026, 2026-Q1 or 2026-03
    period_start: date
    period_end: date  # inclusive
    sales_transactions: int = Field(ge=0)
    information_requests: int = Field(ge=0)
    positive_service_events: int = Field(ge=0)
    referral_sales: int = Field(ge=0)  # referrals that led to a sale
    # As at the end of the period; None when the account has never bought or paid.
    days_since_purchase: int | None = Field(default=None, ge=0)
    days_since_payment: int | None = Field(default=None, ge=0)
    monetary_volume: float = Field(ge=0)
    imported_at: datetime = Field(default_factory=utcnow)


# Narrower roll-ups: the same sums with fewer keys, kept beside the ones above. An
# unfiltered or segment-filtered dashboard reads a few hundred rows from them instead of
# grouping tens of thousands of cells; touchpoint, role and account filters still need the
# wide ones. Each is the wide roll-up summed over the keys it leaves out. Their keys are in
# the order the dashboard groups by, segment last, and on SQLite the rows are stored in key
# order (WITHOUT ROWID): the grouped sums come straight off the table, with no sort.
NARROW_TABLE_ARGS = {"sqlite_with_rowid": False}


class ScoreSegmentRollup(SQLModel, table=True):
    """Score sums by month, indicator, subject, named leader and segment (all touchpoints and roles)."""

    __tablename__ = "score_segment_rollup"
    __table_args__ = NARROW_TABLE_ARGS

    month: str = Field(primary_key=True, max_length=7)
    indicator: str = Field(primary_key=True, max_length=30)
    subject: str = Field(primary_key=True, max_length=10)
    competitor_id: int = Field(primary_key=True)
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    total: float
    total_sq: float


class OwnTouchpointRollup(SQLModel, table=True):
    """Our own score sums by month, touchpoint, indicator and segment (all roles)."""

    __tablename__ = "own_touchpoint_rollup"
    __table_args__ = NARROW_TABLE_ARGS

    month: str = Field(primary_key=True, max_length=7)
    touchpoint_id: int = Field(primary_key=True)
    indicator: str = Field(primary_key=True, max_length=30)
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    total: float
    total_sq: float


class ItemSegmentRollup(SQLModel, table=True):
    """Answer counts by month, item and segment (all touchpoints and roles)."""

    __tablename__ = "item_segment_rollup"
    __table_args__ = NARROW_TABLE_ARGS

    month: str = Field(primary_key=True, max_length=7)
    item_code: str = Field(primary_key=True, max_length=30)
    segment: str = Field(primary_key=True, max_length=100)
    c0: int = 0
    c1: int = 0
    c2: int = 0
    c3: int = 0
    c4: int = 0
    c5: int = 0
    c6: int = 0
    c7: int = 0
    c8: int = 0
    c9: int = 0
    c10: int = 0


class ApiKey(SQLModel, table=True):
    """A key for CRMs, help desks and BI tools calling the HTTP API. Only its hash is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    key_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Delivery(SQLModel, table=True):
    """How an invitation's email went: sent, written to the outbox, or failed; and its reminder.

    Kept apart from the invitation so that a slow mail server never holds its row."""

    invitation_id: int = Field(primary_key=True, foreign_key="invitation.id")
    status: str = Field(max_length=10)  # sent, outbox, failed
    detail: str = Field(default="", max_length=500)
    sent_at: datetime | None = None
    # A reminder carries its own link; the first one keeps working too.
    reminder_token_hash: str | None = Field(default=None, unique=True, max_length=64)
    reminded_at: datetime | None = None
