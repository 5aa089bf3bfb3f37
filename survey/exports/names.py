"""Filters given by name, as on the command line: touchpoints and accounts become ids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlmodel import Session, col

from models.tables import Account, Touchpoint
from survey.exports.rows import ExportError, month_start
from survey.reporting.filters import Filters


def filters_from_names(
    session: Session,
    *,
    start: str | None = None,
    end: str | None = None,
    segments: Sequence[str] = (),
    touchpoints: Sequence[str] = (),
    roles: Sequence[str] = (),
    accounts: Sequence[str] = (),
) -> Filters:
    """The dashboard's ``Filters`` from names; an unknown name is an error that names it."""
    for value, name in ((start, "start"), (end, "end")):
        if value:
            month_start(value, name)
    if start and end and start > end:
        raise ExportError(f"start {start} is after end {end}")
    touchpoint_ids = []
    for wanted in touchpoints:
        found = session.execute(
            select(col(Touchpoint.id)).where(
                or_(col(Touchpoint.code) == wanted, col(Touchpoint.name) == wanted)
            )
        ).scalar()
        if found is None:
            raise ExportError(f"touchpoint {wanted!r} does not exist (give its code or name)")
        touchpoint_ids.append(int(found))
    account_ids = []
    for wanted in accounts:
        clause = col(Account.name) == wanted
        if wanted.isdigit():
            clause = or_(clause, col(Account.id) == int(wanted))
        found = session.execute(select(col(Account.id)).where(clause)).scalar()
        if found is None:
            raise ExportError(f"account {wanted!r} does not exist (give its name or id)")
        account_ids.append(int(found))
    return Filters(
        start=start or None,
        end=end or None,
        segments=tuple(segments),
        touchpoint_ids=tuple(touchpoint_ids),
        roles=tuple(roles),
        account_ids=tuple(account_ids),
    )
