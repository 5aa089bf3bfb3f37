"""An anonymous response never leads back to its contact, whoever reads it: the follow-up
queue and page, the invitations list and page, the exports, the API and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.tables import Contact, Interaction, Response
from survey.api.routes import routes
from survey.collecting.responses import submit
from survey.exports.api import responses_page
from survey.exports.rows import ChunkReader, ExportRequest
from survey.followup.queue import queue
from survey.people.apikeys import create_key
from survey.people.audit import recent
from survey.people.privacy import ANONYMOUS, erase_contact
from survey.reporting.dashboard import Filters
from survey.sending.status import report
from tests.factories import answers_at, make_invitation, team_app

EMAIL = "anna.berg@acme.example"
NAME = "Anna Berg"


def answer(session: Session, when: datetime, *, anonymous: bool, **answers: Any) -> int:
    result, _ = make_invitation(session, when, email=EMAIL, contact_name=NAME, contact_role="decision_maker")
    response_id = submit(
        session,
        invitation_id=result.invitation_id,
        answers=answers_at(**answers),
        locale="en",
        now=when + timedelta(minutes=5),
        anonymous=anonymous,
    )
    session.commit()
    return response_id


def identifying(session: Session, response_id: int) -> list[str]:
    """What would tie the response to Anna: her name, email, contact id, the interaction id,
    her role, and the scores of her named answer."""
    response = session.get_one(Response, response_id)
    contact = session.exec(select(Contact).where(Contact.email == EMAIL)).one()
    return [
        NAME,
        EMAIL,
        "decision_maker",
        "decision maker",
        f"contact #{contact.id}",
        f"#{response.interaction_id}",
    ]


@pytest.fixture
def anonymous_detractor(session: Session) -> int:
    """Anna answers with her name (trust 6), then anonymously as a detractor (trust 2)."""
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    answer(session, start, anonymous=False, levels={"trust": 6, "satisfaction": 6})
    return answer(
        session, start + timedelta(days=3), anonymous=True, levels={"trust": 2, "satisfaction": 2}, NPS=2
    )


def test_the_follow_up_of_an_anonymous_detractor_quotes_no_earlier_score(session, anonymous_detractor):
    [row] = [r for r in queue(session, status=None) if r.response_id == anonymous_detractor]
    assert row.contact == ANONYMOUS
    assert row.contact_role == ""
    assert row.reasons == ("detractor",)
    assert "fell from" not in row.detail
    assert "6.0" not in row.detail
    assert row.detail == "Recommendation 2/10"


def test_a_named_answer_after_an_anonymous_one_quotes_no_anonymous_score(session):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    answer(session, start, anonymous=True, levels={"trust": 6})
    named = answer(session, start + timedelta(days=3), anonymous=False, levels={"trust": 2})
    assert [r for r in queue(session, status=None) if r.response_id == named] == []


def test_an_erased_contacts_follow_up_loses_the_quoted_scores(session):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    answer(session, start, anonymous=False, levels={"trust": 6})
    second = answer(session, start + timedelta(days=3), anonymous=False, levels={"trust": 2}, NPS=4)
    [before] = queue(session, status=None)
    assert "fell from 6.0 to 2.0" in before.detail
    contact = session.exec(select(Contact).where(Contact.email == EMAIL)).one()
    erase_contact(session, contact.id or 0, actor="admin", now=start + timedelta(days=5))
    [after] = queue(session, status=None)
    assert after.response_id == second
    assert "6.0" not in after.detail
    assert "fell from" not in after.detail
    assert after.detail.startswith("Recommendation 4/10")
    assert after.contact == ANONYMOUS
    assert after.contact_role == ""


def test_the_invitations_list_does_not_show_who_answered_anonymously(session, anonymous_detractor):
    data = report(session, now=datetime(2026, 11, 30, tzinfo=UTC))
    completed = data.invitations[data.invitations["status"] == "completed"]
    assert sorted(completed["contact"]) == sorted([EMAIL, ANONYMOUS])
    anonymous_row = completed[completed["contact"] == ANONYMOUS].iloc[0]
    assert anonymous_row.isna()[["invitation", "created", "hours to response"]].all()
    text = " ".join(str(v) for v in anonymous_row.to_numpy())
    interaction_id = str(session.get_one(Response, anonymous_detractor).interaction_id)
    assert EMAIL not in text
    assert NAME not in text
    assert interaction_id not in str(anonymous_row["invitation"])
    assert data.median_hours_to_response is not None  # both answers still count


def _export_rows(session: Session, long: bool) -> list[dict[str, Any]]:
    reader = ChunkReader(session, ExportRequest(filters=Filters(), long=long))
    return [row for table in reader.chunks() for row in table.to_pylist()]


@pytest.mark.parametrize("long", [False, True])
def test_an_anonymous_export_row_carries_no_contact_interaction_or_role(session, anonymous_detractor, long):
    rows = [r for r in _export_rows(session, long) if r["response_id"] == anonymous_detractor]
    assert rows
    for row in rows:
        if "interaction_id" in row:
            assert row["interaction_id"] is None
        assert row["contact_role"] is None
        assert all(row.get(k) is None for k in ("contact_id", "contact_name", "contact_email"))
        text = repr(row)
        assert EMAIL not in text
        assert NAME not in text
        assert "decision_maker" not in text
    named = [r for r in _export_rows(session, False) if r["response_id"] != anonymous_detractor]
    assert named[0]["contact_role"] == "decision_maker"
    assert named[0]["interaction_id"] is not None


def test_an_anonymous_api_row_carries_nothing_that_leads_back(engine, session, anonymous_detractor):
    app = Starlette(routes=routes)
    app.state.engine = engine
    key = create_key(session, "BI", now=datetime(2026, 11, 20, tzinfo=UTC), scopes=["read:responses"])
    session.commit()
    rows = TestClient(app).get("/api/v1/responses", headers={"Authorization": f"Bearer {key}"}).json()["rows"]
    [row] = [r for r in rows if r["response_id"] == anonymous_detractor]
    forbidden = identifying(session, anonymous_detractor)
    assert row["interaction_id"] is None
    assert row["contact_role"] is None
    text = " ".join(str(value) for value in row.values())
    assert [word for word in forbidden if word in text] == []
    assert responses_page(session).rows[1]["interaction_id"] is None


def test_the_audit_log_names_no_anonymous_respondent(session, anonymous_detractor):
    contact = session.exec(select(Contact).where(Contact.email == EMAIL)).one()
    erase_contact(session, contact.id or 0, actor="admin", now=datetime(2026, 11, 30, tzinfo=UTC))
    details = " ".join(f"{e.actor} {e.detail}" for e in recent(session, limit=1000))
    assert EMAIL not in details
    assert NAME not in details
    interaction = session.get_one(Interaction, session.get_one(Response, anonymous_detractor).interaction_id)
    assert f"interaction #{interaction.id}" not in details


def test_the_follow_up_and_invitations_pages_show_no_trace_of_the_respondent(db):
    start = datetime.now(UTC) - timedelta(days=6)
    answer(db, start, anonymous=False, levels={"trust": 6, "satisfaction": 6})
    answer(db, start + timedelta(days=3), anonymous=True, levels={"trust": 2, "satisfaction": 2}, NPS=2)
    at = team_app(db).run()
    at.switch_page("pages/followup.py").run()
    assert not at.exception
    [expander] = at.expander
    shown = expander.label + " ".join(m.value for m in expander.markdown)
    assert "anonymous respondent" in shown
    assert NAME not in shown
    assert "fell from" not in shown
    assert "decision" not in shown
    at.switch_page("pages/invitations.py").run()
    assert not at.exception
    frame = at.dataframe[-1].value
    row = frame[frame["status"] == "completed"]
    assert set(row["contact"]) == {EMAIL, ANONYMOUS}
