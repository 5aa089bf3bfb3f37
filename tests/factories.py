"""Small builders the tests share."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from models.tables import TransactionMeasure, User
from survey.collecting.invitations import InviteResult, invite
from survey.collecting.responses import submit
from survey.people.users import SignedIn, add_user

BASE_URL = "http://testserver"


def make_invitation(
    session: Session,
    now: datetime,
    *,
    account: str = "Acme Tools",
    email: str = "ana@acme.example",
    **kwargs: Any,
) -> tuple[InviteResult, str]:
    """An invitation for a delivery; returns the result and its token."""
    result = invite(
        session,
        account_name=account,
        contact_email=email,
        touchpoint=kwargs.pop("touchpoint", "delivery"),
        now=now,
        base_url=BASE_URL,
        valid_days=kwargs.pop("valid_days", 14),
        **kwargs,
    )
    session.commit()
    return result, result.link.split("?t=", 1)[1]


def full_answers() -> dict[str, Any]:
    """A complete set of answers whose scores are easy to check by hand."""
    answers: dict[str, Any] = {
        # satisfaction: 6, 5, 7, reverse 2 -> 6  => mean 6.0
        "SAT1": 6,
        "SAT2": 5,
        "SAT3": 7,
        "SAT4": 2,
        # trust: 7, reverse 3 -> 5, 6, 4, 3 => mean 5.0
        "TRU1": 7,
        "TRU2": 3,
        "TRU3": 6,
        "TRU4": 4,
        "TRU5": 3,
        # control mutuality: 4, 4, reverse 4 -> 4, 4 => 4.0
        "CTL1": 4,
        "CTL2": 4,
        "CTL3": 4,
        "CTL4": 4,
        # commitment: 7, 7, 6, reverse 1 -> 7 => 6.75
        "COM1": 7,
        "COM2": 7,
        "COM3": 6,
        "COM4": 1,
        # mind-set: 2, 3, reverse 7 -> 1 => 2.0
        "MIN1": 2,
        "MIN2": 3,
        "MIN3": 7,
        # word-of-mouth: 5, 6, reverse 2 -> 6, 7 => 6.0
        "WOM1": 5,
        "WOM2": 6,
        "WOM3": 2,
        "WOM4": 7,
        "NPS": 9,
        "LEADER": "other",
        "LEADER_OTHER": "Stratos Group",
        "CL_SAT": 5,
        "CL_TRU": 4,
        "VALUE_LEVEL": 3,
        "MOMENT": "delighted",
        "COMMENT": '=HYPERLINK("http://x") **bold** <b>hi</b>',
    }
    return answers


EXPECTED_SCORES = {
    "satisfaction": 6.0,
    "trust": 5.0,
    "control_mutuality": 4.0,
    "commitment": 6.75,
    "mindset": 2.0,
    "word_of_mouth": 6.0,
}


def answers_at(levels: dict[str, int] | None = None, **changes: Any) -> dict[str, Any]:
    """The factory answers with whole indicators set to a level (so their score is that level)."""
    from survey.instrument.definition import load_instrument

    instrument = load_instrument()
    result = full_answers()
    for indicator, level in (levels or {}).items():
        for item in instrument.indicator_items(indicator):
            result[item.code] = 8 - level if item.reverse else level
    return result | changes


def respond(session: Session, when: datetime, answers: dict[str, Any] | None = None, **invite: Any) -> int:
    """Invite (see ``make_invitation``), submit ``answers`` (None values left out), commit."""
    result, _ = make_invitation(session, when, **invite)
    given = {code: value for code, value in (answers or full_answers()).items() if value is not None}
    response_id = submit(session, invitation_id=result.invitation_id, answers=given, locale="en", now=when)
    session.commit()
    return response_id


APP_PATH = str(Path(__file__).resolve().parent.parent / "app.py")
PASSWORD = "correct horse battery"


def make_user(session: Session, username: str = "admin", role: str = "admin", **kwargs: Any) -> SignedIn:
    """A user with the password ``PASSWORD`` (created when missing)."""
    existing = session.exec(select(User).where(User.username == username)).first()
    user = existing or add_user(
        session, username, role, password=kwargs.pop("password", PASSWORD), actor="test", **kwargs
    )
    session.commit()
    return SignedIn(id=user.id or 0, username=user.username, display_name=user.display_name, role=user.role)


def team_app(
    session: Session, *, role: str = "admin", username: str | None = None, timeout: float = 30
) -> AppTest:
    """The app (not yet run) with a user of ``role`` signed in, as after the sign-in form."""
    user = make_user(session, username or role, role)
    at = AppTest.from_file(APP_PATH, default_timeout=timeout)
    at.session_state["user"] = user
    at.session_state["last_seen"] = datetime.now(UTC)
    return at


def quarter_measures(account_id: int, quarter: str, **values: Any) -> TransactionMeasure:
    """One quarter's transactional measures of an account (``quarter`` like ``2026-Q3``); the
    counts not given are 0, the "days since" measures None (never bought or paid)."""
    year, number = int(quarter[:4]), int(quarter[-1])
    start = date(year, 3 * number - 2, 1)
    end = (date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)) - timedelta(days=1)
    counts = dict.fromkeys(
        ("sales_transactions", "information_requests", "positive_service_events", "referral_sales"), 0
    )
    return TransactionMeasure(
        account_id=account_id, period=quarter, period_start=start, period_end=end, **(counts | values)
    )


def drawn_figures(at: AppTest) -> list[dict[str, Any]]:
    """The figures a page drew, each checked against Plotly's schema (a wrong property or
    value raises ``ValueError``): the charts skip Plotly's checks when they are drawn."""
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    for figure in figures:
        go.Figure(figure)
    return figures
