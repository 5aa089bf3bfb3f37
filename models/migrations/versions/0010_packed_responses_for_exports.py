"""each response packed on its row, for exports

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-24 04:30:00

The column starts empty; ``survey.exports.packs.fill_missing`` packs existing responses (the app
does it at start), so that this migration stays independent of the instrument files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("response", sa.Column("export_pack", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("export_pack")
