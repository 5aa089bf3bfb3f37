"""Every non-anonymous comment in the reader's scope, with its context and tags.

A comment from a respondent who asked for anonymity is never listed, counted or exported
here: with so few contacts per account its wording, account and date could name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import pandas as pd
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select

from models.tables import NPS_CATEGORIES, Account, Contact, IndicatorScore, Response, Touchpoint
from survey.comments.tags import TagRule, list_rules, tags_of
from survey.people.access import EVERYTHING, Scope

LEVELS = {"low": (0.0, 50.0), "middle": (50.0, 75.0), "high": (75.0, 100.01)}  # on 0-100, upper end open
NPS_GROUPS = (*NPS_CATEGORIES, "not answered")
LIMIT_MAX = 20_000
# From this share of all accounts, the listing walks comments by time (``_account_column``).
MANY_ACCOUNTS = 0.25
COLUMNS = [
    "response_id",
    "submitted",
    "account",
    "contact",
    "touchpoint",
    "nps",
    "nps_group",
    "comment",
    "tags",
]


class CommentFilterError(ValueError):
    """A filter was refused; the message names the bad one."""


@dataclass(frozen=True)
class CommentFilters:
    start: date | None = None
    end: date | None = None  # inclusive
    account_ids: tuple[int, ...] = ()
    touchpoint_ids: tuple[int, ...] = ()
    nps_groups: tuple[str, ...] = ()
    indicator: str | None = None
    level: str | None = None  # low, middle or high score on ``indicator``
    tag: str | None = None


def _account_column(session: Session, scope: Scope, filters: CommentFilters) -> ColumnElement[int]:
    """The response's account as the listing narrows by it: the column itself, which the index
    by account serves, for a few accounts; for a share of all accounts of ``MANY_ACCOUNTS`` or
    more, written so that no index serves it. Their newest comments come soon in time order, so
    walking the submission-time index finds the newest ``limit`` sooner than reading every
    response of those accounts and sorting them (SQLite, without statistics, would take the
    index by account)."""
    column = cast(ColumnElement[int], col(Response.account_id))
    named = [len(ids) for ids in (scope.account_ids, filters.account_ids) if ids]
    if not named:
        return column
    accounts = session.exec(select(func.count()).select_from(Account)).one()
    return column if min(named) < MANY_ACCOUNTS * accounts else column + 0


def _check(filters: CommentFilters) -> None:
    if filters.start and filters.end and filters.start > filters.end:
        raise CommentFilterError(f"the period starts ({filters.start}) after it ends ({filters.end})")
    unknown = [g for g in filters.nps_groups if g not in NPS_GROUPS]
    if unknown:
        raise CommentFilterError(f"unknown NPS group {unknown[0]!r} (use one of {', '.join(NPS_GROUPS)})")
    if (filters.indicator is None) != (filters.level is None):
        raise CommentFilterError("an indicator level needs both the indicator and the level")
    if filters.level is not None and filters.level not in LEVELS:
        raise CommentFilterError(f"unknown level {filters.level!r} (use one of {', '.join(LEVELS)})")


def comments(
    session: Session,
    filters: CommentFilters = CommentFilters(),
    scope: Scope = EVERYTHING,
    *,
    limit: int = 5000,
    rules: list[TagRule] | None = None,
) -> pd.DataFrame:
    """The newest ``limit`` comments that match, newest first, each with its tags."""
    _check(filters)
    if not 1 <= limit <= LIMIT_MAX:
        raise CommentFilterError(f"the limit must be from 1 to {LIMIT_MAX}, not {limit!r}")
    account = _account_column(session, scope, filters)
    statement = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            Response.id,
            Response.submitted_at,
            Account.name,
            Contact.name,
            Contact.email,
            Touchpoint.name,
            Response.nps,
            Response.nps_category,
            Response.comment,
        )
        .join(Account, Account.id == Response.account_id)
        .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(
            scope.condition(account),
            ~col(Response.anonymous),
            Response.comment.is_not(None),  # type: ignore[union-attr]
            func.length(func.trim(Response.comment)) > 0,
        )
    )
    if filters.start:
        statement = statement.where(
            Response.submitted_at >= datetime.combine(filters.start, time(), tzinfo=UTC)
        )
    if filters.end:
        end = datetime.combine(filters.end + timedelta(days=1), time(), tzinfo=UTC)
        statement = statement.where(Response.submitted_at < end)
    if filters.account_ids:
        statement = statement.where(account.in_(filters.account_ids))
    if filters.touchpoint_ids:
        statement = statement.where(col(Response.touchpoint_id).in_(filters.touchpoint_ids))
    if filters.nps_groups:
        groups = [g for g in filters.nps_groups if g != "not answered"]
        condition: ColumnElement[bool] = col(Response.nps_category).in_(groups)
        if "not answered" in filters.nps_groups:
            condition = condition | col(Response.nps_category).is_(None)
        statement = statement.where(condition)
    if filters.indicator is not None and filters.level is not None:
        low, high = LEVELS[filters.level]
        statement = statement.join(
            IndicatorScore,
            and_(
                col(IndicatorScore.response_id) == Response.id,
                col(IndicatorScore.indicator) == filters.indicator,
                col(IndicatorScore.subject) == "own",
            ),
        ).where(IndicatorScore.score_100 >= low, IndicatorScore.score_100 < high)
    statement = statement.order_by(col(Response.submitted_at).desc(), col(Response.id).desc()).limit(limit)
    rows = session.exec(statement).all()
    chosen_rules = list_rules(session) if rules is None else rules
    frame = pd.DataFrame(
        [
            {
                "response_id": response_id,
                "submitted": submitted,
                "account": account,
                "contact": name or email or "",
                "touchpoint": touchpoint,
                "nps": nps,
                "nps_group": category or "not answered",
                "comment": comment,
                "tags": tags_of(comment, chosen_rules),
            }
            for response_id, submitted, account, name, email, touchpoint, nps, category, comment in rows
        ],
        columns=COLUMNS,
    )
    if filters.tag is not None:
        frame = frame[[filters.tag in tags for tags in frame["tags"]]].reset_index(drop=True)
    return frame


UNTAGGED = "(no tag)"


def _exploded(frame: pd.DataFrame) -> pd.DataFrame:
    tagged = frame.assign(tag=[tags or [UNTAGGED] for tags in frame["tags"]])
    return tagged.explode("tag")


def counts_by_touchpoint(frame: pd.DataFrame) -> pd.DataFrame:
    """Comments per tag (rows) and touchpoint (columns); a comment with two tags counts in both."""
    if frame.empty:
        return pd.DataFrame()
    return pd.crosstab(_exploded(frame)["tag"], _exploded(frame)["touchpoint"])


def counts_by_month(frame: pd.DataFrame) -> pd.DataFrame:
    """month (YYYY-MM), tag, comments: for the chart over time."""
    if frame.empty:
        return pd.DataFrame(columns=["month", "tag", "comments"])
    exploded = _exploded(frame)
    months = pd.to_datetime(exploded["submitted"], utc=True).dt.strftime("%Y-%m")
    counted = exploded.assign(month=months).groupby(["month", "tag"]).size().reset_index(name="comments")
    return counted.sort_values(["month", "tag"]).reset_index(drop=True)


def export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The comments as a spreadsheet wants them: tags joined, the time as text (see
    ``survey/exports/frames.py`` for the file, which defuses formulas)."""
    return frame.assign(
        submitted=[f"{moment:%Y-%m-%d %H:%M}" for moment in frame["submitted"]],
        tags=["; ".join(tags) for tags in frame["tags"]],
    )
