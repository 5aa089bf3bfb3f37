"""What each contact answered last, kept per database and brought up to date contact by contact.

For every contact, among their *named* responses (an anonymous answer is never linked to
anyone): when they last answered, the value level of their latest answer that has one, and
for each indicator the own score of their latest response that has one (newest first; ties:
the later id). The account score, coverage and the customer's value level are built from
these (``survey.accounts.profile``).

``read`` is the one definition, a query over contacts. Reading it for every contact of a
large base takes about a second, so ``last_answers`` keeps the whole base's in memory,
together with the newest response id and the erased contacts it includes. A later call reads
again only the contacts that answered since or were erased since, through the same ``read``
restricted to them: the first open of My accounts after a new response costs milliseconds.
Responses commit in the order of their ids (``survey.collecting.responses``) and are never
changed afterwards, except by an erasure, which turns a contact's answers anonymous.

What is kept has no time limit: a contact whose latest answer is dated after the moment
asked about (a question about the past) is read again as of that moment. What is kept is
only ever what is committed (``_current``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, ScalarSelect, func, true
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.tables import Contact, ContactErasure, IndicatorScore, Response
from survey.people.access import Scope
from survey.reporting import cache

# A scope of this many accounts or fewer (an account page) is read directly while nothing is
# kept yet, instead of reading the whole base first.
SMALL_SCOPE = 20
# When more contacts than this answered since the last read (an import of old answers), the
# whole base is read again in one pass rather than through a list of that many ids.
REREAD_ALL = 5_000


@dataclass(frozen=True)
class LastAnswers:
    """One contact's latest named answers (see the module's docstring)."""

    at: datetime
    value_level: int | None
    scores: tuple[tuple[str, float], ...]  # (indicator, own score 1-7)


@dataclass(frozen=True)
class _Kept:
    upto: int  # the newest response id included
    erased: frozenset[int]  # the erased contacts included
    contacts: dict[int, LastAnswers]


_kept: dict[str, _Kept] = {}
_lock = threading.Lock()


def forget() -> None:
    """Drop everything kept (tests)."""
    with _lock:
        _kept.clear()


def _latest(statement: SelectOfScalar[Any], now: datetime | None) -> ScalarSelect[Any]:
    """The first row of ``statement`` (over ``Response``, inside a query over ``Contact``) among
    the contact's named responses (up to ``now`` unless it is ``None``), newest first (ties:
    the later id). A few steps into ``ix_response_contact_submitted`` per contact, however
    many responses there are."""
    statement = statement.where(col(Response.contact_id) == col(Contact.id), ~col(Response.anonymous))
    if now is not None:
        statement = statement.where(col(Response.submitted_at) <= now)
    return (
        statement.order_by(col(Response.submitted_at).desc(), col(Response.id).desc())
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )


def _score_codes(session: Session) -> list[str]:
    """Every indicator code that has a score, each found by one step into the index on
    (indicator, subject) instead of by reading the scores."""
    first = select(func.min(IndicatorScore.indicator).label("code")).cte("codes", recursive=True)
    after = select(func.min(IndicatorScore.indicator)).where(col(IndicatorScore.indicator) > first.c.code)
    codes = first.union_all(select(after.scalar_subquery()).where(first.c.code.is_not(None)))
    return [code for code in session.exec(select(codes.c.code)).all() if code is not None]


def read(session: Session, contacts: ColumnElement[bool], now: datetime | None) -> dict[int, LastAnswers]:
    """``LastAnswers`` of every contact matching ``contacts`` who ever answered by name (up to
    ``now`` unless it is ``None``), in one query, by contact id."""
    codes = _score_codes(session)
    scores = []
    for code in codes:
        # A scalar subquery, not a join: the database then walks the contact's responses,
        # newest first, and looks up each one's score, instead of starting from the scores.
        own = (
            select(IndicatorScore.score)
            .where(
                col(IndicatorScore.response_id) == col(Response.id),
                col(IndicatorScore.indicator) == code,
                col(IndicatorScore.subject) == "own",
            )
            .scalar_subquery()
        )
        scores.append(_latest(select(own).where(own.is_not(None)), now))
    statement = select_rows(
        col(Contact.id),
        _latest(select(Response.submitted_at), now),
        _latest(select(Response.value_level).where(col(Response.value_level).is_not(None)), now),
        *scores,
    ).where(contacts)
    result = {}
    for contact_id, at, level, *latest in session.execute(statement).all():
        if at is None:
            continue
        result[int(contact_id)] = LastAnswers(
            at=at,
            value_level=None if level is None else int(level),
            scores=tuple(
                (code, float(score)) for code, score in zip(codes, latest, strict=True) if score is not None
            ),
        )
    return result


def last_answers(session: Session, scope: Scope, now: datetime) -> list[tuple[int, int, LastAnswers]]:
    """(account, contact, ``LastAnswers``) of every contact of the accounts in ``scope`` who
    answered by name up to ``now``, ordered by account and contact."""
    in_scope = scope.condition(Contact.account_id)
    database = cache.database(session)
    with _lock:
        kept = _kept.get(database)
    small = scope.account_ids is not None and len(scope.account_ids) <= SMALL_SCOPE
    found = None if kept is None and small else _current(session, database)
    if found is None:
        found = read(session, in_scope, now)
    else:
        # A contact whose latest answer is dated after ``now`` is read as of ``now``; for every
        # other contact, every answer is up to ``now`` and what is kept is what ``now`` gives.
        later = {contact for contact, answers in found.items() if answers.at > now}
        found = _read_again(session, found, later, in_scope, now)
    accounts = session.exec(
        select(Contact.account_id, col(Contact.id))
        .where(in_scope)
        .order_by(col(Contact.account_id), col(Contact.id))
    ).all()
    return [
        (account_id, contact_id, found[contact_id])
        for account_id, contact_id in accounts
        if contact_id in found
    ]


def _read_again(
    session: Session,
    found: dict[int, LastAnswers],
    contacts: set[int],
    everyone: ColumnElement[bool],
    now: datetime | None,
) -> dict[int, LastAnswers]:
    """``found`` with ``contacts`` read again (up to ``now``); past ``REREAD_ALL`` of them,
    ``everyone`` read in one pass instead."""
    if len(contacts) > REREAD_ALL:
        return read(session, everyone, now)
    kept = {contact: answers for contact, answers in found.items() if contact not in contacts}
    if contacts:
        kept |= read(session, col(Contact.id).in_(sorted(contacts)), now)
    return kept


def _view(session: Session) -> tuple[int, int]:
    """The newest response and the number of erasures ``session`` sees."""
    erasures = session.exec(select(func.count()).select_from(ContactErasure)).one()
    return cache.newest_response_id(session), int(erasures)


def _current(session: Session, database: str) -> dict[int, LastAnswers] | None:
    """The whole base's committed ``LastAnswers`` as of the newest response, kept up to date;
    ``None`` when ``session`` sees other responses or erasures than are committed (its own,
    not yet committed, or a snapshot older than the latest commit): the caller then reads
    for itself. What is kept is read in a session of its own, so that it never holds what
    a unit of work wrote and may still roll back. (An in-memory database has one connection,
    which a second session would share: there the caller's session reads.)"""
    engine = cast(Engine, session.get_bind())
    own = cache.one_connection(engine)
    with cache.gate(("last answers", database)), Session(engine) as committed:
        reader = session if own else committed
        # Read before the answers: whatever commits in between is read again next time.
        newest = cache.newest_response_id(reader)
        erased = frozenset(int(c) for c in reader.exec(select(ContactErasure.contact_id)).all())
        if not own and _view(session) != (newest, len(erased)):
            return None
        with _lock:
            kept = _kept.get(database)
        if kept is None:
            kept = _Kept(newest, erased, read(reader, true(), None))
        elif newest != kept.upto or erased != kept.erased:
            arrived = reader.exec(
                select(Response.contact_id)
                .where(col(Response.id) > kept.upto, col(Response.contact_id).is_not(None))
                .distinct()
            ).all()
            changed = {int(c) for c in arrived if c is not None}.union(erased - kept.erased)
            kept = _Kept(newest, erased, _read_again(reader, kept.contacts, changed, true(), None))
        with _lock:
            _kept[database] = kept
    return kept.contacts
