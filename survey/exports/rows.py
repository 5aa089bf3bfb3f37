"""Reading responses for export, a chunk at a time, as Arrow tables.

Responses are read in id order with keyset paging (``id > last``), and each chunk's answers
and scores are read for exactly the responses of that chunk, then pivoted with numpy. A
chunk is all that is ever in memory, whatever the number of responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Select, case, func, literal, null, select
from sqlmodel import Session

from models.tables import (
    Account,
    Answer,
    Competitor,
    Contact,
    FollowUp,
    IndicatorScore,
    Interaction,
    Response,
    Touchpoint,
)
from survey.access import Scope
from survey.dashboard import Filters, where_dimensions
from survey.exports.columns import Column, Kind, long_columns, wide_columns
from survey.exports.fetch import ArrowFetcher
from survey.rollups import UNKNOWN_ROLE

DEFAULT_CHUNK = 20_000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ARROW_TYPES: dict[Kind, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "bool": pa.bool_(),
}
ITEM_TYPE = pa.int8()  # answers are 0..10


class ExportError(ValueError):
    """The export cannot be made as asked; the message names what is wrong. Nothing was written."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export: the dashboard's filters, the reader's scope and the layout."""

    filters: Filters = field(default_factory=Filters)
    scope: Scope = field(default_factory=Scope.everything)
    long: bool = False
    chunk_size: int = DEFAULT_CHUNK


def month_start(month: str, name: str) -> datetime:
    if not _MONTH.match(month):
        raise ExportError(f"{name} must be a month as YYYY-MM, not {month!r}")
    return datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC)


def _next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)


def where_filters(statement: Select[Any], filters: Filters, scope: Scope) -> Select[Any]:
    """The dashboard's filters and the reader's scope on a select over Response (joined to Contact).

    Months become timestamp bounds, so that the index on ``submitted_at`` is used."""
    statement = statement.where(scope.condition(Response.account_id))
    if filters.start:
        statement = statement.where(Response.submitted_at >= month_start(filters.start, "start"))
    if filters.end:
        statement = statement.where(Response.submitted_at < _next_month(month_start(filters.end, "end")))
    return where_dimensions(statement, filters, func.coalesce(Contact.role, literal(UNKNOWN_ROLE)))


def _selected(*columns: Any) -> Select[Any]:
    return (
        select(*columns)
        .select_from(Response)
        .join(Account, Account.id == Response.account_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
    )


def count_responses(session: Session, request: ExportRequest) -> int:
    statement = where_filters(_selected(func.count(Response.id)), request.filters, request.scope)
    return int(session.execute(statement).scalar_one())


def _identity(column: Any) -> Any:
    # Anonymous responses: the contact's identity never leaves the database.
    return case((Response.anonymous, null()), else_=column)


# The response's own columns, in the order ``_context`` reads them.
RESPONSE_FIELDS = (
    Response.id,
    Response.interaction_id,
    Response.account_id,
    Account.name,
    Account.segment,
    Touchpoint.name,
    _identity(Response.contact_id),
    _identity(Contact.name),
    _identity(Contact.email),
    Contact.role,
    Response.anonymous,
    Interaction.occurred_at,
    Response.submitted_at,
    Response.instrument_version,
    Response.locale,
    Response.duration_seconds,
    FollowUp.status,
    FollowUp.note,
    Response.nps,
    Response.nps_category,
    func.coalesce(Competitor.name, Response.leader_other),
    Response.value_level,
    Response.moment,
    Response.comment,
)
CONTEXT_NAMES = [column.name for column in wide_columns()[:18]]
TAIL_NAMES = ["NPS", "nps_category", "LEADER", "VALUE_LEVEL", "MOMENT", "COMMENT"]


def _response_chunk(fetcher: ArrowFetcher, request: ExportRequest, after: int, limit: int) -> list[tuple]:
    statement = (
        _selected(*RESPONSE_FIELDS)
        .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .join(Interaction, Interaction.id == Response.interaction_id)
        .outerjoin(FollowUp, FollowUp.response_id == Response.id)
        .outerjoin(Competitor, Competitor.id == Response.leader_competitor_id)
        .where(Response.id > after)
        .order_by(Response.id)
        .limit(limit)
    )
    statement = where_filters(statement, request.filters, request.scope)
    return fetcher.rows(statement)


def _ids_between(request: ExportRequest, first: int, last: int) -> Select[Any]:
    """The chunk's response ids again, as a subquery for its answers and scores."""
    statement = _selected(Response.id).where(Response.id >= first, Response.id <= last)
    return where_filters(statement, request.filters, request.scope)


def _of_chunk(column: Any, request: ExportRequest, first: int, last: int) -> Any:
    """Rows of the chunk's responses: a plain id range (one index scan) when nothing is filtered."""
    if request.filters == Filters(grain=request.filters.grain) and request.scope.is_everything:
        return column.between(first, last)
    return column.in_(_ids_between(request, first, last))


ANSWER_SCHEMA = pa.schema([("response_id", pa.int64()), ("item_code", pa.string()), ("value", pa.int8())])
SCORE_SCHEMA = pa.schema(
    [
        ("response_id", pa.int64()),
        ("subject", pa.string()),
        ("indicator", pa.string()),
        ("score", pa.float64()),
        ("score_100", pa.float64()),
    ]
)


def _answers(fetcher: ArrowFetcher, request: ExportRequest, first: int, last: int) -> pa.Table:
    statement = select(Answer.response_id, Answer.item_code, Answer.value).where(
        _of_chunk(Answer.response_id, request, first, last)
    )
    return fetcher.table(statement, ANSWER_SCHEMA)


def _scores(fetcher: ArrowFetcher, request: ExportRequest, first: int, last: int) -> pa.Table:
    statement = select(
        IndicatorScore.response_id,
        IndicatorScore.subject,
        IndicatorScore.indicator,
        IndicatorScore.score,
        IndicatorScore.score_100,
    ).where(_of_chunk(IndicatorScore.response_id, request, first, last))
    return fetcher.table(statement, SCORE_SCHEMA)


def _as_arrow(values: list[Any], kind: Kind) -> pa.Array:
    if kind in ("date", "timestamp"):
        if isinstance(next((v for v in values if v is not None), None), str):  # SQLite: naive UTC text
            moments = pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(ARROW_TYPES["timestamp"])
        else:
            moments = pa.array(values, type=ARROW_TYPES["timestamp"])
        return moments.cast(pa.date32()) if kind == "date" else moments
    if kind == "bool":
        return pa.array([None if value is None else bool(value) for value in values], pa.bool_())
    return pa.array(values, type=ARROW_TYPES[kind])


def _places(ids: np.ndarray, response_ids: pa.ChunkedArray, keys: pa.ChunkedArray, known: list[str]) -> tuple:
    """Row and column of each fetched value in the chunk's matrix; column -1: not exported."""
    rows = np.searchsorted(ids, response_ids.to_numpy())
    columns = pc.index_in(keys, value_set=pa.array(known, pa.string())).fill_null(-1).to_numpy()
    return rows, columns.astype(np.int64)


def _matrix(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int], dtype: Any
) -> Any:
    keep = cols >= 0
    matrix = np.zeros(shape, dtype=dtype)
    present = np.zeros(shape, dtype=bool)
    matrix[rows[keep], cols[keep]] = values[keep]
    present[rows[keep], cols[keep]] = True
    return matrix, present


class ChunkReader:
    """Reads the export a chunk at a time; ``columns`` says what each table holds."""

    def __init__(self, session: Session, request: ExportRequest) -> None:
        if request.chunk_size < 1:
            raise ExportError("chunk size must be at least 1")
        self.session = session
        self.request = request
        self.wide = wide_columns()
        self.columns: list[Column] = long_columns() if request.long else self.wide
        self.schema = pa.schema([(c.name, self._type(c)) for c in self.columns])
        by_name = {column.name: column for column in self.wide}
        self._scale_codes = [c.name for c in self.wide if c.item_code and c.name not in TAIL_NAMES]
        self._score_names = [c.name for c in self.wide if c.kind == "float"]
        self._kinds = {name: by_name[name].kind for name in CONTEXT_NAMES + TAIL_NAMES}
        self._indicator_of = {c.item_code: c.indicator for c in self.wide if c.item_code}
        self._score_keys = [
            name.removesuffix("_score") for name in self._score_names if name.endswith("_score")
        ]

    def _type(self, column: Column) -> pa.DataType:
        if (column.item_code and column.kind == "int") or column.name == "value":
            return ITEM_TYPE
        return ARROW_TYPES[column.kind]

    def chunks(self, after: int = 0, limit: int | None = None) -> Iterator[pa.Table]:
        """Tables of up to ``chunk_size`` responses (long: their answers) with ids above ``after``."""
        fetcher = ArrowFetcher(self.session)
        try:
            yield from self._chunks(fetcher, after, limit)
        finally:
            fetcher.close()

    def _chunks(self, fetcher: ArrowFetcher, after: int, limit: int | None) -> Iterator[pa.Table]:
        left = limit
        while left is None or left > 0:
            size = self.request.chunk_size if left is None else min(left, self.request.chunk_size)
            rows = _response_chunk(fetcher, self.request, after, size)
            if not rows:
                return
            yield self._long(fetcher, rows) if self.request.long else self._wide(fetcher, rows)
            after = rows[-1][0]
            if left is not None:
                left -= len(rows)
            if len(rows) < size:
                return

    def _context(self, rows: list[tuple]) -> dict[str, pa.Array]:
        fields = list(zip(*rows, strict=True))
        names = CONTEXT_NAMES + TAIL_NAMES
        return {name: _as_arrow(list(fields[i]), self._kinds[name]) for i, name in enumerate(names)}

    def _wide(self, fetcher: ArrowFetcher, rows: list[tuple]) -> pa.Table:
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        first, last = int(ids[0]), int(ids[-1])
        arrays = self._context(rows)
        arrays["NPS"] = arrays["NPS"].cast(ITEM_TYPE)
        arrays["VALUE_LEVEL"] = arrays["VALUE_LEVEL"].cast(ITEM_TYPE)

        answers = _answers(fetcher, self.request, first, last)
        at, code = _places(ids, answers["response_id"], answers["item_code"], self._scale_codes)
        values = answers["value"].to_numpy()
        matrix, given = _matrix(at, code, values, (len(ids), len(self._scale_codes)), np.int8)
        for index, name in enumerate(self._scale_codes):
            arrays[name] = pa.array(matrix[:, index], type=ITEM_TYPE, mask=~given[:, index])

        scores = _scores(fetcher, self.request, first, last)
        prefix = pc.if_else(pc.equal(scores["subject"], "leader"), "leader_", "")
        keys = pc.binary_join_element_wise(prefix, scores["indicator"], "")
        at, code = _places(ids, scores["response_id"], keys, self._score_keys)
        shape = (len(ids), len(self._score_keys))
        low, present = _matrix(at, code, scores["score"].to_numpy(), shape, np.float64)
        high, _ = _matrix(at, code, scores["score_100"].to_numpy(), shape, np.float64)
        for index, key in enumerate(self._score_keys):
            arrays[f"{key}_score"] = pa.array(low[:, index], mask=~present[:, index])
            arrays[f"{key}_100"] = pa.array(high[:, index], mask=~present[:, index])
        return pa.Table.from_arrays([arrays[c.name] for c in self.columns], schema=self.schema)

    def _long(self, fetcher: ArrowFetcher, rows: list[tuple]) -> pa.Table:
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        context = self._context(rows)
        codes = [*self._scale_codes, "NPS"]
        answers = _answers(fetcher, self.request, int(ids[0]), int(ids[-1]))
        at, code = _places(ids, answers["response_id"], answers["item_code"], codes)
        keep = code >= 0
        order = np.lexsort((code[keep], at[keep]))  # by response, then in instrument order
        at, code = at[keep][order], code[keep][order]
        value = answers["value"].to_numpy()[keep][order]
        taken = pa.array(at)
        arrays = {name: context[name].take(taken) for name in self.columns_names_before_item()}
        item_codes = pa.array(codes, pa.string()).take(pa.array(code))
        indicators = pa.array([self._indicator_of.get(c, "") for c in codes], pa.string())
        arrays["item_code"] = item_codes
        arrays["indicator"] = indicators.take(pa.array(code))
        arrays["value"] = pa.array(value, type=ITEM_TYPE)
        return pa.Table.from_arrays([arrays[c.name] for c in self.columns], schema=self.schema)

    def columns_names_before_item(self) -> list[str]:
        return [column.name for column in self.columns if column.name in CONTEXT_NAMES]
