"""The app's own responses as factor models read them: one row per response, one column per
statement of the six indicators, reverse-keyed answers mirrored so that every loading is
positive, and the response's language, instrument version and segment beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from sqlmodel import Session, col, select

from models.tables import Account, Response
from survey.exports import packs
from survey.instrument.definition import Instrument, available_versions, load_instrument
from survey.instrument.scoring import reverse_key
from survey.people.access import EVERYTHING, Scope
from survey.quality.data import Structure

GROUP_COLUMNS = {"language": "language", "version": "version", "segment": "segment"}
MAX_RESPONSES = 20_000
# The models are fitted again once the responses have grown by this share of what they rest on
# (at most MAX_RESPONSES): one more answer among thousands moves no loading, and a refit on
# every new response would keep the page's reader waiting on a busy base.
REFIT_SHARE = 0.01


def refit_step(newest_id: int) -> int:
    """How many new responses (by id) make the quality models be fitted again."""
    return max(1, int(min(newest_id, MAX_RESPONSES) * REFIT_SHARE))


def refit_round(newest_id: int) -> int:
    """Which fit the responses up to ``newest_id`` belong to (a cache key): ``newest_id``
    rounded down to a multiple of its ``refit_step``, so ids less than a step apart share a
    fit and ids further apart never do."""
    return newest_id - newest_id % refit_step(newest_id)


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
    # One packed record per response (``survey.exports.packs``), not some twenty answer rows:
    # a twentieth of the rows to read.
    rows = (
        session.connection()
        .execute(
            select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
                Response.id,
                Response.locale,
                Response.instrument_version,
                Account.segment,
                Response.export_pack,
            )
            .join(Account, col(Account.id) == Response.account_id)
            .where(*conditions)
            .order_by(col(Response.id).desc())
            .limit(limit)
        )
        .all()[::-1]
    )
    frame = pd.DataFrame(
        [tuple(row)[:4] for row in rows], columns=["response_id", "language", "version", "segment"]
    )
    frame["version"] = frame["version"].astype(str)
    stored = [row[4] for row in rows]
    values = packs.read(session, frame["response_id"].to_numpy(), stored).answer_values(items)
    keyed = _reverse_keyed_codes()
    for column, code in enumerate(items):
        if code in keyed:
            values[:, column] = reverse_key(values[:, column], *keyed[code])  # type: ignore[arg-type]  # mirrors arrays alike
    return pd.concat([frame, pd.DataFrame(values, columns=items)], axis=1)


def response_months(session: Session, *, scope: Scope = EVERYTHING) -> list[str]:
    """Every month (YYYY-MM) from the first response to the last, for a "since" picker."""
    from sqlmodel import func

    # Each end on its own: so each is one step into the submission-time index (asked together,
    # SQLite reads every response in scope).
    ends = (
        select(extreme(Response.submitted_at)).where(scope.condition(Response.account_id)).scalar_subquery()
        for extreme in (func.min, func.max)
    )
    first, last = session.exec(select(*ends)).one()
    if first is None or last is None:
        return []
    return [
        str(month) for month in pd.period_range(first.strftime("%Y-%m"), last.strftime("%Y-%m"), freq="M")
    ]
