"""account-keyed sums ordered by version, account, then what a figure groups them by

Revision ID: 0240
Revises: 0230
Create Date: 2026-12-03 21:10:00

A figure clustered by account sums each account's rows over the months first (per account,
indicator and leader, say) and then those sums over the accounts. The account-keyed score
sums, touchpoint sums and paired ratings kept the month before the indicator, touchpoint and
leader, so the database sorted every row in scope to bring each account's months together.
The months now come last in the key, after what a figure groups by, and the instrument
version (which every read names) before the account: the rows of one account and group lie
together, and the database sums them as it reads them. One account's or a manager's accounts'
rows are still found by their key; the rows themselves are kept as they are.
"""

from collections.abc import Sequence

from models.rekeying import rekey

revision: str = "0240"
down_revision: str | None = "0230"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Per table: the key before and after.
KEYS = {
    "account_score_rollup": (
        ("subject", "account_id", "version", "month", "indicator", "competitor_id", "segment"),
        ("subject", "version", "account_id", "indicator", "competitor_id", "month", "segment"),
    ),
    "account_touchpoint_rollup": (
        ("account_id", "version", "month", "touchpoint_id", "indicator", "segment"),
        ("version", "account_id", "touchpoint_id", "indicator", "month", "segment"),
    ),
    "account_leader_pair_rollup": (
        ("account_id", "version", "month", "indicator", "competitor_id", "segment"),
        ("version", "account_id", "indicator", "competitor_id", "month", "segment"),
    ),
}


def upgrade() -> None:
    for name, (_, key) in KEYS.items():
        rekey(name, key)


def downgrade() -> None:
    for name, (key, _) in KEYS.items():
        rekey(name, key)
