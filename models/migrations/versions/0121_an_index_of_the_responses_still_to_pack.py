"""an index of the responses still to be packed

Revision ID: 0121
Revises: 0120
Create Date: 2026-11-30 09:45:00

Every start asks whether any response still needs packing for exports; on a million responses
that question read the whole table. The partial index holds only those rows, so it is answered
at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0121"
down_revision: str | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPACKED = sa.text("export_pack IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_response_unpacked",
        "response",
        ["id"],
        unique=False,
        sqlite_where=UNPACKED,
        postgresql_where=UNPACKED,
    )


def downgrade() -> None:
    op.drop_index("ix_response_unpacked", table_name="response")
