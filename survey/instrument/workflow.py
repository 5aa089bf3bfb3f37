"""New instrument versions as a workflow: draft, validate, publish.

An admin starts a draft (a copy of the newest version's YAML with the next version number),
edits it, validates it and publishes it. Drafts and published versions made this way are
rows of ``instrument_version``, so every replica reads the same ones; the versions shipped
as files are published by definition. A published version never changes: its
``fingerprint`` (:attr:`Instrument.fingerprint`) is stored with every response answered on it.

What a new version may change: add statements, drop statements, reword a statement under a
**new code**. An item code that stays must keep its layout *and* its wording in every
language both versions have — otherwise trends would silently link two different questions.
Trend charts link versions only through the statements they share (:func:`changes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import yaml
from sqlmodel import Session, col, func, select

from models.tables import InstrumentVersion, ItemSegmentRollup
from survey.instrument.definition import (
    INSTRUMENTS_DIR,
    Instrument,
    InstrumentError,
    Item,
    available_versions,
    load_instrument,
    parse_instrument,
    register_published,
)
from survey.people.audit import record

DRAFT = "draft"
PUBLISHED = "published"
MAX_BODY = 200_000


class VersionError(ValueError):
    """A workflow step that cannot be taken; the message names what is wrong."""


def sync_published(session: Session) -> None:
    """Register in this process every version published in the database that it lacks."""
    known = set(available_versions())
    rows = session.exec(
        select(InstrumentVersion).where(
            InstrumentVersion.status == PUBLISHED, col(InstrumentVersion.version).not_in(known)
        )
    ).all()
    for row in rows:
        register_published(_parse(row.body, f"v{row.version}"))


def instrument_of(session: Session, version: int) -> Instrument:
    """Version ``version``: read from the database only when this process lacks it (another
    replica published it), so a survey's every save does not ask again."""
    if version not in available_versions():
        sync_published(session)
    return load_instrument(version)


def newest(session: Session) -> Instrument:
    """The newest published version, as every replica sees it."""
    sync_published(session)
    return load_instrument()


def _parse(body: str, source: str) -> Instrument:
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{source}: not valid YAML ({exc})") from exc
    return parse_instrument(data, source=source)


def version_text(session: Session, version: int) -> str:
    row = session.get(InstrumentVersion, version)
    if row is not None:
        return row.body
    return (INSTRUMENTS_DIR / f"v{version}.yaml").read_text(encoding="utf-8")


def open_draft(session: Session) -> InstrumentVersion | None:
    return session.exec(select(InstrumentVersion).where(InstrumentVersion.status == DRAFT)).first()


def start_draft(session: Session, *, actor: str, now: datetime, note: str = "") -> InstrumentVersion:
    """A draft of the next version: the newest published one's text, renumbered."""
    if (existing := open_draft(session)) is not None:
        raise VersionError(f"draft v{existing.version} is already open: edit, publish or discard it first")
    base = newest(session)
    number = base.version + 1
    body = version_text(session, base.version)
    body = re.sub(r"(?m)^version:\s*\d+\s*$", f"version: {number}", body, count=1)
    body = re.sub(r"(?m)^released:.*$", f"released: {now.date().isoformat()}", body, count=1)
    draft = InstrumentVersion(
        version=number,
        status=DRAFT,
        body=body,
        note=note[:500],
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    record(session, actor, "instrument_draft", f"v{number} started from v{base.version}")
    return draft


def _draft(session: Session, version: int) -> InstrumentVersion:
    row = session.get(InstrumentVersion, version)
    if row is None:
        if version in available_versions():
            raise VersionError(f"version {version} is published and cannot change")
        raise VersionError(f"there is no draft v{version}")
    if row.status != DRAFT:
        raise VersionError(f"version {version} is published and cannot change")
    return row


def save_draft(session: Session, version: int, body: str, *, actor: str, now: datetime) -> InstrumentVersion:
    """Replace a draft's text. Published versions refuse."""
    row = _draft(session, version)
    if len(body) > MAX_BODY:
        raise VersionError(f"the instrument text is {len(body):,} characters; at most {MAX_BODY:,}")
    row.body = body
    row.updated_at = now
    session.add(row)
    session.flush()
    record(session, actor, "instrument_draft", f"v{version} edited")
    return row


def discard_draft(session: Session, version: int, *, actor: str) -> None:
    row = _draft(session, version)
    session.delete(row)
    session.flush()
    record(session, actor, "instrument_draft", f"v{version} discarded")


def _layout(instrument: Instrument, item: Item) -> dict[str, object]:
    scale = instrument.scale_for(item)
    return {
        "kind": item.kind,
        "indicator": item.indicator,
        "rates": item.rates,
        "reverse": item.reverse,
        "role": item.role,
        "scale": None if scale is None else (scale.min, scale.max),
        "options": None if item.options is None else sorted(str(key) for key in item.options),
    }


def problems_against(previous: Instrument, candidate: Instrument) -> list[str]:
    """What makes ``candidate`` an invalid successor of ``previous``: reused codes whose
    layout or wording changed, and a wrong version number."""
    problems = []
    if candidate.version != previous.version + 1:
        problems.append(f"the version must be {previous.version + 1} (it says {candidate.version})")
    before = {item.code: item for item in previous.items}
    for item in candidate.items:
        old = before.get(item.code)
        if old is None:
            continue
        if _layout(previous, old) != _layout(candidate, item):
            problems.append(f"item {item.code}: its scale, keying or options changed; use a new code")
            continue
        changed = [
            language
            for language in sorted(set(old.text) & set(item.text))
            if old.text[language].strip() != item.text[language].strip()
        ]
        if changed:
            problems.append(
                f"item {item.code}: its {', '.join(changed)} wording changed; a reworded statement needs a "
                "new code, so that trends link only through unchanged statements"
            )
    return problems


def validate(session: Session, version: int) -> list[str]:
    """Every problem of a draft, each naming the entry at fault; empty when it can be published."""
    row = _draft(session, version)
    try:
        candidate = _parse(row.body, f"draft v{version}")
    except InstrumentError as exc:
        return [str(exc)]
    return problems_against(newest(session), candidate)


def publish(session: Session, version: int, *, actor: str, now: datetime) -> Instrument:
    """Publish a valid draft; from now on new invitations use it, and it never changes."""
    problems = validate(session, version)
    if problems:
        raise VersionError(f"v{version} cannot be published: " + "; ".join(problems))
    row = _draft(session, version)
    instrument = _parse(row.body, f"v{version}")
    row.status = PUBLISHED
    row.fingerprint = instrument.fingerprint
    row.published_by = actor
    row.published_at = now
    row.updated_at = now
    session.add(row)
    session.flush()
    register_published(instrument)
    record(session, actor, "instrument_publish", f"v{version} fingerprint {instrument.fingerprint[:12]}")
    return instrument


@dataclass(frozen=True)
class Changes:
    """How a version's statements relate to the one before."""

    version: int
    added: tuple[str, ...]
    dropped: tuple[str, ...]
    kept: tuple[str, ...]  # the statements through which trends link the two versions


def changes(previous: Instrument, current: Instrument) -> Changes:
    old = [item.code for item in previous.items if item.indicator]
    new = [item.code for item in current.items if item.indicator]
    return Changes(
        version=current.version,
        added=tuple(code for code in new if code not in old),
        dropped=tuple(code for code in old if code not in new),
        kept=tuple(code for code in new if code in old),
    )


@dataclass(frozen=True)
class VersionBreak:
    version: int
    month: str  # YYYY-MM of the first response on this version
    changes: Changes

    def describe(self) -> str:
        parts = []
        if self.changes.added:
            parts.append("new " + ", ".join(self.changes.added))
        if self.changes.dropped:
            parts.append("dropped " + ", ".join(self.changes.dropped))
        return f"v{self.version}: " + ("; ".join(parts) or "wording of other questions only")


def version_breaks(session: Session) -> list[VersionBreak]:
    """Where the instrument changed in the responses: the first month of each later version."""
    sync_published(session)
    # From the answer counts (a few rows per month), not every response.
    firsts = session.exec(
        select(ItemSegmentRollup.version, func.min(ItemSegmentRollup.month)).group_by(
            col(ItemSegmentRollup.version)
        )
    ).all()
    answered = sorted((version, first) for version, first in firsts if first is not None)
    breaks = []
    for (before, _), (version, first) in pairwise(answered):
        breaks.append(
            VersionBreak(
                version=version,
                month=str(first),
                changes=changes(load_instrument(before), load_instrument(version)),
            )
        )
    return breaks
