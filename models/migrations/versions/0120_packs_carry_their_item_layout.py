"""packed responses carry the fingerprint of their item layout

Revision ID: 0120
Revises: 0010
Create Date: 2026-11-30 09:30:00

Packs now begin with the fingerprint of the instrument's item layout they were packed with, so
packs written before have the wrong shape: they are emptied here and packed again from the
answer and score rows by ``survey.exports.packs.fill_missing`` (the app and every command do it
at start, with progress; an export packs what it still finds empty on the fly).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120"
down_revision: str | None = "0110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE response SET export_pack = NULL WHERE export_pack IS NOT NULL"))


def downgrade() -> None:
    # Packs of the new shape cannot be read by the older code: empty them for it to refill.
    op.execute(sa.text("UPDATE response SET export_pack = NULL WHERE export_pack IS NOT NULL"))
