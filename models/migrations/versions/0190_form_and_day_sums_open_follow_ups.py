"""responses by form and their mean scores by day summed per account; open follow-ups indexed

Revision ID: 0190
Revises: 0180
Create Date: 2026-11-30 21:45:00

How many pulses and check-ups the figures rest on was counted over the raw responses of the
selection on every open of the Dashboard (about a second for a manager at a million
responses). ``form_rollup`` keeps that count per account, month, touchpoint and segment. The
table starts empty: the next start (``prepare_database``) fills it from the responses, with
progress, and every submission adds to it from then on. So does ``account_day_rollup``: each
response's mean own score summed per account and day, from which My accounts takes each
account's recent days against its baseline (it averaged every response of 455 days at each open).

My accounts counts each account's open follow-ups: ``ix_follow_up_open_account`` holds the open
ones only, by account and age, so the count reads that index alone. The follow-up queue shows
the newest first, of a status or of all: ``ix_follow_up_status_created`` and
``ix_follow_up_created`` give its page in order, instead of sorting every follow-up at each open.
The worker's every pass looks for follow-ups newly overdue: ``ix_follow_up_to_escalate`` holds
only the open ones not escalated yet, where it walked every follow-up ever past its due time.

``quality_check`` keeps the day's check of invariance across languages and versions, which the
Dashboard warns with: the worker makes it once a day, instead of the first open of each day
fitting the models while its reader waits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0190"
down_revision: str | None = "0180"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STILL_OPEN = "status != 'closed'"
NOT_ESCALATED = "escalated_at IS NULL"


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "form_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _text("month", 7),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        _text("segment", 100),
        _text("form", 10),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "touchpoint_id", "segment", "form"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "account_day_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _text("month", 7),
        _text("day", 10),
        _text("segment", 100),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "day", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_follow_up_open_account",
        "follow_up",
        ["account_id", "created_at"],
        sqlite_where=sa.text(STILL_OPEN),
        postgresql_where=sa.text(STILL_OPEN),
    )

    op.create_table(
        "quality_check",
        _text("day", 10),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("notices", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_follow_up_status_created", "follow_up", ["status", "created_at", "id"])
    op.create_index("ix_follow_up_created", "follow_up", ["created_at", "id"])
    op.create_index(
        "ix_follow_up_to_escalate",
        "follow_up",
        ["due_at"],
        sqlite_where=sa.text(f"{STILL_OPEN} AND {NOT_ESCALATED}"),
        postgresql_where=sa.text(f"{STILL_OPEN} AND {NOT_ESCALATED}"),
    )


def downgrade() -> None:
    op.drop_index("ix_follow_up_to_escalate", table_name="follow_up")
    op.drop_index("ix_follow_up_created", table_name="follow_up")
    op.drop_index("ix_follow_up_status_created", table_name="follow_up")
    op.drop_index("ix_follow_up_open_account", table_name="follow_up")
    op.drop_table("quality_check")
    op.drop_table("account_day_rollup")
    op.drop_table("form_rollup")
