"""Query results as Arrow tables, the fastest way each backend offers.

An export reads about 30 answers and 12 scores per response: at a million responses that is
tens of millions of rows, and building a Python tuple for each costs more than the query.
On a SQLite file the ADBC driver builds the Arrow columns in C; elsewhere the rows come
through SQLAlchemy Core and are turned into columns in one pass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Select
from sqlmodel import Session


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them in SQLite: naive UTC text, booleans as 0/1.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class ArrowFetcher:
    """Runs selects and returns Arrow tables with a given schema. Close it when done."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._adbc: Any = None
        bind = session.get_bind()
        database = bind.url.database if bind.dialect.name == "sqlite" else None
        if database and database != ":memory:":
            try:
                import adbc_driver_sqlite.dbapi as adbc_sqlite
            except ImportError:  # the driver is optional: Core does the same, more slowly
                return
            self._adbc = adbc_sqlite.connect(database)

    def _sqlite(self, statement: Select[Any]) -> tuple[str, list[Any]]:
        compiled = statement.compile(
            dialect=self.session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
        )
        return str(compiled), [_sqlite_value(compiled.params[name]) for name in compiled.positiontup or ()]

    def rows(self, statement: Select[Any]) -> list[tuple]:
        """Plain tuples; on SQLite straight from the driver (timestamps stay text, booleans 0/1),
        skipping SQLAlchemy's per-value conversions."""
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            sql, params = self._sqlite(statement)
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                return cursor.execute(sql, params).fetchall()
            finally:
                cursor.close()
        return [tuple(row) for row in connection.execute(statement)]

    def table(self, statement: Select[Any], schema: pa.Schema) -> pa.Table:
        if self._adbc is not None:
            sql, params = self._sqlite(statement)
            with self._adbc.cursor() as cursor:
                cursor.execute(sql, params)
                table = cursor.fetch_arrow_table()
            if table.num_rows == 0:
                return schema.empty_table()
            return pa.Table.from_arrays(
                [column.cast(field.type) for column, field in zip(table.columns, schema, strict=True)],
                schema=schema,
            )
        rows = self.session.connection().execute(statement).all()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        return pa.Table.from_arrays(
            [pa.array(list(values), type=field.type) for values, field in zip(columns, schema, strict=True)],
            schema=schema,
        )

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
