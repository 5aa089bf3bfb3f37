"""account-keyed score sums led by the subject, answer counts by the item

Revision ID: 0230
Revises: 0220
Create Date: 2026-12-03 18:20:00

Every read of ``account_score_rollup`` is of one subject (our own scores, or the leaders'),
and every read of ``account_item_rollup`` names its items (the recommendation's counts, say).
Both keys began with the account, so a read over every account passed over every row: four
leaders' rows for each of our own, thirty items' for the recommendation's. The subject, and
the item, now lead the key, before the account: such a read is one range of the table, and
one account's or a manager's accounts' rows are still found by their key. The rows are kept
as they are, only ordered anew (SQLite cannot change a table's key in place: the rows are
copied into a table of the new key, which then takes the old one's name).
"""

from collections.abc import Sequence

from models.rekeying import rekey

revision: str = "0230"
down_revision: str | None = "0220"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Per table: the key before and after.
KEYS = {
    "account_score_rollup": (
        ("account_id", "version", "month", "indicator", "subject", "competitor_id", "segment"),
        ("subject", "account_id", "version", "month", "indicator", "competitor_id", "segment"),
    ),
    "account_item_rollup": (
        ("account_id", "version", "month", "item_code", "segment"),
        ("item_code", "account_id", "version", "month", "segment"),
    ),
}


def upgrade() -> None:
    for name, (_, key) in KEYS.items():
        rekey(name, key)


def downgrade() -> None:
    for name, (key, _) in KEYS.items():
        rekey(name, key)
