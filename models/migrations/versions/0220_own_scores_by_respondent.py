"""our own scores summed per month, account and respondent

Revision ID: 0220
Revises: 0210
Create Date: 2026-12-03 16:30:00

The Dashboard's falls account by account compare each account's last two periods with an
interval clustered by the people who answered. No aggregate held who answered, so each look
read every raw score of those two periods (about 3 s at a million responses).
``account_respondent_rollup`` keeps our own scores per month, account and respondent (the
contact, or an anonymous answer alone) by indicator, segment and role. The table starts
empty: the next start (``prepare_database``) fills it from the responses, with progress, and
every submission adds to it from then on; erasing a contact re-keys that contact's rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0220"
down_revision: str | None = "0210"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "account_respondent_rollup",
        _text("month", 7),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("respondent", sa.Integer(), nullable=False),
        _text("indicator", 30),
        _text("segment", 100),
        _text("role", 30),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "version", "account_id", "respondent", "indicator", "segment", "role"
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("account_respondent_rollup")
