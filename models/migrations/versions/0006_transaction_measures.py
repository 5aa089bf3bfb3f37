"""transactional measures per account and period

Revision ID: 0006
Revises: 0009
Create Date: 2026-11-23 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transaction_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("sales_transactions", sa.Integer(), nullable=False),
        sa.Column("information_requests", sa.Integer(), nullable=False),
        sa.Column("positive_service_events", sa.Integer(), nullable=False),
        sa.Column("referral_sales", sa.Integer(), nullable=False),
        sa.Column("days_since_purchase", sa.Integer(), nullable=True),
        sa.Column("days_since_payment", sa.Integer(), nullable=True),
        sa.Column("monetary_volume", sa.Float(), nullable=False),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "period"),
    )
    with op.batch_alter_table("transaction_measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transaction_measure_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_transaction_measure_period", ["period_start", "period_end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transaction_measure", schema=None) as batch_op:
        batch_op.drop_index("ix_transaction_measure_period")
        batch_op.drop_index(batch_op.f("ix_transaction_measure_account_id"))
    op.drop_table("transaction_measure")
