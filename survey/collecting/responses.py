"""Answering a survey: validating answers, saving drafts and the one submit transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, insert, text, update
from sqlalchemy import select as core_select
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col

from models.db import upsert_insert
from models.tables import (
    Answer,
    Competitor,
    Draft,
    IndicatorScore,
    Interaction,
    Invitation,
    Response,
)
from survey.exports import packs
from survey.followup import queue as followup
from survey.instrument.definition import Instrument, Item
from survey.instrument.forms import asked_codes
from survey.instrument.scoring import IndicatorResult, nps_category, score_indicators, score_leader
from survey.instrument.workflow import instrument_of
from survey.loop import alerts
from survey.reporting import aggregates

LEADER_OTHER_KEY = "LEADER_OTHER"
LEADER_NONE = "none"
LEADER_OTHER = "other"
OTHER_NAME_MAX = 200
# The survey has a handful of pages; a draft's step is one of them.
MAX_STEP = 50


class SurveyError(Exception):
    """Base of what can go wrong while answering; ``reason`` picks the respondent's message."""

    reason = "error"


class AlreadySubmitted(SurveyError):
    reason = "used"


class LinkExpired(SurveyError):
    reason = "expired"


@dataclass(frozen=True)
class Problem:
    code: str  # the item (or answer key) at fault
    message: str
    missing: bool = False  # a required answer that was not given

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class AnswerError(SurveyError):
    """Answers that cannot be stored; ``problems`` names each item and what is wrong."""

    reason = "answers"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class CleanAnswers:
    scale: dict[str, int]  # agree and 0-10 items
    leader_competitor_id: int | None
    leader_other: str | None
    value_level: int | None
    moment: str | None
    comment: str | None
    # The item codes the form asked; None for the whole instrument.
    asked: frozenset[str] | None = None

    @property
    def nps(self) -> int | None:
        return self.scale.get("NPS")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_answers(
    instrument: Instrument,
    answers: Mapping[str, Any],
    competitor_ids: Iterable[int],
    asked: frozenset[str] | None = None,
) -> CleanAnswers:
    """Check every answer against the instrument; raise ``AnswerError`` naming each problem.
    ``asked`` is what the form asked (a pulse's statements); None means every item."""
    problems: list[Problem] = []
    known = draft_keys(instrument, asked)
    problems += [Problem(code, "not a question of this survey") for code in answers if code not in known]

    scale_answers: dict[str, int] = {}
    extras: dict[str, Any] = {}
    for item in instrument.items:
        if asked is not None and item.code not in asked:
            continue
        value = answers.get(item.code)
        if isinstance(value, str) and not value.strip():
            value = None
        if value is None:
            if item.required:
                problems.append(Problem(item.code, "an answer is required", missing=True))
            continue
        problem = check_answer(instrument, item, value)
        if problem is not None:
            problems.append(problem)
        elif instrument.scale_for(item) is not None:
            scale_answers[item.code] = value
        else:
            extras[item.code] = value.strip() if item.kind == "text" else value

    leader_id, leader_other = _leader(
        extras.get("LEADER"),
        answers.get(LEADER_OTHER_KEY),
        set(competitor_ids),
        problems,
    )
    leader_codes = [instrument.leader_item(ind.code).code for ind in instrument.indicators]
    if leader_id is None and leader_other is None:
        problems += [
            Problem(code, "rates the category leader, but no leader was named")
            for code in leader_codes
            if code in scale_answers
        ]
    if problems:
        raise AnswerError(problems)
    return CleanAnswers(
        scale=scale_answers,
        leader_competitor_id=leader_id,
        leader_other=leader_other,
        value_level=extras.get("VALUE_LEVEL"),
        moment=extras.get("MOMENT"),
        comment=extras.get("COMMENT") or None,
        asked=asked,
    )


def check_answer(instrument: Instrument, item: Item, value: Any) -> Problem | None:
    """What is wrong with one given answer (not ``None``), or ``None``: the one check of an
    answer, for the submission and for every saved draft alike."""
    if isinstance(value, bool):
        return Problem(item.code, f"{value!r} is not an answer")
    scale = instrument.scale_for(item)
    if scale is not None:
        if not _is_int(value) or not scale.min <= value <= scale.max:
            return Problem(item.code, f"{shown(value)} is not a whole number from {scale.min} to {scale.max}")
        return None
    if item.kind == "choice":
        options = item.options or {}
        # Only plain keys can be options: a list would not even hash, and True would pass as 1.
        if not isinstance(value, (int, str)) or value not in options:
            allowed = ", ".join(str(key) for key in options)
            return Problem(item.code, f"{shown(value)} is not one of {allowed}")
        return None
    if item.kind == "text":
        limit = item.max_length or 0
        if not isinstance(value, str):
            return Problem(item.code, "must be text")
        if limit and len(value) > limit:
            return Problem(item.code, f"{len(value)} characters is more than the {limit} allowed")
        if "\x00" in value:
            return Problem(item.code, "contains a NUL character")
        return None
    if item.kind == "leader" and not isinstance(value, (int, str)):
        return Problem(item.code, f"{shown(value)} is not a provider")
    return None


def shown(value: Any, limit: int = 40) -> str:
    """A value as quoted in a message, cut short: a hostile answer may be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _leader(
    choice: Any, other_name: Any, competitor_ids: set[int], problems: list[Problem]
) -> tuple[int | None, str | None]:
    """The named category leader: a listed competitor's id, or another provider's name."""
    if choice in (None, LEADER_NONE):
        return None, None
    if choice == LEADER_OTHER:
        name = other_name.strip() if isinstance(other_name, str) else ""
        if not name:
            problems.append(Problem(LEADER_OTHER_KEY, "name the other provider, or choose one from the list"))
        elif len(name) > OTHER_NAME_MAX or "\x00" in name:
            problems.append(
                Problem(
                    LEADER_OTHER_KEY, f"a provider name is at most {OTHER_NAME_MAX} characters, without NUL"
                )
            )
        else:
            return None, name
        return None, None
    if _is_int(choice) and choice in competitor_ids:
        return choice, None
    problems.append(Problem("LEADER", f"{shown(choice)} is not a provider on the list"))
    return None, None


def draft_keys(instrument: Instrument, asked: frozenset[str] | None = None) -> set[str]:
    if asked is not None:
        return set(asked) | ({LEADER_OTHER_KEY} if "LEADER" in asked else set())
    return {item.code for item in instrument.items} | {LEADER_OTHER_KEY}


class Asking(Protocol):
    """What decides the questions a link asks: its form and, for a pulse, its design slot."""

    @property
    def form(self) -> str: ...
    @property
    def design_slot(self) -> int | None: ...


@dataclass(frozen=True)
class Origin:
    """Where a response comes from: its invitation and that invitation's interaction."""

    invitation_id: int
    interaction_id: int
    account_id: int
    contact_id: int | None
    touchpoint_id: int
    occurred_at: datetime
    form: str
    design_slot: int | None

    @classmethod
    def of(cls, invitation: Invitation, interaction: Interaction) -> Origin:
        return cls(
            invitation_id=invitation.id or 0,
            interaction_id=interaction.id or 0,
            account_id=interaction.account_id,
            contact_id=invitation.contact_id,
            touchpoint_id=interaction.touchpoint_id,
            occurred_at=interaction.occurred_at,
            form=invitation.form,
            design_slot=invitation.design_slot,
        )


_ORIGIN_FIELDS = tuple(field.name for field in fields(Origin))


def asked_for(instrument: Instrument, invitation: Asking) -> frozenset[str] | None:
    """What the invitation's form asks: None for a check-up (the whole instrument)."""
    if invitation.form == "checkup":
        return None
    return asked_codes(instrument, invitation.form, invitation.design_slot)


@cache
def _claiming(completing: bool) -> Any:
    """The claim's statement, built once (building it costs more than running it)."""
    now = bindparam("now", type_=Invitation.__table__.c.started_at.type)  # type: ignore[attr-defined]  # a table model has one
    completed = {"completed_at": now} if completing else {}
    return (
        update(Invitation.__table__)  # type: ignore[attr-defined]  # a table model has one
        .where(
            col(Invitation.id) == bindparam("invitation_id"),
            col(Invitation.completed_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .values(started_at=func.coalesce(Invitation.started_at, now), **completed)
    )


def _loaded(session: Session, model: type[SQLModel], key: int) -> Any | None:
    """The row of ``model`` this session has loaded under ``key``, if any: one that a
    statement on the connection wrote past must be read again (or let go, once deleted)."""
    return session.identity_map.get(identity_key(model, key))


def _claim(session: Session, invitation_id: int, now: datetime, *, completing: bool = False) -> None:
    """Write to the invitation only while it is open (and with ``completing``, mark it
    submitted); this first write also takes the lock."""
    result = session.connection().execute(_claiming(completing), {"invitation_id": invitation_id, "now": now})
    if result.rowcount == 1:
        # Written past the session: an invitation it had loaded reads its new times when next asked.
        if (loaded := _loaded(session, Invitation, invitation_id)) is not None:
            session.expire(loaded, ["started_at", "completed_at"])
        return
    session.rollback()
    invitation = session.get_one(Invitation, invitation_id)
    if invitation.completed_at is not None:
        raise AlreadySubmitted("this survey was already submitted")
    raise LinkExpired("this survey link has expired")


@cache
def _link_reading() -> Any:
    """The invitation's, its interaction's and its draft's facts a save or submit needs: one
    read, built once (three ORM loads cost more than the submit's writes)."""
    invitation = Invitation.__table__  # type: ignore[attr-defined]  # a table model has one
    interaction = Interaction.__table__  # type: ignore[attr-defined]  # a table model has one
    draft = Draft.__table__  # type: ignore[attr-defined]  # a table model has one
    return (
        core_select(
            invitation.c.id.label("invitation_id"),
            invitation.c.instrument_version,
            invitation.c.interaction_id,
            interaction.c.account_id,
            invitation.c.contact_id,
            interaction.c.touchpoint_id,
            interaction.c.occurred_at,
            invitation.c.form,
            invitation.c.design_slot,
            invitation.c.opened_at,
            draft.c.started_at.label("draft_started_at"),
        )
        .join(interaction, interaction.c.id == invitation.c.interaction_id)
        .outerjoin(draft, draft.c.invitation_id == invitation.c.id)
        .where(invitation.c.id == bindparam("invitation_id"))
    )


@dataclass(frozen=True)
class _Link:
    instrument_version: int
    origin: Origin
    opened_at: datetime | None
    draft_started_at: datetime | None


def _read_link(session: Session, invitation_id: int) -> _Link:
    """The link's facts; ``NoResultFound`` when there is no such invitation. What this session
    has pending for them is flushed first, as the ORM's own loads would."""
    session.flush()
    row = session.connection().execute(_link_reading(), {"invitation_id": invitation_id}).one()._mapping
    # The read names its columns as Origin names its fields.
    origin = Origin(**{name: row[name] for name in _ORIGIN_FIELDS})
    return _Link(row["instrument_version"], origin, row["opened_at"], row["draft_started_at"])


@cache
def _listed_competitors() -> Any:
    return core_select(Competitor.__table__.c.id)  # type: ignore[attr-defined]  # a table model has one


def _competitor_ids(session: Session, answers: Mapping[str, Any]) -> list[int]:
    """The listed providers' ids, read only when the answers name one by id."""
    if not _is_int(answers.get("LEADER")):
        return []
    return [cid for (cid,) in session.connection().execute(_listed_competitors())]


@cache
def _saving_draft(dialect: str) -> Any:
    """The draft's one upsert whether or not a draft exists (the first one's start is kept),
    built once per backend."""
    table = Draft.__table__  # type: ignore[attr-defined]  # a table model has one
    kept = ("answers", "step", "locale", "updated_at")
    statement = upsert_insert(dialect)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in (*kept, "invitation_id", "started_at")}
    )
    return statement.on_conflict_do_update(
        index_elements=["invitation_id"], set_={name: statement.excluded[name] for name in kept}
    )


@cache
def _forgetting_draft() -> Any:
    table = Draft.__table__  # type: ignore[attr-defined]  # a table model has one
    return delete(table).where(table.c.invitation_id == bindparam("invitation_id"))


RESPONSE_ORDER_LOCK = 7_303_011  # any constant; names the lock below in pg_locks


def _in_id_order(session: Session) -> None:
    """Make responses commit in the order of their ids.

    Readers that pull "everything after the last id I saw" (the API's cursor) would otherwise
    skip a response whose transaction drew a lower id but committed later. SQLite has one writer
    at a time anyway; on PostgreSQL a transaction-scoped advisory lock, taken before the id is
    drawn and released at commit, gives the same order."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RESPONSE_ORDER_LOCK})


def save_draft(
    session: Session,
    *,
    invitation_id: int,
    answers: Mapping[str, Any],
    step: int,
    locale: str,
    now: datetime,
) -> None:
    """Keep the answers given so far, so the respondent can close the page and resume.

    Each answer is checked as the submission would check it, and the whole draft is refused
    (``AnswerError``, nothing saved) when one is not an answer this survey could take: a draft
    holds what the survey's widgets can produce, never a megabyte of anything."""
    link = _read_link(session, invitation_id)
    instrument = instrument_of(session, link.instrument_version)
    keys = draft_keys(instrument, asked_for(instrument, link.origin))
    items = {item.code: item for item in instrument.items}
    problems: list[Problem] = []
    kept: dict[str, Any] = {}
    for code, value in answers.items():
        if code not in keys:
            continue  # not an answer this survey (or this pulse) asks: never stored
        if code in items and value is not None:
            problem = check_answer(instrument, items[code], value)
        elif (
            code == LEADER_OTHER_KEY
            and value is not None
            and (not isinstance(value, str) or len(value) > OTHER_NAME_MAX or "\x00" in value)
        ):
            problem = Problem(code, f"a provider name is text of at most {OTHER_NAME_MAX} characters")
        else:
            problem = None
        if problem is not None:
            problems.append(problem)
        else:
            kept[code] = value
    if problems:
        raise AnswerError(problems)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        raise AnswerError([Problem("step", f"{shown(step)} is not a page of this survey")])
    locale = instrument.language_for(locale if isinstance(locale, str) else "")
    _claim(session, invitation_id, now)
    saved = {"answers": kept, "step": step, "locale": locale, "updated_at": now}
    session.connection().execute(
        _saving_draft(session.get_bind().dialect.name),
        {"invitation_id": invitation_id, "started_at": now, **saved},
    )
    # Written past the session: a draft it had loaded reads the saved one when next asked.
    if (loaded := _loaded(session, Draft, invitation_id)) is not None:
        session.expire(loaded)


def submit(
    session: Session,
    *,
    invitation_id: int,
    answers: Mapping[str, Any],
    locale: str,
    now: datetime,
    anonymous: bool = False,
) -> int:
    """Store the response, its answers and scores and use up the link, all in the caller's
    transaction. Raises before writing anything when the answers or the link are not valid.
    Returns the new response id."""
    link = _read_link(session, invitation_id)
    instrument = instrument_of(session, link.instrument_version)
    clean = validate_answers(
        instrument, answers, _competitor_ids(session, answers), asked_for(instrument, link.origin)
    )
    response = build_response(
        origin=link.origin,
        instrument=instrument,
        clean=clean,
        locale=instrument.language_for(locale),
        started_at=link.draft_started_at or link.opened_at or now,
        submitted_at=now,
    )
    # Asked for on the survey's last page: the answers then never show who gave them.
    response.anonymous = anonymous
    answer_rows, score_rows = scored_rows(0, instrument, clean)
    response.export_pack = packs.pack(response, link.origin.occurred_at, clean.scale, score_rows)

    # Everything above only reads and computes. The first write takes SQLite's one write lock
    # (and the engine's writer gate) until the commit, so as little as possible comes after it.
    _claim(session, invitation_id, now, completing=True)
    _in_id_order(session)
    # A plain insert on the session's connection (the ORM's unit of work costs more than it).
    table = Response.__table__  # type: ignore[attr-defined]  # a table model has one
    values = {column.key: getattr(response, column.key) for column in table.columns if column.key != "id"}
    [response.id] = session.connection().execute(_storing(Response), values).inserted_primary_key or [None]
    for row in (*answer_rows, *score_rows):
        row["response_id"] = response.id
    insert_scored_rows(session, answer_rows, score_rows)
    aggregates.add_response(session, response.id or 0)
    followup.flag_submitted(session, response)
    # Webhooks subscribed to new responses are told through the outbox, in this transaction.
    alerts.response_stored(session, response, now=now)
    session.connection().execute(_forgetting_draft(), {"invitation_id": invitation_id})
    if (loaded := _loaded(session, Draft, invitation_id)) is not None:
        session.expunge(loaded)
    session.flush()
    return response.id or 0


def build_response(
    *,
    origin: Origin,
    instrument: Instrument,
    clean: CleanAnswers,
    locale: str,
    started_at: datetime,
    submitted_at: datetime,
) -> Response:
    """The response row of validated answers; ids of where it came from are copied onto it
    so that dashboards need no joins through the invitation."""
    return Response(
        invitation_id=origin.invitation_id,
        interaction_id=origin.interaction_id,
        account_id=origin.account_id,
        contact_id=origin.contact_id,
        touchpoint_id=origin.touchpoint_id,
        instrument_version=instrument.version,
        instrument_fingerprint=instrument.fingerprint,
        form=origin.form,
        locale=locale,
        started_at=started_at,
        submitted_at=submitted_at,
        duration_seconds=max(0, int((submitted_at - started_at).total_seconds())),
        nps=clean.nps,
        nps_category=nps_category(clean.nps),
        leader_competitor_id=clean.leader_competitor_id,
        leader_other=clean.leader_other,
        value_level=clean.value_level,
        moment=clean.moment,
        comment=clean.comment,
    )


def scores_for(instrument: Instrument, clean: CleanAnswers) -> list[IndicatorResult]:
    has_leader = clean.leader_competitor_id is not None or clean.leader_other is not None
    leader = score_leader(instrument, clean.scale) if has_leader else []
    return score_indicators(instrument, clean.scale, clean.asked) + leader


def scored_rows(
    response_id: int, instrument: Instrument, clean: CleanAnswers
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answer rows and indicator score rows of one response, ready to insert."""
    answers = [
        {"response_id": response_id, "item_code": code, "value": value} for code, value in clean.scale.items()
    ]
    scores = [
        {
            "response_id": response_id,
            "indicator": result.indicator,
            "subject": result.subject,
            "score": result.score,
            "score_100": result.score_100,
            "items_answered": result.items_answered,
        }
        for result in scores_for(instrument, clean)
    ]
    return answers, scores


@cache
def _storing(model: type[SQLModel]) -> Any:
    return insert(model.__table__)  # type: ignore[attr-defined]  # a table model has one


def insert_scored_rows(session: Session, answers: list[dict[str, Any]], scores: list[dict[str, Any]]) -> None:
    # Core inserts on the session's connection: ORM objects for every answer, or even the ORM's
    # bulk path, cost more than the insert.
    connection = session.connection()
    if answers:
        connection.execute(_storing(Answer), answers)
    if scores:
        connection.execute(_storing(IndicatorScore), scores)


def effective_answers(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that still apply: ratings of a leader are dropped when the respondent
    later chose no leader, and an 'other' name when they picked a listed provider."""
    kept = {code: value for code, value in answers.items() if value is not None}
    leader = kept.get("LEADER")
    if leader in (None, LEADER_NONE):
        for indicator in instrument.indicators:
            kept.pop(instrument.leader_item(indicator.code).code, None)
    if leader != LEADER_OTHER:
        kept.pop(LEADER_OTHER_KEY, None)
    return kept


def unanswered_required(
    instrument: Instrument, answers: Mapping[str, Any], codes: Iterable[str]
) -> list[str]:
    """Codes among ``codes`` of required items that have no answer yet."""
    return [code for code in codes if instrument.item(code).required and answers.get(code) in (None, "")]
