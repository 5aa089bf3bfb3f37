"""Pages of responses as JSON-ready rows, for ``GET /api/v1/responses``.

A BI tool pulls incrementally: it keeps the ``next_cursor`` of its last page and asks again
with it later; it then gets only responses that arrived since. The cursor is opaque to the
client (it carries the last response id seen); response ids grow with every submission.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from survey.exports.rows import ChunkReader, ExportError, ExportRequest
from survey.people.access import Scope
from survey.reporting.filters import Filters

PAGE_DEFAULT = 500
PAGE_MAX = 5000
_CURSOR_PREFIX = "r1:"


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The last response id a cursor stands for (0: from the start)."""
    if not cursor:
        return 0
    if len(cursor) > 100:
        raise ExportError("cursor is not one this API handed out")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ExportError("cursor is not one this API handed out") from exc
    number = text.removeprefix(_CURSOR_PREFIX)
    # Ids fit in 18 digits (a signed 64-bit integer); a longer number is no cursor of ours.
    if (
        not text.startswith(_CURSOR_PREFIX)
        or not number.isascii()
        or not number.isdigit()
        or len(number) > 18
    ):
        raise ExportError("cursor is not one this API handed out")
    return int(number)


@dataclass(frozen=True)
class ResponsePage:
    rows: list[dict[str, Any]]
    next_cursor: str  # ask with this next time; unchanged when nothing new arrived
    has_more: bool  # more rows are waiting now: ask again at once
    columns: list[str] = field(default_factory=list)

    def as_json_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "next_cursor": self.next_cursor, "has_more": self.has_more}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def responses_page(
    session: Session,
    *,
    filters: Filters | None = None,
    scope: Scope | None = None,
    cursor: str | None = None,
    limit: int = PAGE_DEFAULT,
) -> ResponsePage:
    """Up to ``limit`` responses after ``cursor``, oldest first, one JSON object per response,
    with the same columns as the file exports."""
    if not 1 <= limit <= PAGE_MAX:
        raise ExportError(f"limit must be between 1 and {PAGE_MAX}, not {limit}")
    after = decode_cursor(cursor)
    request = ExportRequest(
        filters=filters or Filters(), scope=scope or Scope.everything(), chunk_size=limit + 1
    )
    reader = ChunkReader(session, request)
    table = next(reader.chunks(after=after, limit=limit + 1), None)
    names = [column.name for column in reader.columns]
    if table is None:
        return ResponsePage([], encode_cursor(after), False, names)
    shown = table.slice(0, limit)
    rows = [{name: _json_value(value) for name, value in row.items()} for row in shown.to_pylist()]
    last = rows[-1]["response_id"]
    return ResponsePage(rows, encode_cursor(last), table.num_rows > limit, names)
