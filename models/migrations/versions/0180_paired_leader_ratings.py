"""paired leader ratings replace the item-pair sums

Revision ID: 0180
Revises: 0175
Create Date: 2026-11-30 16:20:00

The item-pair sums (``pair_rollup``, ``account_pair_rollup``) were no longer read: reliability
is computed per form from the answers. In their place, sums of paired ratings: a leader's rating
beside the respondent's answer to our matching statement, which the benchmark gaps test as
pairs. The score sums are emptied too, so that the next start (``prepare_database``) rebuilds
every aggregate from the raw tables, the new ones included, and says so with progress; this
migration stays independent of the instrument files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0180"
down_revision: str | None = "0175"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = ("sum_a", "sum_b", "sum_ab", "sum_aa", "sum_bb")


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def _sums() -> list[sa.Column]:
    return [sa.Column("n", sa.Integer(), nullable=False)] + [
        sa.Column(name, sa.Float(), nullable=False) for name in SUMS
    ]


def upgrade() -> None:
    op.drop_table("pair_rollup")
    op.drop_table("account_pair_rollup")
    op.create_table(
        "leader_pair_rollup",
        sa.Column("version", sa.Integer(), nullable=False),
        _text("month", 7),
        _text("indicator", 30),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        _text("segment", 100),
        sa.Column("touchpoint_id", sa.Integer(), nullable=False),
        _text("role", 30),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "version", "month", "indicator", "competitor_id", "segment", "touchpoint_id", "role"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "account_leader_pair_rollup",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _text("month", 7),
        _text("indicator", 30),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        _text("segment", 100),
        *_sums(),
        sa.PrimaryKeyConstraint("account_id", "version", "month", "indicator", "competitor_id", "segment"),
        sqlite_with_rowid=False,
    )
    op.execute("DELETE FROM score_segment_rollup")


def downgrade() -> None:
    op.drop_table("account_leader_pair_rollup")
    op.drop_table("leader_pair_rollup")
    for table, leading in (("pair_rollup", []), ("account_pair_rollup", ["account_id"])):
        op.create_table(
            table,
            *(sa.Column(name, sa.Integer(), nullable=False) for name in leading),
            sa.Column("version", sa.Integer(), nullable=False),
            _text("month", 7),
            _text("item_a", 30),
            _text("item_b", 30),
            _text("segment", 100),
            *_sums(),
            sa.PrimaryKeyConstraint(*leading, "version", "month", "item_a", "item_b", "segment"),
            sqlite_with_rowid=False,
        )
    op.execute("DELETE FROM score_segment_rollup")
