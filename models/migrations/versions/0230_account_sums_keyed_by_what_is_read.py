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

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

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


def _rekey(name: str, key: Sequence[str]) -> None:
    """Give table ``name`` the primary key ``key``, its rows kept."""
    bind = op.get_bind()
    table = sa.Table(name, sa.MetaData(), autoload_with=bind)
    # One statement per table, seconds on a large base: each table says so.
    say = context.config.attributes.get("say") or (lambda _line: None)
    rows = bind.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    say(f"  {name}: ordering {rows:,} rows by the new key…")
    started = time.perf_counter()
    if bind.dialect.name == "sqlite":
        _copied_under(table, key)
    else:
        op.drop_constraint(f"{name}_pkey", name, type_="primary")
        op.create_primary_key(f"{name}_pkey", name, list(key))
    say(f"  {name}: done in {time.perf_counter() - started:.0f} s")


def _copied_under(table: sa.Table, key: Sequence[str]) -> None:
    """SQLite: ``table``'s rows copied into a table of primary key ``key``, which then takes
    its name."""
    # The key's columns first, in its order, then the sums: as the model declares them.
    columns = [table.c[column] for column in key] + [c for c in table.columns if c.name not in key]
    staged = f"{table.name}_rekeyed"
    op.create_table(
        staged,
        *(sa.Column(column.name, column.type, nullable=False) for column in columns),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=False,
    )
    names = ", ".join(column.name for column in columns)
    op.execute(f"INSERT INTO {staged} ({names}) SELECT {names} FROM {table.name}")
    op.drop_table(table.name)
    op.rename_table(staged, table.name)


def upgrade() -> None:
    for name, (_, key) in KEYS.items():
        _rekey(name, key)


def downgrade() -> None:
    for name, (key, _) in KEYS.items():
        _rekey(name, key)
