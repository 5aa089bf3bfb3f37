"""The database tables. Every schema change here needs an Alembic migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
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
    # An account's interactions by time: its latest one is one step into it.
    __table_args__ = (Index("ix_interaction_account_occurred", "account_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    touchpoint_id: int = Field(foreign_key="touchpoint.id", index=True)
    occurred_at: datetime
    channel: str = Field(default="", max_length=50)
    value: float | None = None
    external_id: str | None = Field(default=None, unique=True, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


# Invitations whose mail waits for the touchpoint's survey delay and is not out yet.
TO_SEND = "send_after IS NOT NULL AND sent_at IS NULL AND completed_at IS NULL"


class Invitation(SQLModel, table=True):
    __table_args__ = (
        # Only those still to send, by when: the worker's every pass looks for the due among
        # these, not among every invitation ever made.
        Index(
            "ix_invitation_to_send",
            "send_after",
            "id",
            sqlite_where=text(TO_SEND),
            postgresql_where=text(TO_SEND),
        ),
    )

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
    # Set when the touchpoint's survey delay puts the survey after the invitation's creation:
    # its mail goes out no earlier than this (survey.sending.delivery.send_due_invitations).
    send_after: datetime | None = None
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


UNPACKED = "export_pack IS NULL"
STILL_OPEN = "status != 'closed'"
NOT_ESCALATED = "escalated_at IS NULL"


class Response(SQLModel, table=True):
    __table_args__ = (
        Index("ix_response_submitted_touchpoint", "submitted_at", "touchpoint_id"),
        # An account's and a contact's responses by time: the latest is one step into each.
        Index("ix_response_account_submitted", "account_id", "submitted_at"),
        Index("ix_response_contact_submitted", "contact_id", "submitted_at", "id"),
        # Only the responses still to be packed: the check at every start reads this, not the table.
        Index("ix_response_unpacked", "id", sqlite_where=text(UNPACKED), postgresql_where=text(UNPACKED)),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Unique: one invitation can never yield two responses.
    invitation_id: int = Field(foreign_key="invitation.id", unique=True)
    interaction_id: int = Field(foreign_key="interaction.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
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
    # The follow-ups still open, by account and age: My accounts counts them per account. The
    # queue lists the newest first, of one status or of all: it reads its page off an index,
    # and a manager's counts by status and page of ids off the index by account.
    __table_args__ = (
        Index("ix_follow_up_status_created", "status", "created_at", "id"),
        Index("ix_follow_up_account_status", "account_id", "status", "created_at", "id"),
        # The open ones not yet escalated, by due time: the worker's pass looks for the newly
        # overdue among these alone, not among every follow-up ever past its due time.
        Index(
            "ix_follow_up_to_escalate",
            "due_at",
            sqlite_where=text(f"{STILL_OPEN} AND {NOT_ESCALATED}"),
            postgresql_where=text(f"{STILL_OPEN} AND {NOT_ESCALATED}"),
        ),
        Index("ix_follow_up_created", "created_at", "id"),
        Index(
            "ix_follow_up_open_account",
            "account_id",
            "created_at",
            sqlite_where=text(STILL_OPEN),
            postgresql_where=text(STILL_OPEN),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None for a follow-up about a whole account (kind "account"), which no single response raised.
    response_id: int | None = Field(default=None, foreign_key="response.id", unique=True)
    account_id: int = Field(foreign_key="account.id")  # indexed with the status (above)
    # "response": one response needs action; "account": the account as a whole does.
    kind: str = Field(default="response", max_length=20, index=True)
    # Comma-separated: detractor, moment, drop (responses); decline, flagged_contacts,
    # silent_decision_maker (accounts).
    reasons: str = Field(max_length=100)
    detail: str = Field(default="", max_length=500)
    status: str = Field(default="open", max_length=20, index=True)  # open, in_progress, closed
    assignee: str | None = Field(default=None, max_length=200)
    note: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # The service level: when it should be closed (from its reasons), the first thing done
    # about it, and when the one escalation went out after it was left open past its due time.
    due_at: datetime | None = Field(default=None, index=True)
    first_action_at: datetime | None = None
    escalated_at: datetime | None = None
    # "You said, we did": the message sent to the contact when the follow-up was closed.
    customer_message: str | None = None
    customer_message_at: datetime | None = None


# Aggregates ("roll-ups"): running sums kept up to date in the submit transaction, so that
# reports sum a few thousand rows instead of every response. Each table is defined once, as a
# query over the raw tables (survey/reporting/aggregates.py). ``version`` is the instrument
# version (answers to different versions never pool); ``segment`` and ``role`` are copied from
# the account and the contact at submission time. Keys are in the order reports group by and,
# on SQLite, rows are stored in key order (WITHOUT ROWID): grouped sums come off the table
# without a sort.
ROLLUP_TABLE_ARGS = {"sqlite_with_rowid": False}


class ScoreRollup(SQLModel, table=True):
    """Score sums by month, segment, touchpoint and role: touchpoint and role filters."""

    __tablename__ = "score_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    indicator: str = Field(primary_key=True, max_length=30)
    subject: str = Field(primary_key=True, max_length=10)  # own or leader
    # The named leader; 0 for our own scores and for a leader not on the list.
    competitor_id: int = Field(primary_key=True)
    segment: str = Field(primary_key=True, max_length=100)
    touchpoint_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True, max_length=30)
    n: int
    total: float
    total_sq: float


class ItemRollup(SQLModel, table=True):
    """How often each answer was given: one row per item, a counter per scale point
    (0-10 covers both scales), which keeps the table small enough to scan quickly."""

    __tablename__ = "item_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    item_code: str = Field(primary_key=True, max_length=30)
    segment: str = Field(primary_key=True, max_length=100)
    touchpoint_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True, max_length=30)
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


class LeaderPairRollup(SQLModel, table=True):
    """Paired ratings: sums over responses that rated both a named leader and us on the matching
    statement (``Instrument.leader_counterpart``); ``a`` is our statement's answer, ``b`` the
    leader's, both 1-7. By month, indicator, named leader, segment, touchpoint and role."""

    __tablename__ = "leader_pair_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    indicator: str = Field(primary_key=True, max_length=30)
    competitor_id: int = Field(primary_key=True)  # 0: a leader not on the list
    segment: str = Field(primary_key=True, max_length=100)
    touchpoint_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True, max_length=30)
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


# Narrower aggregates: the same sums with fewer keys. An unfiltered or segment-filtered
# report reads a few hundred rows from them.


class ScoreSegmentRollup(SQLModel, table=True):
    """Score sums by month, indicator, subject, named leader and segment (all touchpoints and roles)."""

    __tablename__ = "score_segment_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
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
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
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
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
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


# Account-keyed aggregates: one account, a manager's accounts or any chosen set read the
# rows of those accounts (the account id leads the key, after what every read of the table
# names: the subject of scores, the item of answer counts, the instrument version) and sum
# them. Where a figure is clustered by account, what it groups by follows the account and the
# month comes last: each account's months of one group lie together, and the database sums
# them as it reads them instead of sorting every row in scope first.


class AccountScoreRollup(SQLModel, table=True):
    """Score sums per account by month, indicator, subject, named leader and segment. Every
    read is of one subject (ours, or the leaders'), so the subject leads the key: a read of
    our own scores over every account passes over none of the leaders' rows, four in five.
    Then the version, the account, and the indicator and leader a figure groups by, before
    the month."""

    __tablename__ = "account_score_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    subject: str = Field(primary_key=True, max_length=10)
    version: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)
    indicator: str = Field(primary_key=True, max_length=30)
    competitor_id: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    total: float
    total_sq: float


class AccountTouchpointRollup(SQLModel, table=True):
    """Our own score sums per account by month, touchpoint, indicator and segment; the month
    after the touchpoint and indicator a figure groups by."""

    __tablename__ = "account_touchpoint_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)
    touchpoint_id: int = Field(primary_key=True)
    indicator: str = Field(primary_key=True, max_length=30)
    month: str = Field(primary_key=True, max_length=7)
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    total: float
    total_sq: float


class AccountItemRollup(SQLModel, table=True):
    """Answer counts per account by month, item and segment. Every read names its items (the
    recommendation alone, say), so the item leads the key: the recommendation's counts over
    every account are one range, not a pass over every item's."""

    __tablename__ = "account_item_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    item_code: str = Field(primary_key=True, max_length=30)
    account_id: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
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


class AccountLeaderPairRollup(SQLModel, table=True):
    """Paired ratings (``LeaderPairRollup``) per account by month, indicator, leader and
    segment; the month after the indicator and leader a figure groups by."""

    __tablename__ = "account_leader_pair_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    version: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)
    indicator: str = Field(primary_key=True, max_length=30)
    competitor_id: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    sum_a: float
    sum_b: float
    sum_ab: float
    sum_aa: float
    sum_bb: float


class FormRollup(SQLModel, table=True):
    """How many responses each form (pulse or check-up) brought, per account by month,
    touchpoint and segment."""

    __tablename__ = "form_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    account_id: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    touchpoint_id: int = Field(primary_key=True)
    segment: str = Field(primary_key=True, max_length=100)
    form: str = Field(primary_key=True, max_length=10)
    n: int


class AccountDayRollup(SQLModel, table=True):
    """Each response's mean own score (0-100) summed per account by day: an account's level
    and its change over any run of days (My accounts' recent days against its baseline)."""

    __tablename__ = "account_day_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    account_id: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    month: str = Field(primary_key=True, max_length=7)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD
    segment: str = Field(primary_key=True, max_length=100)
    n: int
    total: float
    total_sq: float


class AccountRespondentRollup(SQLModel, table=True):
    """Our own score sums per month, account and respondent (the contact, or an anonymous
    answer alone) by indicator, segment and role: each account's change between two periods
    clustered by the people who answered (the Dashboard's falls account by account). The
    month leads the key: that change reads the last two periods of every account in scope."""

    __tablename__ = "account_respondent_rollup"
    __table_args__ = ROLLUP_TABLE_ARGS

    month: str = Field(primary_key=True, max_length=7)
    version: int = Field(primary_key=True)
    account_id: int = Field(primary_key=True)
    respondent: int = Field(primary_key=True)
    indicator: str = Field(primary_key=True, max_length=30)
    segment: str = Field(primary_key=True, max_length=100)
    role: str = Field(primary_key=True, max_length=30)
    n: int
    total: float
    total_sq: float


class ApiKey(SQLModel, table=True):
    """A key for CRMs, help desks and BI tools calling the HTTP API. Only its hash is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    key_hash: str = Field(unique=True, max_length=64)
    # What the key may do, comma-separated: write:interactions, read:responses.
    scopes: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class FailedAttempts(SQLModel, table=True):
    """Failed sign-ins or API keys per key (a user name from one address, one address), kept in
    the database so that every replica counts the same failures and honours the same lock."""

    __tablename__ = "failed_attempts"

    key: str = Field(primary_key=True, max_length=300)
    failures: int = Field(default=0)
    last_failure_at: datetime
    locked_until: datetime | None = None


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


# Closing the loop: what leaves the app (emails, chat messages, webhook calls) is recorded as an
# outbox event in the same transaction as its cause, and delivered by the worker
# (survey/loop/).


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)  # email, webhook, chat
    topic: str = Field(max_length=40)  # e.g. followup.alert, digest.weekly, followup.created
    # Where it goes: an email address, a webhook endpoint id or a chat channel id.
    target: str = Field(max_length=320)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Set for events that must exist once only (a digest per user and week, an alert per follow-up).
    dedupe_key: str | None = Field(default=None, unique=True, max_length=200)
    status: str = Field(default="pending", max_length=10)  # pending, sent, failed, cancelled
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A worker's claim: nobody else delivers the event until the claim runs out.
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = None
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    """Each try at delivering an outbox event, kept for the Deliveries page."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outbox_event.id", index=True)
    at: datetime
    worker: str = Field(max_length=100)
    ok: bool
    detail: str = Field(default="", max_length=500)
    duration_ms: int = 0


class WebhookEndpoint(SQLModel, table=True):
    """Another system told about events, with payloads signed per Standard Webhooks."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    events: str = Field(max_length=300)  # comma-separated event types
    # The shared signing secret (whsec_...): the receiver verifies with it, so it is kept.
    secret: str = Field(max_length=100)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class ChatChannel(SQLModel, table=True):
    """A team's Slack or Microsoft Teams channel, reached through an incoming-webhook URL."""

    __tablename__ = "chat_channel"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    url: str = Field(max_length=2000)
    style: str = Field(max_length=10)  # slack or teams
    # Only the accounts this account manager owns; empty for every account.
    owner: str = Field(default="", max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class NotificationPreference(SQLModel, table=True):
    """How a user wants to hear about new follow-ups, per reason, and in which language."""

    __tablename__ = "notification_preference"

    username: str = Field(primary_key=True, max_length=100)
    language: str = Field(default="en", max_length=10)
    # immediately, digest (the daily digest) or off
    detractor: str = Field(default="immediately", max_length=12)
    moment: str = Field(default="immediately", max_length=12)
    drop: str = Field(default="immediately", max_length=12)
    weekly_digest: bool = Field(default=True)


class OptOut(SQLModel, table=True):
    """An address that gets no more survey emails: opted out, or bounced for good."""

    __tablename__ = "opt_out"

    email: str = Field(primary_key=True, max_length=320)
    at: datetime
    source: str = Field(max_length=20)  # link, one-click, bounce
    detail: str = Field(default="", max_length=500)


class OptOutLink(SQLModel, table=True):
    """The token behind an email's unsubscribe link; only its hash is stored."""

    __tablename__ = "opt_out_link"

    token_hash: str = Field(primary_key=True, max_length=64)
    email: str = Field(max_length=320)
    created_at: datetime


# Accounts first: what the company did, the manager's value level over time, comment tags.


class AccountAction(SQLModel, table=True):
    """Something the company did for an account (a business review, a fix delivered, ...),
    so that "What works" can compare the account's indicators before and after."""

    __tablename__ = "account_action"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str = Field(max_length=40, index=True)  # see survey/accounts/actions.py ACTION_TYPES
    occurred_on: date = Field(index=True)
    owner: str = Field(max_length=200)  # who did it
    note: str = Field(default="", max_length=2000)
    # The follow-up whose closing this action answered, if any.
    follow_up_id: int | None = Field(default=None, foreign_key="follow_up.id", index=True)
    recorded_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class ValueAssessment(SQLModel, table=True):
    """One account manager's assessment of the relationship level 0-4 (seed 002), kept with
    its date and author; ``Account.manager_value_level`` holds the latest one."""

    __tablename__ = "value_assessment"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    level: int | None = Field(default=None, ge=0, le=4)  # None: the level was cleared
    assessed_at: datetime = Field(index=True)
    author: str = Field(max_length=100)


class CommentTagRule(SQLModel, table=True):
    """An admin's keyword rule: a comment containing any of the keywords carries the tag."""

    __tablename__ = "comment_tag_rule"

    id: int | None = Field(default=None, primary_key=True)
    tag: str = Field(unique=True, max_length=60)
    keywords: str = Field(max_length=1000)  # comma-separated, matched case-insensitively as words
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class QualityCheck(SQLModel, table=True):
    """The day's check of whether answers in different languages and instrument versions can
    be compared (invariance over the newest responses): what the Dashboard warns about. Made
    once a day by the worker, read by every Dashboard open."""

    __tablename__ = "quality_check"

    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, UTC
    checked_at: datetime
    responses: int  # the newest response id the check saw
    notices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class OneTimeWork(SQLModel, table=True):
    """Catching-up work that a start did once on an existing database, so that no later start
    does it again (e.g. assessing every response for follow-ups when none needed one)."""

    __tablename__ = "one_time_work"

    name: str = Field(primary_key=True, max_length=60)
    finished_at: datetime
    items: int
