"""Giving an aggregate table a new primary key, its rows kept: the step of the migrations that
order a table's rows anew for the reads it serves (0230, 0240).

SQLite cannot change a table's key in place: the rows are copied into a table of the new key,
which then takes the old one's name. PostgreSQL drops the key's constraint and makes it again.
Each table says what it is doing, with its rows and the time it took, through the ``say`` the
caller of the upgrade handed to Alembic's configuration (``models.db.upgrade_schema``); the
copy of one table is one statement, seconds on a large base.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op


def rekey(name: str, key: Sequence[str]) -> None:
    """Give table ``name`` the primary key ``key``, its rows kept."""
    bind = op.get_bind()
    table = sa.Table(name, sa.MetaData(), autoload_with=bind)
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
