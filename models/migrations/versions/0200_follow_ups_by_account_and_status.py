"""follow-ups indexed by account, status and age

Revision ID: 0200
Revises: 0190
Create Date: 2026-12-02 05:10:00

A manager's follow-up queue counts their follow-ups by status and lists the newest of their
accounts first. Through the index on ``account_id`` alone both read every one of those
follow-ups' rows (half a second for the counts and over a second for the list of all, for a
manager of a third of 500,000 follow-ups). ``ix_follow_up_account_status`` holds account,
status, age and id: the counts and the page of ids read that index alone. It serves every
lookup by account as well, so it replaces ``ix_follow_up_account_id``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0200"
down_revision: str | None = "0190"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_follow_up_account_status", "follow_up", ["account_id", "status", "created_at", "id"])
    op.drop_index("ix_follow_up_account_id", table_name="follow_up")


def downgrade() -> None:
    op.create_index("ix_follow_up_account_id", "follow_up", ["account_id"])
    op.drop_index("ix_follow_up_account_status", table_name="follow_up")
