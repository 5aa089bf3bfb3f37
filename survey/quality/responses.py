"""The app's own responses as factor models read them: one row per response, one column per
statement of the six indicators, reverse-keyed answers mirrored so that every loading is
positive, and the response's language, instrument version and segment beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from sqlmodel import Session, col, select

from models.tables import Account, Answer, Response
from survey.instrument.definition import Instrument, available_versions, load_instrument
from survey.instrument.scoring import reverse_key
from survey.people.access import EVERYTHING, Scope
from survey.quality.data import Structure

GROUP_COLUMNS = {"language": "language", "version": "version", "segment": "segment"}
MAX_RESPONSES = 20_000


def six_factor_structure(instrument: Instrument) -> Structure:
    """Each indicator measured by its agreement statements, in the instrument's order."""
    return Structure.of(
        {
            indicator.code: [item.code for item in instrument.indicator_items(indicator.code)]
            for indicator in instrument.indicators
        }
    )


def shared_structure(versions: list[int]) -> Structure:
    """The six-factor model on the statements every one of ``versions`` asks (at least two per
    indicator), so that versions can be compared on the same items."""
    instruments = [load_instrument(v) for v in versions]
    newest = instruments[-1]
    factors: dict[str, list[str]] = {}
    for indicator in newest.indicators:
        codes = [item.code for item in newest.indicator_items(indicator.code)]
        for other in instruments[:-1]:
            asked = {item.code for item in other.indicator_items(indicator.code)}
            codes = [code for code in codes if code in asked]
        if len(codes) >= 2:
            factors[indicator.code] = codes
    return Structure.of(factors)


def _reverse_keyed_codes() -> dict[str, tuple[int, int]]:
    """Item code -> the scale it is mirrored on, over every instrument version (codes are stable)."""
    keyed: dict[str, tuple[int, int]] = {}
    for version in available_versions():
        instrument = load_instrument(version)
        scale = instrument.agree_scale
        for item in instrument.items:
            if item.reverse and item.indicator:
                keyed[item.code] = (scale.min, scale.max)
    return keyed


def item_frame(
    session: Session,
    items: list[str],
    *,
    since: date | None = None,
    scope: Scope = EVERYTHING,
    limit: int = MAX_RESPONSES,
) -> pd.DataFrame:
    """The newest ``limit`` responses submitted since ``since`` (all when ``None``) in ``scope``:
    ``response_id``, ``language``, ``version``, ``segment`` and one column per item (NaN where not
    answered). The limit keeps memory and time bounded on a large base; tens of thousands of
    responses estimate these models as well as millions."""
    conditions = [scope.condition(Response.account_id)]
    if since is not None:
        conditions.append(
            col(Response.submitted_at) >= datetime(since.year, since.month, since.day, tzinfo=UTC)
        )
    # Core rows turned into plain tuples: pandas probing each row object for its fields costs
    # seconds at a few hundred thousand answers.
    connection = session.connection()
    heads = [
        tuple(row)
        for row in connection.execute(
            select(Response.id, Response.locale, Response.instrument_version, Account.segment)
            .join(Account, col(Account.id) == Response.account_id)
            .where(*conditions)
            .order_by(col(Response.id).desc())
            .limit(limit)
        ).all()
    ]
    frame = pd.DataFrame(heads[::-1], columns=["response_id", "language", "version", "segment"])
    if heads:
        conditions.append(col(Response.id) >= heads[-1][0])
    frame["version"] = frame["version"].astype(str)
    answers = connection.execute(
        select(Answer.response_id, Answer.item_code, Answer.value)
        .join(Response, col(Response.id) == Answer.response_id)
        .where(col(Answer.item_code).in_(items), *conditions)
    ).all()
    long = pd.DataFrame([tuple(row) for row in answers], columns=["response_id", "item", "value"])
    keyed = _reverse_keyed_codes()
    for code, (low, high) in keyed.items():
        mirrored = long["item"] == code
        long.loc[mirrored, "value"] = reverse_key(long.loc[mirrored, "value"], low, high)
    wide = long.pivot_table(index="response_id", columns="item", values="value", aggfunc="first")
    wide = wide.reindex(columns=items).astype(float)
    return frame.join(wide, on="response_id")


def response_months(session: Session, *, scope: Scope = EVERYTHING) -> list[str]:
    """Every month (YYYY-MM) from the first response to the last, for a "since" picker."""
    from sqlmodel import func

    first, last = session.exec(
        select(func.min(Response.submitted_at), func.max(Response.submitted_at)).where(
            scope.condition(Response.account_id)
        )
    ).one()
    if first is None or last is None:
        return []
    return [
        str(month) for month in pd.period_range(first.strftime("%Y-%m"), last.strftime("%Y-%m"), freq="M")
    ]
