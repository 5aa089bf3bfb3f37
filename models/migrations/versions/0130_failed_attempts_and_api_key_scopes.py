"""failed attempts kept in the database, API key scopes

Sign-in lock-outs move from the user row to ``failed_attempts``, keyed on the name tried and
the address it came from, so unknown names lock alike and replicas share the count. Keys made
before scopes existed keep both powers they had.

Revision ID: 0130
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0130"
down_revision: str | None = "0122"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOTH = "write:interactions,read:responses"


def upgrade() -> None:
    op.create_table(
        "failed_attempts",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    # In place, on SQLite too (ADD and DROP COLUMN, SQLite 3.35+): copying the tables would
    # leave their old pages free in the file.
    op.add_column(
        "api_key",
        sa.Column(
            "scopes", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=BOTH
        ),
    )
    op.drop_column("app_user", "locked_until")
    op.drop_column("app_user", "failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("scopes")
    op.drop_table("failed_attempts")
