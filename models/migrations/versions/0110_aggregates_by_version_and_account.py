"""aggregates keyed by instrument version, and by account

Revision ID: 0110
Revises: 0010
Create Date: 2026-11-30 09:20:00

Every aggregate gains the instrument version as its first key (answers to different versions
never pool), and four account-keyed aggregates join them, so that one account or a manager's
accounts are summed from aggregates too. The aggregates are rebuilt from the raw tables
(``survey.reporting.aggregates.rebuild``) when the app or a command next prepares the
database, so this migration stays independent of the instrument files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0110"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = (
    "score_rollup",
    "item_rollup",
    "pair_rollup",
    "score_segment_rollup",
    "own_touchpoint_rollup",
    "item_segment_rollup",
)
NEW = (
    *OLD,
    "account_score_rollup",
    "account_touchpoint_rollup",
    "account_item_rollup",
    "account_pair_rollup",
)


def upgrade() -> None:
    op.drop_index("ix_score_rollup_by_month", table_name="score_rollup")
    op.drop_index("ix_item_rollup_by_month", table_name="item_rollup")
    for name in OLD:
        op.drop_table(name)
    op.create_table(
        "score_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "version", "month", "indicator", "subject", "competitor_id", "segment", "touchpoint_id", "role"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "item_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("c0", sa.Integer(), nullable=False),
        sa.Column("c1", sa.Integer(), nullable=False),
        sa.Column("c2", sa.Integer(), nullable=False),
        sa.Column("c3", sa.Integer(), nullable=False),
        sa.Column("c4", sa.Integer(), nullable=False),
        sa.Column("c5", sa.Integer(), nullable=False),
        sa.Column("c6", sa.Integer(), nullable=False),
        sa.Column("c7", sa.Integer(), nullable=False),
        sa.Column("c8", sa.Integer(), nullable=False),
        sa.Column("c9", sa.Integer(), nullable=False),
        sa.Column("c10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version", "month", "item_code", "segment", "touchpoint_id", "role"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "pair_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_a", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("item_b", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_a", sa.Float(), nullable=False),
        sa.Column("sum_b", sa.Float(), nullable=False),
        sa.Column("sum_ab", sa.Float(), nullable=False),
        sa.Column("sum_aa", sa.Float(), nullable=False),
        sa.Column("sum_bb", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("version", "month", "item_a", "item_b", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "score_segment_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("version", "month", "indicator", "subject", "competitor_id", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "own_touchpoint_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("version", "month", "touchpoint_id", "indicator", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "item_segment_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("c0", sa.Integer(), nullable=False),
        sa.Column("c1", sa.Integer(), nullable=False),
        sa.Column("c2", sa.Integer(), nullable=False),
        sa.Column("c3", sa.Integer(), nullable=False),
        sa.Column("c4", sa.Integer(), nullable=False),
        sa.Column("c5", sa.Integer(), nullable=False),
        sa.Column("c6", sa.Integer(), nullable=False),
        sa.Column("c7", sa.Integer(), nullable=False),
        sa.Column("c8", sa.Integer(), nullable=False),
        sa.Column("c9", sa.Integer(), nullable=False),
        sa.Column("c10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version", "month", "item_code", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "account_score_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "version", "month", "indicator", "subject", "competitor_id", "segment"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "account_touchpoint_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "touchpoint_id", "indicator", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "account_item_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("c0", sa.Integer(), nullable=False),
        sa.Column("c1", sa.Integer(), nullable=False),
        sa.Column("c2", sa.Integer(), nullable=False),
        sa.Column("c3", sa.Integer(), nullable=False),
        sa.Column("c4", sa.Integer(), nullable=False),
        sa.Column("c5", sa.Integer(), nullable=False),
        sa.Column("c6", sa.Integer(), nullable=False),
        sa.Column("c7", sa.Integer(), nullable=False),
        sa.Column("c8", sa.Integer(), nullable=False),
        sa.Column("c9", sa.Integer(), nullable=False),
        sa.Column("c10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "item_code", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "account_pair_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_a", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("item_b", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_a", sa.Float(), nullable=False),
        sa.Column("sum_b", sa.Float(), nullable=False),
        sa.Column("sum_ab", sa.Float(), nullable=False),
        sa.Column("sum_aa", sa.Float(), nullable=False),
        sa.Column("sum_bb", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "item_a", "item_b", "segment"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # The old aggregates come back empty; the app rebuilds them at its next start.
    for name in NEW:
        op.drop_table(name)
    op.create_table(
        "score_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "segment", "touchpoint_id", "role", "indicator", "subject", "competitor_id"
        ),
    )
    op.create_index(
        "ix_score_rollup_by_month",
        "score_rollup",
        [
            "month",
            "indicator",
            "subject",
            "competitor_id",
            "segment",
            "touchpoint_id",
            "role",
            "n",
            "total",
            "total_sq",
        ],
        unique=False,
    )
    op.create_table(
        "item_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("c0", sa.Integer(), nullable=False),
        sa.Column("c1", sa.Integer(), nullable=False),
        sa.Column("c2", sa.Integer(), nullable=False),
        sa.Column("c3", sa.Integer(), nullable=False),
        sa.Column("c4", sa.Integer(), nullable=False),
        sa.Column("c5", sa.Integer(), nullable=False),
        sa.Column("c6", sa.Integer(), nullable=False),
        sa.Column("c7", sa.Integer(), nullable=False),
        sa.Column("c8", sa.Integer(), nullable=False),
        sa.Column("c9", sa.Integer(), nullable=False),
        sa.Column("c10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "segment", "touchpoint_id", "role", "item_code"),
    )
    op.create_index(
        "ix_item_rollup_by_month",
        "item_rollup",
        [
            "month",
            "item_code",
            "segment",
            "touchpoint_id",
            "role",
            "c0",
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
            "c6",
            "c7",
            "c8",
            "c9",
            "c10",
        ],
        unique=False,
    )
    op.create_table(
        "pair_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("item_a", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("item_b", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_a", sa.Float(), nullable=False),
        sa.Column("sum_b", sa.Float(), nullable=False),
        sa.Column("sum_ab", sa.Float(), nullable=False),
        sa.Column("sum_aa", sa.Float(), nullable=False),
        sa.Column("sum_bb", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("month", "segment", "item_a", "item_b"),
    )
    op.create_table(
        "score_segment_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("month", "indicator", "subject", "competitor_id", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "own_touchpoint_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_sq", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("month", "touchpoint_id", "indicator", "segment"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "item_segment_rollup",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("item_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("c0", sa.Integer(), nullable=False),
        sa.Column("c1", sa.Integer(), nullable=False),
        sa.Column("c2", sa.Integer(), nullable=False),
        sa.Column("c3", sa.Integer(), nullable=False),
        sa.Column("c4", sa.Integer(), nullable=False),
        sa.Column("c5", sa.Integer(), nullable=False),
        sa.Column("c6", sa.Integer(), nullable=False),
        sa.Column("c7", sa.Integer(), nullable=False),
        sa.Column("c8", sa.Integer(), nullable=False),
        sa.Column("c9", sa.Integer(), nullable=False),
        sa.Column("c10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "item_code", "segment"),
        sqlite_with_rowid=False,
    )
