"""responses by form summed per account

Revision ID: 0190
Revises: 0180
Create Date: 2026-11-30 21:45:00

How many pulses and check-ups the figures rest on was counted over the raw responses of the
selection on every open of the Dashboard (about a second for a manager at a million
responses). ``form_rollup`` keeps that count per account, month, touchpoint and segment. The
table starts empty: the next start (``prepare_database``) fills it from the responses, with
progress, and every submission adds to it from then on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0190"
down_revision: str | None = "0180"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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


def downgrade() -> None:
    op.drop_table("form_rollup")
