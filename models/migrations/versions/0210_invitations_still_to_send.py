"""invitations still to send indexed by when they are due

Revision ID: 0210
Revises: 0200
Create Date: 2026-12-02 19:30:00

The worker's every pass looks for invitations whose survey delay has passed and whose mail
has not gone out. Without an index it read every invitation ever made: 0.1-0.2 s a pass on a
million, every few seconds, beside whatever the pages and the survey were doing.
``ix_invitation_to_send`` holds only those still to send (none, most of the time), by due time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0210"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As ``models.tables.TO_SEND`` was when this revision was written.
TO_SEND = "send_after IS NOT NULL AND sent_at IS NULL AND completed_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_invitation_to_send",
        "invitation",
        ["send_after", "id"],
        sqlite_where=sa.text(TO_SEND),
        postgresql_where=sa.text(TO_SEND),
    )


def downgrade() -> None:
    op.drop_index("ix_invitation_to_send", table_name="invitation")
