"""responses and interactions indexed by time within their contact and account

Revision ID: 0175
Revises: 0162
Create Date: 2026-11-30 16:00:00

My accounts reads each contact's latest answer and each account's latest answer and
interaction. With an index on the contact or account alone, that meant reading every one of
their rows; with the time added to it, the latest is the first entry of each range, so the
cost follows the number of contacts and accounts, not of responses. Each new index starts
with the column of the one it replaces, so every lookup by contact or account still finds one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0175"
down_revision: str | None = "0162"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_response_account_submitted", "response", ["account_id", "submitted_at"], unique=False)
    op.create_index(
        "ix_response_contact_submitted", "response", ["contact_id", "submitted_at", "id"], unique=False
    )
    op.create_index(
        "ix_interaction_account_occurred", "interaction", ["account_id", "occurred_at"], unique=False
    )
    op.drop_index("ix_response_account_id", table_name="response")
    op.drop_index("ix_response_contact_id", table_name="response")
    op.drop_index("ix_interaction_account_id", table_name="interaction")


def downgrade() -> None:
    op.create_index("ix_interaction_account_id", "interaction", ["account_id"], unique=False)
    op.create_index("ix_response_contact_id", "response", ["contact_id"], unique=False)
    op.create_index("ix_response_account_id", "response", ["account_id"], unique=False)
    op.drop_index("ix_interaction_account_occurred", table_name="interaction")
    op.drop_index("ix_response_contact_submitted", table_name="response")
    op.drop_index("ix_response_account_submitted", table_name="response")
