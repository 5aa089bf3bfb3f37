"""Reading responses for export, a chunk at a time, as Arrow tables.

Responses are read in id order with keyset paging (``id > last``), one row each: their answers,
scores and fixed facts come packed (``survey.exports.packs``) and are unpacked with numpy; accounts,
contacts, touchpoints and competitors are read once and looked up by id, follow-ups per chunk.
A chunk is all that is ever in memory, whatever the number of responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Select, func, literal, select
from sqlmodel import Session, col

from models.tables import (
    Account,
    Competitor,
    Contact,
    FollowUp,
    Response,
    Touchpoint,
)
from survey.comments.tags import TagRule, list_rules, tags_of
from survey.exports import fetch, packs
from survey.exports.columns import Column, Kind, long_columns, wide_columns
from survey.instrument.scoring import nps_category
from survey.people.access import Scope
from survey.reporting.filters import UNKNOWN_ROLE, Filters, month_begins, month_ends, where_dimensions

DEFAULT_CHUNK = 20_000
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
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


# Months a filter may name: wide enough for any survey, narrow enough that the month after
# the last one is still a date.
FIRST_YEAR, LAST_YEAR = 1970, 2999


def month_start(month: str, name: str) -> datetime:
    if not _MONTH.match(month) or not FIRST_YEAR <= int(month[:4]) <= LAST_YEAR:
        raise ExportError(
            f"{name} must be a month as YYYY-MM, not {month[:20]!r} (years {FIRST_YEAR} to {LAST_YEAR})"
        )
    return month_begins(month)


def where_filters(statement: Select[Any], filters: Filters, scope: Scope) -> Select[Any]:
    """The dashboard's filters and the reader's scope on a select over Response (joined to Contact).

    Months become timestamp bounds, so that the index on ``submitted_at`` is used."""
    statement = statement.where(scope.condition(Response.account_id))
    if filters.start:
        statement = statement.where(col(Response.submitted_at) >= month_start(filters.start, "start"))
    if filters.end:
        month_start(filters.end, "end")  # refuses a malformed month before it is used
        statement = statement.where(col(Response.submitted_at) < month_ends(filters.end))
    return where_dimensions(statement, filters, func.coalesce(Contact.role, literal(UNKNOWN_ROLE)))


def _selected(filters: Filters, *columns: Any) -> Select[Any]:
    """``columns`` of responses, joined to their account and contact only where ``filters``
    ask for a segment or a role: counting a million responses through both joins takes over a
    second, through the responses' own indexes some milliseconds."""
    statement = select(*columns).select_from(Response)
    if filters.segments:
        statement = statement.join(Account, col(Account.id) == Response.account_id)
    if filters.roles:
        statement = statement.outerjoin(Contact, col(Contact.id) == Response.contact_id)
    return statement


def count_responses(session: Session, request: ExportRequest) -> int:
    selected = _selected(request.filters, func.count(col(Response.id)))
    return int(session.execute(where_filters(selected, request.filters, request.scope)).scalar_one())


# What is read per response; everything fixed at submission comes packed (``survey.exports.packs``).
FETCHED = {
    "response_id": Response.id,
    "account_id": Response.account_id,
    "anonymous": Response.anonymous,
    "form": Response.form,
    "leader_other": Response.leader_other,
    "COMMENT": Response.comment,
    "export_pack": Response.export_pack,
}
TAIL_NAMES = ["NPS", "nps_category", "LEADER", "VALUE_LEVEL", "MOMENT", "COMMENT"]
NPS_CATEGORIES = pa.array([nps_category(nps) for nps in range(11)], pa.string())


@dataclass
class _Fetched:
    """One chunk as read: its columns as the driver gave them, keyed as in ``FETCHED``."""

    values: dict[str, tuple]

    @property
    def size(self) -> int:
        return len(self.values["response_id"])

    def ids(self, name: str = "response_id") -> np.ndarray:
        return np.fromiter(self.values[name], dtype=np.int64, count=self.size)

    def text(self, name: str) -> pa.Array:
        return pa.array(self.values[name], pa.string())


def _response_chunk(session: Session, request: ExportRequest, after: int, limit: int) -> _Fetched:
    statement = (
        _selected(request.filters, *FETCHED.values())
        .where(col(Response.id) > after)
        .order_by(col(Response.id))
        .limit(limit)
    )
    statement = where_filters(statement, request.filters, request.scope)
    return _Fetched(dict(zip(FETCHED, fetch.columns(session, statement), strict=True)))


class _Lookup:
    """A small table read once per export (accounts, contacts, ...), looked up by id per chunk."""

    def __init__(self, session: Session, key: Any, *columns: Any, where: Any = None) -> None:
        statement = select(key, *columns)
        rows = sorted(session.execute(statement if where is None else statement.where(where)).all())
        self.ids = np.array([row[0] for row in rows], dtype=np.int64)
        self.columns = [pa.array([row[i + 1] for row in rows], pa.string()) for i in range(len(columns))]

    def take(self, keys: np.ndarray, column: int, hide: np.ndarray | None = None) -> pa.Array:
        """Column ``column`` of the rows with these ids; empty for an unknown id or where ``hide``."""
        places = np.searchsorted(self.ids, keys).clip(0, max(len(self.ids) - 1, 0))
        found = self.ids[places] == keys if len(self.ids) else np.zeros(len(keys), dtype=bool)
        if hide is not None:
            found &= ~hide
        return self.columns[column].take(pa.array(places, mask=~found))


class _Lookups:
    def __init__(self, session: Session) -> None:
        self.account = _Lookup(session, Account.id, Account.name, Account.segment)
        self.touchpoint = _Lookup(session, Touchpoint.id, Touchpoint.name)
        self.contact = _Lookup(session, Contact.id, Contact.name, Contact.email, Contact.role)
        self.competitor = _Lookup(session, Competitor.id, Competitor.name)


def _follow_ups(session: Session, ids: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Status and notes of the follow-ups of these responses (sorted ids), empty where none."""
    found = _Lookup(
        session,
        FollowUp.response_id,
        FollowUp.status,
        FollowUp.note,
        where=col(FollowUp.response_id).between(int(ids[0]), int(ids[-1])),
    )
    return found.take(ids, 0), found.take(ids, 1)


def _optional(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    return pa.array(values, kind, mask=values == packs.NONE)


def _moments(micros: np.ndarray) -> pa.Array:
    return pa.array(micros, pa.int64()).cast(ARROW_TYPES["timestamp"])


def _text(values: np.ndarray) -> pa.Array:
    """Fixed-width bytes from the facts as text; empty means none."""
    return pa.array(values, pa.binary(), mask=values == b"").cast(pa.string())


@dataclass
class _Chunk:
    """One chunk as read, with its packs unpacked."""

    fetched: _Fetched
    ids: np.ndarray
    packed: packs.Unpacked

    @property
    def facts(self) -> np.ndarray:
        return self.packed.facts


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
        self._scale_codes = [c.name for c in self.wide if c.item_code and c.name not in TAIL_NAMES]
        self._score_names = [c.name for c in self.wide if c.kind == "float"]
        self._indicator_of = {c.item_code: c.indicator for c in self.wide if c.item_code}
        self._score_keys = [
            name.removesuffix("_score") for name in self._score_names if name.endswith("_score")
        ]
        self._lookups: _Lookups | None = None
        self._tag_rules: list[TagRule] | None = None

    def _type(self, column: Column) -> pa.DataType:
        if (column.item_code and column.kind == "int") or column.name == "value":
            return ITEM_TYPE
        return ARROW_TYPES[column.kind]

    def chunks(self, after: int = 0, limit: int | None = None) -> Iterator[pa.Table]:
        """Tables of up to ``chunk_size`` responses (long: their answers) with ids above ``after``."""
        left = limit
        while left is None or left > 0:
            size = self.request.chunk_size if left is None else min(left, self.request.chunk_size)
            fetched = _response_chunk(self.session, self.request, after, size)
            if fetched.size == 0:
                return
            chunk = self._unpack(fetched)
            yield self._long(chunk) if self.request.long else self._wide(chunk)
            after = int(chunk.ids[-1])
            if left is not None:
                left -= fetched.size
            if fetched.size < size:
                return

    def _unpack(self, fetched: _Fetched) -> _Chunk:
        ids = fetched.ids()
        return _Chunk(fetched, ids, packs.read(self.session, ids, fetched.values["export_pack"]))

    def _comment_tags(self, comments: tuple) -> pa.Array:
        """Each comment's tags from the keyword rules (survey/comments/tags.py), empty where none."""
        if self._tag_rules is None:
            self._tag_rules = list_rules(self.session)
        if not self._tag_rules:
            return pa.nulls(len(comments), pa.string())
        return pa.array([("; ".join(tags_of(c, self._tag_rules)) or None) for c in comments], pa.string())

    def _context(self, chunk: _Chunk) -> dict[str, pa.Array]:
        if self._lookups is None:
            self._lookups = _Lookups(self.session)
        look, facts, fetched = self._lookups, chunk.facts, chunk.fetched
        anonymous = fetched.ids("anonymous").astype(bool)
        account_ids = fetched.ids("account_id")
        contact_ids = facts["contact_id"]
        # Anonymous responses: nothing that leads back to the contact leaves the database: not
        # their id, name, email or role, nor the interaction (which a CRM knows the contact of).
        hidden = anonymous | (contact_ids == packs.NONE)
        nps = facts["nps"]
        competitor = look.competitor.take(facts["leader_competitor_id"], 0)
        status, note = _follow_ups(self.session, chunk.ids)
        return {
            "response_id": pa.array(chunk.ids, pa.int64()),
            "interaction_id": pa.array(facts["interaction_id"], mask=anonymous),
            "account_id": pa.array(account_ids, pa.int64()),
            "account": look.account.take(account_ids, 0),
            "segment": look.account.take(account_ids, 1),
            "touchpoint": look.touchpoint.take(facts["touchpoint_id"], 0),
            "contact_id": pa.array(contact_ids, mask=hidden),
            "contact_name": look.contact.take(contact_ids, 0, hide=hidden),
            "contact_email": look.contact.take(contact_ids, 1, hide=hidden),
            "contact_role": look.contact.take(contact_ids, 2, hide=hidden),
            "anonymous": pa.array(anonymous),
            "interaction_date": _moments(facts["occurred_at"]).cast(pa.date32()),
            "submitted_at": _moments(facts["submitted_at"]),
            "instrument_version": pa.array(facts["instrument_version"], pa.int64()),
            "form": fetched.text("form"),
            "locale": _text(facts["locale"]),
            "duration_seconds": pa.array(facts["duration_seconds"]),
            "follow_up_status": status,
            "follow_up_note": note,
            "comment_tags": self._comment_tags(fetched.values["COMMENT"]),
            "NPS": _optional(nps, ITEM_TYPE),
            "nps_category": NPS_CATEGORIES.take(pa.array(nps.astype(np.int64), mask=nps == packs.NONE)),
            "LEADER": pc.coalesce(competitor, fetched.text("leader_other")),
            "VALUE_LEVEL": _optional(facts["value_level"], ITEM_TYPE),
            "MOMENT": _text(facts["moment"]),
            "COMMENT": fetched.text("COMMENT"),
        }

    def _scores(self, chunk: _Chunk) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's 1-7 and 0-100 scores, one column per score key; NaN where not scored."""
        shape = (len(chunk.ids), len(self._score_keys))
        low, high = np.full(shape, np.nan), np.full(shape, np.nan)
        for version, rows, records in chunk.packed.versions:
            keys = [
                code if subject == "own" else f"leader_{code}"
                for subject, code in packs.layout(version).scores
            ]
            places, columns = packs.placed(keys, self._score_keys)
            low[np.ix_(rows, columns)] = records["low"][:, places]
            high[np.ix_(rows, columns)] = records["high"][:, places]
        return low, high

    def _wide(self, chunk: _Chunk) -> pa.Table:
        arrays = self._context(chunk)
        matrix = chunk.packed.answers(self._scale_codes)
        for index, name in enumerate(self._scale_codes):
            values = matrix[:, index]
            arrays[name] = pa.array(values, type=ITEM_TYPE, mask=values < 0)
        low, high = self._scores(chunk)
        for index, key in enumerate(self._score_keys):
            missing = np.isnan(low[:, index])
            arrays[f"{key}_score"] = pa.array(low[:, index], mask=missing)
            arrays[f"{key}_100"] = pa.array(high[:, index], mask=missing)
        return pa.Table.from_arrays([arrays[c.name] for c in self.columns], schema=self.schema)

    def _long(self, chunk: _Chunk) -> pa.Table:
        context = self._context(chunk)
        codes = [*self._scale_codes, "NPS"]
        matrix = chunk.packed.answers(codes)
        at, code = np.nonzero(matrix >= 0)  # row-major: by response, then in instrument order
        values = matrix[at, code]
        taken = pa.array(at)
        arrays = {c.name: context[c.name].take(taken) for c in self.columns if c.name in context}
        indicators = pa.array([self._indicator_of.get(c, "") for c in codes], pa.string())
        arrays["item_code"] = pa.array(codes, pa.string()).take(pa.array(code))
        arrays["indicator"] = indicators.take(pa.array(code))
        arrays["value"] = pa.array(values, type=ITEM_TYPE)
        return pa.Table.from_arrays([arrays[c.name] for c in self.columns], schema=self.schema)
