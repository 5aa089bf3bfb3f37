"""pulse and check-up forms, touchpoint rules, the instrument fingerprint of each response

Revision ID: 0160
Revises: 0010
Create Date: 2026-11-30 09:10:00

Existing invitations and responses were all answered on the full instrument: they are
check-ups. Their fingerprint stays empty (the instrument files of their version say it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0160"
down_revision: str | None = "0170"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("touchpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "form_rule",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                server_default="auto",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("survey_delay_hours", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "form", sqlmodel.sql.sqltypes.AutoString(length=10), server_default="checkup", nullable=False
            )
        )
        batch_op.add_column(sa.Column("design_slot", sa.Integer(), nullable=True))
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("instrument_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "form", sqlmodel.sql.sqltypes.AutoString(length=10), server_default="checkup", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("form")
        batch_op.drop_column("instrument_fingerprint")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_column("design_slot")
        batch_op.drop_column("form")
    with op.batch_alter_table("touchpoint", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
        batch_op.drop_column("survey_delay_hours")
        batch_op.drop_column("form_rule")
