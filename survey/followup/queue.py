"""The follow-up queue: responses that need someone to act on them, and what was done (the closed loop).

A response needs follow-up when

* its recommendation (NPS, 0-10) makes the respondent a **detractor** (0-6),
* its **moment** was "disappointed" or "frustrated", or
* one of its own indicator scores (1-7) **dropped** by at least ``threshold`` points against the
  same contact's previous submitted response.

Anonymous responses take no part in the drop rule, on either side: quoting a previous score
("fell from 6.2 to 2.5") would tie an anonymous answer to the contact's named one, or the
other way round. A response made anonymous later (an erasure) is shown without its drops.

``flag_response`` runs inside the submit transaction; ``flag_all`` catches up after a bulk load.

A follow-up of kind ``account`` is about a whole account rather than one response (see
``survey/accounts/warnings.py`` for when one opens): it has no response, and
``open_account_follow_up`` keeps it to one open follow-up per account and reason.
The queue operations validate their input first and raise ``FollowUpError`` before changing
anything, so a refused operation leaves the follow-up as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from typing import Any

from sqlalchemy import bindparam, func, insert, literal
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from models.tables import Account, Contact, FollowUp, IndicatorScore, Response, Touchpoint
from survey.followup import sla
from survey.instrument.definition import load_instrument
from survey.people.access import EVERYTHING, Scope
from survey.people.privacy import shown_identity

STATUSES = ("open", "in_progress", "closed")
REASONS = ("detractor", "moment", "drop")
KINDS = ("response", "account")
# Why a whole account needs someone: its weighted indicators fell beyond their uncertainty, two or
# more of its contacts were flagged within 30 days, or a decision maker has gone quiet.
ACCOUNT_REASONS = ("decline", "flagged_contacts", "silent_decision_maker")
MOMENTS_TO_FOLLOW = ("disappointed", "frustrated")
DETRACTOR_MAX_NPS = 6
DEFAULT_DROP_THRESHOLD = 1.5
ASSIGNEE_MAX = 200
NOTE_MAX = 2000
DETAIL_MAX = 500
QUEUE_LIMIT_MAX = 1000
_CHUNK = 500  # ids per IN (...) list, well below every backend's parameter limit
_EPSILON = 1e-9  # scores are means of small integers: 5.83 - 4.33 must count as 1.5


class FollowUpError(ValueError):
    """A queue operation was refused; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class ResponseFacts:
    """What the rules look at for one response."""

    response_id: int
    account_id: int
    contact_id: int | None
    submitted_at: datetime
    nps: int | None
    moment: str | None
    instrument_version: int
    anonymous: bool = False


def _labels(version: int) -> dict[str, str]:
    try:
        instrument = load_instrument(version)
    except Exception:  # an unknown version: fall back to the codes
        return {}
    return {indicator.code: indicator.label["en"] for indicator in instrument.indicators}


def assess(
    facts: ResponseFacts,
    scores: dict[str, float],
    previous: dict[str, float] | None,
    threshold: float = DEFAULT_DROP_THRESHOLD,
) -> tuple[str, str] | None:
    """``(reasons, detail)`` when the response needs follow-up, else ``None``.

    ``scores`` and ``previous`` map indicator codes to own scores (1-7) of this response
    and of the same contact's previous response (``None`` when there is none)."""
    reasons: list[str] = []
    details: list[str] = []
    if facts.nps is not None and facts.nps <= DETRACTOR_MAX_NPS:
        reasons.append("detractor")
        details.append(f"Recommendation {facts.nps}/10")
    if facts.moment in MOMENTS_TO_FOLLOW:
        reasons.append("moment")
        details.append(f"moment: {facts.moment}")
    if previous:
        labels = _labels(facts.instrument_version)
        # In the instrument's order, whatever order the database returned the scores in.
        codes = [code for code in labels if code in scores] + sorted(set(scores) - set(labels))
        drops = [
            f"{labels.get(code, code)} fell from {previous[code]:.1f} to {scores[code]:.1f}"
            for code in codes
            if code in previous and previous[code] - scores[code] >= threshold - _EPSILON
        ]
        if drops:
            reasons.append("drop")
            details += drops
    if not reasons:
        return None
    detail = "; ".join(details)
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return ",".join(reasons), detail


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _facts_columns() -> tuple[Any, ...]:
    return (
        Response.id,
        Response.account_id,
        Response.contact_id,
        Response.submitted_at,
        Response.nps,
        Response.moment,
        Response.instrument_version,
        Response.anonymous,
    )


@cache
def _history_query() -> Any:
    """Every named response of some contacts (``ids``), for their order in time."""
    return select_rows(col(Response.contact_id), col(Response.submitted_at), col(Response.id)).where(
        col(Response.contact_id).in_(bindparam("ids", expanding=True)),
        col(Response.anonymous) == False,  # noqa: E712 - SQL, not Python
    )


@cache
def _own_scores_query() -> Any:
    """The own indicator scores of some responses (``ids``)."""
    return select_rows(
        col(IndicatorScore.response_id), col(IndicatorScore.indicator), col(IndicatorScore.score)
    ).where(
        col(IndicatorScore.subject) == "own",
        col(IndicatorScore.response_id).in_(bindparam("ids", expanding=True)),
    )


def _assess_many(
    session: Session, facts: list[ResponseFacts], threshold: float
) -> list[tuple[ResponseFacts, str, str]]:
    """The rules over many responses with a handful of queries (not a few per response)."""
    # The previous response of each contact: all responses of the contacts concerned, in order.
    # Anonymous responses are never compared: not as the later one, not as the earlier one.
    contact_ids = sorted({f.contact_id for f in facts if f.contact_id is not None and not f.anonymous})
    history: dict[int, list[tuple[datetime, int]]] = {}
    for chunk in _chunks(contact_ids):
        rows = session.connection().execute(_history_query(), {"ids": list(chunk)}).all()
        for contact_id, submitted_at, response_id in rows:
            history.setdefault(contact_id or 0, []).append((submitted_at, response_id or 0))
    previous_of: dict[int, int] = {}
    for entries in history.values():
        entries.sort()
        for (_, earlier), (_, later) in pairwise(entries):
            previous_of[later] = earlier

    wanted = sorted(
        {f.response_id for f in facts}
        | {previous_of[f.response_id] for f in facts if f.response_id in previous_of}
    )
    scores: dict[int, dict[str, float]] = {}
    for chunk in _chunks(wanted):
        scored = session.connection().execute(_own_scores_query(), {"ids": list(chunk)}).all()
        for response_id, indicator, score in scored:
            scores.setdefault(response_id, {})[indicator] = float(score)

    flagged = []
    for fact in facts:
        previous_id = None if fact.anonymous else previous_of.get(fact.response_id)
        previous = scores.get(previous_id, {}) if previous_id is not None else None
        outcome = assess(fact, scores.get(fact.response_id, {}), previous, threshold)
        if outcome is not None:
            flagged.append((fact, *outcome))
    return flagged


def _check_threshold(threshold: float) -> None:
    if not threshold > 0:
        raise FollowUpError(f"the drop threshold must be more than 0 points, not {threshold!r}")


def flag_response(
    session: Session, response_id: int, *, threshold: float = DEFAULT_DROP_THRESHOLD
) -> FollowUp | None:
    """Open a follow-up for a stored response when a rule applies, in the caller's transaction.

    Returns the new follow-up, the existing one when the response was flagged before, or
    ``None`` when the response needs no follow-up."""
    _check_threshold(threshold)
    existing = session.exec(select(FollowUp).where(FollowUp.response_id == response_id)).first()
    if existing is not None:
        return existing
    row = session.exec(select(*_facts_columns()).where(Response.id == response_id)).first()
    if row is None:
        raise FollowUpError(f"there is no response #{response_id}")
    return _open_if_needed(session, ResponseFacts(*row), threshold)


def flag_submitted(session: Session, response: Response) -> FollowUp | None:
    """``flag_response`` for the response its submission has just flushed: the facts are on
    the row in hand, and nothing can have flagged it yet."""
    facts = ResponseFacts(*(getattr(response, column.key) for column in _facts_columns()))
    return _open_if_needed(session, facts, DEFAULT_DROP_THRESHOLD)


def _open_if_needed(session: Session, facts: ResponseFacts, threshold: float) -> FollowUp | None:
    flagged = _assess_many(session, [facts], threshold)
    if not flagged:
        return None
    fact, reasons, detail = flagged[0]
    follow_up = FollowUp(
        response_id=fact.response_id,
        account_id=fact.account_id,
        reasons=reasons,
        detail=detail,
        status="open",
        created_at=fact.submitted_at,
        updated_at=fact.submitted_at,
        due_at=sla.due_at(fact.submitted_at, reasons),
    )
    session.add(follow_up)
    session.flush()
    # The owner's alert, chat messages and webhook calls go in this same transaction.
    from survey.loop.alerts import followup_opened

    followup_opened(session, follow_up, now=fact.submitted_at)
    # Several contacts of one account flagged within weeks: the account needs someone too.
    from survey.accounts.warnings import warn_flagged_contacts

    warn_flagged_contacts(session, fact.account_id, fact.submitted_at)
    return follow_up


def flag_all(session: Session, *, threshold: float = DEFAULT_DROP_THRESHOLD) -> int:
    """Flag every stored response that has no follow-up yet (after a bulk load); returns how
    many follow-ups were opened."""
    _check_threshold(threshold)
    rows = session.exec(
        select(*_facts_columns())
        .outerjoin(FollowUp, FollowUp.response_id == Response.id)
        .where(FollowUp.id.is_(None))  # type: ignore[union-attr]
    ).all()
    flagged = _assess_many(session, [ResponseFacts(*row) for row in rows], threshold)
    hours = sla.configured_hours()
    if flagged:
        session.execute(
            insert(FollowUp),
            [
                {
                    "response_id": fact.response_id,
                    "account_id": fact.account_id,
                    "reasons": reasons,
                    "detail": detail,
                    "status": "open",
                    "assignee": None,
                    "note": "",
                    "created_at": fact.submitted_at,
                    "updated_at": fact.submitted_at,
                    "due_at": sla.due_at(fact.submitted_at, reasons, hours),
                }
                for fact, reasons, detail in flagged
            ],
        )
    return len(flagged)


# --- The queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One follow-up with what the team needs to act on it. All text is as stored: escape it."""

    follow_up_id: int
    response_id: int | None
    created: datetime
    account_id: int
    account: str
    contact: str  # the contact's name, or their email when no name is known
    contact_role: str
    touchpoint: str
    submitted: datetime
    nps: int | None
    moment: str | None
    comment: str | None
    reasons: tuple[str, ...]
    detail: str
    status: str
    assignee: str | None
    note: str
    closed: datetime | None
    due: datetime | None = None
    overdue: bool = False
    escalated: datetime | None = None
    customer_message: str | None = None
    customer_message_at: datetime | None = None
    anonymous: bool = False
    # "account" rows have no response: no response id, contact, touchpoint or answers; their
    # ``submitted`` is when the follow-up opened.
    kind: str = "response"


def queue(
    session: Session,
    *,
    status: str | None = "open",
    reason: str | None = None,
    account_id: int | None = None,
    limit: int = 200,
    scope: Scope = EVERYTHING,
    overdue_at: datetime | None = None,
    follow_up_id: int | None = None,
) -> list[QueueRow]:
    """Follow-ups, newest first; ``None`` for a filter means any. With ``overdue_at`` only the
    follow-ups still open past their due time at that moment; rows say whether they are overdue
    at ``overdue_at`` (or never, without it)."""
    if status is not None and status not in STATUSES:
        raise FollowUpError(f"unknown status {status!r} (use one of {', '.join(STATUSES)})")
    if reason is not None and reason not in (*REASONS, *ACCOUNT_REASONS):
        known = ", ".join((*REASONS, *ACCOUNT_REASONS))
        raise FollowUpError(f"unknown reason {reason!r} (use one of {known})")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= QUEUE_LIMIT_MAX:
        raise FollowUpError(f"the limit must be a whole number from 1 to {QUEUE_LIMIT_MAX}, not {limit!r}")
    if account_id is not None and (session.get(Account, account_id) is None or not scope.allows(account_id)):
        raise FollowUpError(f"there is no account #{account_id}")

    # The page of ids first, from the follow-ups alone (an index by status or by account and
    # status gives it), then what is shown of those: joining before the limit would join every
    # follow-up in scope and sort them all.
    newest_first = (col(FollowUp.created_at).desc(), col(FollowUp.id).desc())
    page = select_rows(col(FollowUp.id)).where(scope.condition(FollowUp.account_id))
    if status is not None:
        page = page.where(col(FollowUp.status) == status)
    if reason is not None:
        # Reasons are stored comma-separated: match whole entries only.
        padded = literal(",") + FollowUp.reasons + literal(",")
        page = page.where(padded.like(f"%,{reason},%"))
    if account_id is not None:
        page = page.where(col(FollowUp.account_id) == account_id)
    if follow_up_id is not None:
        page = page.where(col(FollowUp.id) == follow_up_id)
    if overdue_at is not None:
        page = page.where(col(FollowUp.status) != "closed", col(FollowUp.due_at) <= overdue_at)
    ids = [row[0] for row in session.execute(page.order_by(*newest_first).limit(limit)).all()]
    statement = (
        select_rows(
            FollowUp,
            Response,
            col(Account.name),
            col(Contact.name),
            col(Contact.email),
            col(Contact.role),
            col(Touchpoint.name),
        )
        .where(col(FollowUp.id).in_(ids))
        .outerjoin(Response, col(Response.id) == FollowUp.response_id)
        .join(Account, col(Account.id) == FollowUp.account_id)
        .outerjoin(Touchpoint, col(Touchpoint.id) == Response.touchpoint_id)
        .outerjoin(Contact, col(Contact.id) == Response.contact_id)
        .order_by(*newest_first)
    )

    rows = []
    for follow_up, response, account, name, email, role, touchpoint in session.execute(statement).all():
        if response is None:  # a follow-up about the whole account
            rows.append(_account_row(follow_up, account, overdue_at))
            continue
        reasons, detail = _shown_reasons(follow_up, response)
        rows.append(
            QueueRow(
                follow_up_id=follow_up.id or 0,
                response_id=response.id or 0,
                created=follow_up.created_at,
                account_id=follow_up.account_id,
                account=account,
                contact=shown_identity(name, email, response.anonymous),
                contact_role="" if response.anonymous else (role or ""),
                touchpoint=touchpoint,
                submitted=response.submitted_at,
                nps=response.nps,
                moment=response.moment,
                comment=response.comment,
                reasons=reasons,
                detail=detail,
                status=follow_up.status,
                assignee=follow_up.assignee,
                note=follow_up.note,
                closed=follow_up.closed_at,
                due=follow_up.due_at,
                overdue=overdue_at is not None and sla.is_overdue(follow_up, overdue_at),
                escalated=follow_up.escalated_at,
                customer_message=follow_up.customer_message,
                customer_message_at=follow_up.customer_message_at,
                anonymous=response.anonymous,
            )
        )
    return rows


def _account_row(follow_up: FollowUp, account: str, overdue_at: datetime | None) -> QueueRow:
    return QueueRow(
        follow_up_id=follow_up.id or 0,
        response_id=None,
        created=follow_up.created_at,
        account_id=follow_up.account_id,
        account=account,
        contact="the whole account",
        contact_role="",
        touchpoint="all touchpoints",
        submitted=follow_up.created_at,
        nps=None,
        moment=None,
        comment=None,
        reasons=tuple(part for part in follow_up.reasons.split(",") if part),
        detail=follow_up.detail,
        status=follow_up.status,
        assignee=follow_up.assignee,
        note=follow_up.note,
        closed=follow_up.closed_at,
        due=follow_up.due_at,
        overdue=overdue_at is not None and sla.is_overdue(follow_up, overdue_at),
        escalated=follow_up.escalated_at,
        kind="account",
    )


def open_account_follow_up(
    session: Session, account_id: int, reason: str, detail: str, now: datetime
) -> FollowUp | None:
    """Open one follow-up of kind ``account`` for ``reason``, in the caller's transaction.

    ``None`` when the account already has one for that reason that is not closed: an account
    gets one follow-up per reason while it is being handled, however many responses add to it."""
    _check_now(now)
    if reason not in ACCOUNT_REASONS:
        raise FollowUpError(f"unknown account reason {reason!r} (use one of {', '.join(ACCOUNT_REASONS)})")
    if session.get(Account, account_id) is None:
        raise FollowUpError(f"there is no account #{account_id}")
    # Two checks of one account take turns (PostgreSQL), so they cannot both open one. NO KEY
    # UPDATE: a response just stored in this transaction holds a KEY SHARE lock on the account,
    # which a plain FOR UPDATE in another submit would wait for, and deadlock.
    session.exec(select(Account.id).where(Account.id == account_id).with_for_update(key_share=True)).one()
    existing = session.exec(
        select(FollowUp.id).where(
            FollowUp.account_id == account_id,
            FollowUp.kind == "account",
            FollowUp.reasons == reason,
            FollowUp.status != "closed",
        )
    ).first()
    if existing is not None:
        return None
    text = detail if len(detail) <= DETAIL_MAX else detail[: DETAIL_MAX - 1] + "…"
    follow_up = FollowUp(
        response_id=None,
        account_id=account_id,
        kind="account",
        reasons=reason,
        detail=text,
        status="open",
        created_at=now,
        updated_at=now,
        due_at=sla.due_at(now, reason),
    )
    session.add(follow_up)
    session.flush()
    from survey.loop.alerts import followup_opened

    followup_opened(session, follow_up, now=now)
    return follow_up


def _shown_reasons(follow_up: FollowUp, response: Response) -> tuple[tuple[str, ...], str]:
    """The reasons and their explanation as a reader may see them. A response that became
    anonymous after it was flagged (an erasure) loses its drops, which quote the contact's
    previous scores: the explanation is built again from this response's own facts."""
    reasons = tuple(part for part in follow_up.reasons.split(",") if part)
    if not response.anonymous or "drop" not in reasons:
        return reasons, follow_up.detail
    facts = ResponseFacts(
        response.id or 0, response.account_id, None, response.submitted_at, response.nps,
        response.moment, response.instrument_version, anonymous=True,
    )  # fmt: skip
    outcome = assess(facts, {}, None)
    hidden = "scores fell sharply (not quoted: the respondent is anonymous)"
    return reasons, f"{outcome[1]}; {hidden}" if outcome else hidden


def status_counts(session: Session, scope: Scope = EVERYTHING) -> dict[str, int]:
    """How many follow-ups are in each status."""
    counts = dict.fromkeys(STATUSES, 0)
    statement = (
        select(FollowUp.status, func.count())
        .where(scope.condition(FollowUp.account_id))
        .group_by(FollowUp.status)
    )
    for status, count in session.exec(statement).all():
        counts[status] = int(count)
    return counts


def _load(session: Session, follow_up_id: Any, scope: Scope) -> FollowUp:
    if isinstance(follow_up_id, bool) or not isinstance(follow_up_id, int):
        raise FollowUpError(f"{follow_up_id!r} is not a follow-up id")
    # Lock the row (PostgreSQL) so that two people acting at once do not overwrite each other.
    follow_up = session.exec(
        select(FollowUp)
        .where(FollowUp.id == follow_up_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    # Out of scope looks exactly like missing: ids of other managers' follow-ups reveal nothing.
    if follow_up is None or not scope.allows(follow_up.account_id):
        raise FollowUpError(f"there is no follow-up #{follow_up_id}")
    return follow_up


def _check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise FollowUpError("the time of the change needs a time zone")


def _clean_note(note: Any, *, what: str) -> str:
    text = note.strip() if isinstance(note, str) else ""
    if not text:
        raise FollowUpError(f"{what} is empty: say what was done")
    if len(text) > NOTE_MAX:
        raise FollowUpError(f"{what} has {len(text)} characters, more than the {NOTE_MAX} allowed")
    return text


def _append(follow_up: FollowUp, now: datetime, entry: str) -> None:
    """Add a timestamped entry to the note; earlier entries are never overwritten."""
    line = f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC — {entry}"
    follow_up.note = f"{follow_up.note}\n{line}" if follow_up.note else line


def _save(session: Session, follow_up: FollowUp, now: datetime) -> FollowUp:
    follow_up.updated_at = now
    # Assigning, a note or closing: the first of them is the first action, for the loop metrics.
    if follow_up.first_action_at is None:
        follow_up.first_action_at = now
    session.add(follow_up)
    session.flush()
    return follow_up


def assign(
    session: Session, follow_up_id: int, assignee: str, now: datetime, scope: Scope = EVERYTHING
) -> FollowUp:
    """Give the follow-up to someone; it is then in progress."""
    _check_now(now)
    name = assignee.strip() if isinstance(assignee, str) else ""
    if not name:
        raise FollowUpError("the assignee is empty: name who takes this follow-up")
    if len(name) > ASSIGNEE_MAX:
        raise FollowUpError(
            f"the assignee name has {len(name)} characters, more than the {ASSIGNEE_MAX} allowed"
        )
    follow_up = _load(session, follow_up_id, scope)
    if follow_up.status == "closed":
        raise FollowUpError(f"follow-up #{follow_up_id} is closed: reopen it before assigning it")
    _append(follow_up, now, f"assigned to {name}")
    follow_up.assignee = name
    follow_up.status = "in_progress"
    return _save(session, follow_up, now)


def add_note(
    session: Session, follow_up_id: int, note: str, now: datetime, scope: Scope = EVERYTHING
) -> FollowUp:
    """Append a timestamped note; what was written before stays."""
    _check_now(now)
    text = _clean_note(note, what="the note")
    follow_up = _load(session, follow_up_id, scope)
    _append(follow_up, now, text)
    return _save(session, follow_up, now)


def close(
    session: Session,
    follow_up_id: int,
    note: str,
    now: datetime,
    scope: Scope = EVERYTHING,
    *,
    customer_message: str | None = None,
) -> FollowUp:
    """Close the loop; the closing note (what was done) is required. With ``customer_message``
    the contact is also sent that message from the account owner ("you said, we did"), which is
    refused for anonymous responses, erased or opted-out contacts before anything changes."""
    from survey.followup import replies
    from survey.loop import webhooks

    _check_now(now)
    text = _clean_note(note, what="the closing note")
    follow_up = _load(session, follow_up_id, scope)
    if follow_up.status == "closed":
        raise FollowUpError(f"follow-up #{follow_up_id} is already closed")
    reply = None
    if customer_message is not None:
        reply = replies.prepare(session, follow_up, customer_message)
    _append(follow_up, now, f"closed: {text}")
    follow_up.status = "closed"
    follow_up.closed_at = now
    if reply is not None:
        replies.queue(session, follow_up, reply, now=now)
        _append(follow_up, now, f"message sent to the contact: {reply.text}")
    saved = _save(session, follow_up, now)
    data = {
        "follow_up_id": saved.id,
        "response_id": saved.response_id,
        "account_id": saved.account_id,
        "closed_at": now.isoformat(),
        "note": text,
        "customer_told": reply is not None,
    }
    webhooks.publish(session, "followup.closed", f"{saved.id}@{now.isoformat()}", data, now=now)
    return saved


def reopen(
    session: Session, follow_up_id: int, now: datetime, note: str = "", scope: Scope = EVERYTHING
) -> FollowUp:
    """Open a closed follow-up again: in progress when it has an assignee, else open."""
    _check_now(now)
    text = note.strip() if isinstance(note, str) else ""
    if len(text) > NOTE_MAX:
        raise FollowUpError(f"the note has {len(text)} characters, more than the {NOTE_MAX} allowed")
    follow_up = _load(session, follow_up_id, scope)
    if follow_up.status != "closed":
        raise FollowUpError(f"follow-up #{follow_up_id} is not closed, so it cannot be reopened")
    _append(follow_up, now, f"reopened: {text}" if text else "reopened")
    follow_up.status = "in_progress" if follow_up.assignee else "open"
    follow_up.closed_at = None
    return _save(session, follow_up, now)
