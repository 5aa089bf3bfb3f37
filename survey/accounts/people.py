"""Each contact's own relationship strength (seed 003): who is warm and who has gone quiet.

A contact's strength is the mean of their latest response's own indicator scores (0-100);
the trend is that against their previous response. Anonymous responses never count here:
they must not be attributed to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Contact, IndicatorScore, Response
from survey.accounts.profile import AccountError
from survey.people.access import EVERYTHING, Scope

QUIET_DAYS = 180  # no answer for this long: gone quiet
WARM_AT = 70.0  # strength at or above: warm
COOL_AT = 50.0  # below: cool
COOLING_BY = 10.0  # fell at least this much since the previous answer: cooling


@dataclass(frozen=True)
class Person:
    contact_id: int
    name: str
    email: str
    role: str
    buying_influence: float
    responses: int
    last_answered: datetime | None
    strength: float | None  # 0-100, latest response
    previous: float | None  # 0-100, the response before
    days_silent: int | None

    @property
    def trend(self) -> float | None:
        if self.strength is None or self.previous is None:
            return None
        return self.strength - self.previous

    @property
    def status(self) -> str:
        if self.last_answered is None:
            return "never answered"
        if self.days_silent is not None and self.days_silent > QUIET_DAYS:
            return "gone quiet"
        if self.trend is not None and self.trend <= -COOLING_BY:
            return "cooling"
        if self.strength is not None and self.strength >= WARM_AT:
            return "warm"
        if self.strength is not None and self.strength < COOL_AT:
            return "cool"
        return "steady"


def people(session: Session, account_id: int, now: datetime, scope: Scope = EVERYTHING) -> list[Person]:
    """The account's contacts, most influential first, with their own strength."""
    if not scope.allows(account_id):
        raise AccountError(f"there is no account #{account_id}")
    contacts = session.exec(
        select(Contact)
        .where(Contact.account_id == account_id)
        .order_by(col(Contact.buying_influence).desc(), col(Contact.name), col(Contact.id))
    ).all()
    rank = (
        func.row_number()
        .over(
            partition_by=col(Response.contact_id),
            order_by=(col(Response.submitted_at).desc(), col(Response.id).desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Response.id, Response.contact_id, Response.submitted_at, rank)
        .where(
            Response.account_id == account_id,
            Response.contact_id.is_not(None),  # type: ignore[union-attr]
            Response.submitted_at <= now,
            ~col(Response.anonymous),
        )
        .subquery()
    )
    rows = session.exec(
        select(ranked.c.contact_id, ranked.c.rank, ranked.c.submitted_at, func.avg(IndicatorScore.score_100))
        .join(IndicatorScore, col(IndicatorScore.response_id) == ranked.c.id)
        .where(ranked.c.rank <= 2, IndicatorScore.subject == "own")
        .group_by(ranked.c.contact_id, ranked.c.rank, ranked.c.submitted_at)
    ).all()
    latest: dict[int, tuple[datetime, float]] = {}
    before: dict[int, float] = {}
    for contact_id, position, submitted, mean in rows:
        if position == 1:
            latest[contact_id] = (submitted, float(mean))
        else:
            before[contact_id] = float(mean)
    counts = dict(
        session.exec(
            select(Response.contact_id, func.count())
            .where(Response.account_id == account_id, Response.submitted_at <= now, ~col(Response.anonymous))
            .group_by(col(Response.contact_id))
        ).all()
    )
    result = []
    for contact in contacts:
        cid = contact.id or 0
        last = latest.get(cid)
        result.append(
            Person(
                contact_id=cid,
                name=contact.name,
                email=contact.email,
                role=contact.role,
                buying_influence=float(contact.buying_influence),
                responses=int(counts.get(cid, 0)),
                last_answered=None if last is None else last[0],
                strength=None if last is None else last[1],
                previous=before.get(cid),
                days_silent=None if last is None else (now - last[0]).days,
            )
        )
    return result
