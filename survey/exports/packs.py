"""Each response packed into one byte string on its own row, in the shape exports read.

Exports, and the factor models of the instrument quality report, read one row per response
instead of some forty answer and score rows: at a million responses that is the difference
between a minute and a few seconds. The answer and score tables stay the record the other
analyses read; the pack is a copy, written by the same submit transaction, and
``fill_missing`` packs responses stored any other way (older databases, bulk loads), as
``read`` does for any it meets unpacked.

A pack is one record of ``Layout.record``:

* the fingerprint of the item layout it was packed with (``Instrument.fingerprint``, 32 bytes):
  a record is decoded only when it matches the layout this code reads, so an item moved in a
  published instrument file can never be read under another item's code;
* the facts (``FACTS``), the same for every version: ids, times and choices that are fixed
  once a response is submitted. What can change later (anonymity, the comment, a free-text
  leader name, follow-up, the contact's details) is read from its own column or table;
* one signed byte per scale item of the response's instrument version, in the instrument's
  order, ``-1`` when not answered;
* the 1-7 and then the 0-100 scores of each indicator of ours and then of the category
  leader, as 64-bit floats, NaN when not scored.

Versions never change once published (``tests/test_published_instruments.py`` freezes their
files), so a pack's layout never changes either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlmodel import Session, col

from models.tables import Answer, IndicatorScore, Interaction, Response
from survey.exports import fetch
from survey.instrument.definition import load_instrument

NOT_ANSWERED = -1
NONE = -1  # an empty id or choice among the facts
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FACTS = np.dtype(
    [
        ("interaction_id", "<i8"),
        ("touchpoint_id", "<i8"),
        ("contact_id", "<i8"),
        ("leader_competitor_id", "<i8"),
        ("occurred_at", "<i8"),  # microseconds since 1970, UTC
        ("submitted_at", "<i8"),
        ("duration_seconds", "<i8"),
        ("instrument_version", "<i4"),
        ("nps", "i1"),
        ("value_level", "i1"),
        ("locale", "S10"),
        ("moment", "S20"),
    ]
)
SUBJECTS = ("own", "leader")
_FILL_CHUNK = 5_000


class PackError(ValueError):
    """A stored pack does not have the size its instrument version gives it."""


@dataclass(frozen=True)
class Layout:
    version: int
    items: tuple[str, ...]  # scale item codes, one byte each
    scores: tuple[tuple[str, str], ...]  # (subject, indicator), two floats each
    fingerprint: bytes  # the instrument's item layout, as 32 raw SHA-256 bytes

    @property
    def record(self) -> np.dtype:
        """One response's pack: its facts, layout fingerprint, answers, 1-7 and 0-100 scores."""
        width = len(self.scores)
        return np.dtype(
            [
                ("facts", FACTS),
                ("layout", "V32"),
                ("answers", "i1", (len(self.items),)),
                ("low", "<f8", (width,)),
                ("high", "<f8", (width,)),
            ]
        )


@cache
def layout(version: int) -> Layout:
    try:
        instrument = load_instrument(version)
    except Exception as exc:  # a version this code does not know cannot be unpacked
        raise PackError(f"instrument version {version} is unknown") from exc
    items = tuple(item.code for item in instrument.items if instrument.scale_for(item) is not None)
    scores = tuple((subject, ind.code) for subject in SUBJECTS for ind in instrument.indicators)
    return Layout(version, items, scores, bytes.fromhex(instrument.fingerprint))


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:  # read back from SQLite: stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def pack(
    response: Response,
    occurred_at: datetime,
    answers: Mapping[str, int],
    scores: Iterable[Mapping[str, Any]],
) -> bytes:
    """The pack of a response; ``occurred_at`` is its interaction's, ``answers`` its scale answers
    and ``scores`` its score rows (subject, indicator, score, score_100) as submit inserts them."""
    shape = layout(response.instrument_version)
    record = np.zeros(1, dtype=shape.record)[0]
    record["facts"] = (
        response.interaction_id,
        response.touchpoint_id,
        NONE if response.contact_id is None else response.contact_id,
        NONE if response.leader_competitor_id is None else response.leader_competitor_id,
        _micros(occurred_at),
        _micros(response.submitted_at),
        response.duration_seconds,
        response.instrument_version,
        NONE if response.nps is None else response.nps,
        NONE if response.value_level is None else response.value_level,
        response.locale.encode(),
        (response.moment or "").encode(),
    )
    record["layout"] = shape.fingerprint
    record["answers"] = [answers.get(code, NOT_ANSWERED) for code in shape.items]
    record["low"] = record["high"] = np.nan
    place = {key: index for index, key in enumerate(shape.scores)}
    for row in scores:
        index = place.get((row["subject"], row["indicator"]))
        if index is not None:
            record["low"][index], record["high"][index] = row["score"], row["score_100"]
    return record.tobytes()


@dataclass(frozen=True)
class Unpacked:
    facts: np.ndarray  # one FACTS record per response, in the order given
    versions: list[tuple[int, np.ndarray, np.ndarray]]  # (version, positions, their records)

    def answers(self, codes: Sequence[str]) -> np.ndarray:
        """The answers to ``codes`` as a (responses x codes) matrix, ``NOT_ANSWERED`` where a
        response has none (not answered, or not asked by its version)."""
        matrix = np.full((len(self.facts), len(codes)), NOT_ANSWERED, dtype=np.int8)
        for version, rows, records in self.versions:
            places, columns = placed(layout(version).items, codes)
            matrix[np.ix_(rows, columns)] = records["answers"][:, places]
        return matrix

    def answer_values(self, codes: Sequence[str]) -> np.ndarray:
        """``answers`` as numbers to compute with: floats, NaN where a response has none."""
        matrix = self.answers(codes)
        return np.where(matrix == NOT_ANSWERED, np.nan, matrix.astype(np.float64))


def placed(packed: Sequence[str], wanted: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Where each packed key that is wanted sits in the pack and in ``wanted``."""
    column_of = {key: index for index, key in enumerate(wanted)}
    pairs = [(place, column_of[key]) for place, key in enumerate(packed) if key in column_of]
    return (
        np.array([place for place, _ in pairs], dtype=np.intp),
        np.array([column for _, column in pairs], dtype=np.intp),
    )


_VERSION_AT: int = dict(FACTS.fields or {})["instrument_version"][1]


def unpack(packs: Sequence[bytes | None], ids: Sequence[int] | np.ndarray) -> Unpacked:
    """Packs as arrays, grouped by instrument version; ``PackError`` names a response whose pack
    does not have its version's size."""
    if not len(packs):
        return Unpacked(np.zeros(0, dtype=FACTS), [])
    sizes = np.fromiter((0 if p is None else len(p) for p in packs), dtype=np.int64, count=len(packs))
    short = np.flatnonzero(sizes < FACTS.itemsize)
    if len(short):
        raise PackError(f"response {ids[short[0]]} has a pack of {sizes[short[0]]} bytes, too short")
    joined = b"".join(packs)  # type: ignore[arg-type]  # a None pack (size 0) was refused above
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    raw = np.frombuffer(joined, dtype=np.uint8)
    versions = raw[starts[:, None] + _VERSION_AT + np.arange(4)].copy().view("<i4").ravel()
    facts = np.zeros(len(packs), dtype=FACTS)
    groups = []
    for version in np.unique(versions):
        rows = np.flatnonzero(versions == version)
        record = layout(int(version)).record
        wrong = rows[sizes[rows] != record.itemsize]
        if len(wrong):
            raise PackError(
                f"response {ids[wrong[0]]} has a pack of {sizes[wrong[0]]} bytes, not {record.itemsize}"
            )
        part = joined if len(rows) == len(packs) else b"".join(packs[int(row)] or b"" for row in rows)
        records = np.frombuffer(part, dtype=record)
        _check_layout(ids, rows, records, layout(int(version)))
        facts[rows] = records["facts"]
        groups.append((int(version), rows, records))
    return Unpacked(facts, groups)


def read(session: Session, ids: Sequence[int] | np.ndarray, stored: Sequence[bytes | None]) -> Unpacked:
    """``unpack`` of the packs ``stored`` for responses ``ids``; a response stored some other
    way than by submit (``None``: not packed yet) is packed here from its rows first."""
    absent = [at for at, pack in enumerate(stored) if pack is None]
    if absent:
        built = from_tables(session, [int(ids[at]) for at in absent])
        stored = [built[int(ids[at])] if pack is None else pack for at, pack in enumerate(stored)]
    return unpack(stored, ids)


def _check_layout(
    ids: Sequence[int] | np.ndarray, rows: np.ndarray, records: np.ndarray, shape: Layout
) -> None:
    """Refuse records packed under another item layout than the one ``shape`` reads."""
    stamped = np.ascontiguousarray(records["layout"]).view(np.uint8).reshape(len(records), -1)
    wrong = np.flatnonzero((stamped != np.frombuffer(shape.fingerprint, dtype=np.uint8)).any(axis=1))
    if len(wrong):
        first = rows[wrong[0]]
        packed_with = stamped[wrong[0]].tobytes().hex()
        raise PackError(
            f"response {ids[first]} was packed with item layout {packed_with[:12]}…, but instrument "
            f"version {shape.version} now has layout {shape.fingerprint.hex()[:12]}…: a published "
            "instrument file was changed; restore it and publish a new version instead"
        )


def missing(session: Session) -> int:
    statement = select(func.count()).select_from(Response).where(col(Response.export_pack).is_(None))
    return int(session.execute(statement).scalar_one())


_FACT_COLUMNS: tuple[Any, ...] = (
    Response.id,
    Response.interaction_id,
    Response.touchpoint_id,
    Response.contact_id,
    Response.leader_competitor_id,
    Interaction.occurred_at,
    Response.submitted_at,
    Response.duration_seconds,
    Response.instrument_version,
    Response.nps,
    Response.value_level,
    Response.locale,
    Response.moment,
)


def _facts_of(rows: Sequence[Any]) -> np.ndarray:
    """The FACTS records of responses read as ``_FACT_COLUMNS``, as ``pack`` fills them."""

    def optional(index: int) -> list[int]:
        return [NONE if row[index] is None else row[index] for row in rows]

    facts = np.zeros(len(rows), dtype=FACTS)
    facts["interaction_id"] = [row[1] for row in rows]
    facts["touchpoint_id"] = [row[2] for row in rows]
    facts["contact_id"] = optional(3)
    facts["leader_competitor_id"] = optional(4)
    facts["occurred_at"] = [_micros(row[5]) for row in rows]
    facts["submitted_at"] = [_micros(row[6]) for row in rows]
    facts["duration_seconds"] = [row[7] for row in rows]
    facts["instrument_version"] = [row[8] for row in rows]
    facts["nps"] = optional(9)
    facts["value_level"] = optional(10)
    facts["locale"] = [row[11].encode() for row in rows]
    facts["moment"] = [(row[12] or "").encode() for row in rows]
    return facts


def from_tables(session: Session, ids: list[int]) -> dict[int, bytes]:
    """The packs of these responses, built from their rows: the same bytes ``pack`` gives at
    submission, a chunk of responses at a time with numpy rather than one by one."""
    packed: dict[int, bytes] = {}
    for start in range(0, len(ids), _FILL_CHUNK):
        chunk = sorted(ids[start : start + _FILL_CHUNK])
        rows = session.execute(
            select(*_FACT_COLUMNS)
            .join(Interaction, col(Interaction.id) == Response.interaction_id)
            .where(col(Response.id).in_(chunk))
            .order_by(col(Response.id))
        ).all()
        if not rows:
            continue
        order = np.array([row[0] for row in rows], dtype=np.int64)
        facts = _facts_of(rows)
        versions = facts["instrument_version"]
        # Plain values: straight from the driver, without SQLAlchemy's per-row processing.
        answers = fetch.rows(
            session,
            select(col(Answer.response_id), col(Answer.item_code), col(Answer.value)).where(
                col(Answer.response_id).in_(chunk)
            ),
        )
        scores = fetch.rows(
            session,
            select(
                col(IndicatorScore.response_id),
                col(IndicatorScore.subject),
                col(IndicatorScore.indicator),
                col(IndicatorScore.score),
                col(IndicatorScore.score_100),
            ).where(col(IndicatorScore.response_id).in_(chunk)),
        )
        answer_at = np.searchsorted(order, [row[0] for row in answers]).astype(np.int64)
        score_at = np.searchsorted(order, [row[0] for row in scores]).astype(np.int64)
        for version in np.unique(versions):
            shape = layout(int(version))
            members = np.flatnonzero(versions == version)
            local = np.full(len(order), -1, dtype=np.int64)
            local[members] = np.arange(len(members))
            records = np.zeros(len(members), dtype=shape.record)
            records["facts"] = facts[members]
            records["layout"] = shape.fingerprint
            records["answers"] = NOT_ANSWERED
            records["low"] = records["high"] = np.nan
            item_place = {code: place for place, code in enumerate(shape.items)}
            for (_, code, value), row in zip(answers, local[answer_at], strict=True):
                if row >= 0 and code in item_place:
                    records["answers"][row, item_place[code]] = value
            score_place = {key: place for place, key in enumerate(shape.scores)}
            for (_, subject, indicator, score, score_100), row in zip(scores, local[score_at], strict=True):
                place = score_place.get((subject, indicator))
                if row >= 0 and place is not None:
                    records["low"][row, place], records["high"][row, place] = score, score_100
            raw, size = records.tobytes(), shape.record.itemsize
            for index, member in enumerate(members):
                packed[int(order[member])] = raw[index * size : (index + 1) * size]
    return packed


def fill_next(session: Session, after: int = 0, chunk: int = _FILL_CHUNK) -> tuple[int, int]:
    """Pack the next ``chunk`` unpacked responses with ids above ``after``, in the caller's
    transaction; returns how many and the last id packed (``after`` when none were left)."""
    ids = (
        session.execute(
            select(col(Response.id))
            .where(col(Response.export_pack).is_(None), col(Response.id) > after)
            .order_by(col(Response.id))
            .limit(chunk)
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0, after
    packed = from_tables(session, list(ids))
    session.execute(
        update(Response),
        [{"id": response_id, "export_pack": data} for response_id, data in packed.items()],
    )
    return len(ids), int(ids[-1])


def fill_missing(session: Session, chunk: int = _FILL_CHUNK) -> int:
    """Pack every response that has no pack yet, from its rows; returns how many.

    Runs in the caller's transaction; safe to repeat."""
    done = after = 0
    while True:
        count, after = fill_next(session, after, chunk)
        if not count:
            return done
        done += count
