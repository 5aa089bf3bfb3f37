"""Anonymous answers, erasure on request and comment retention (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlmodel import func, select

from models.tables import (
    AccountRespondentRollup,
    AuditEvent,
    Contact,
    Draft,
    IndicatorScore,
    Response,
    ScoreRollup,
)
from survey.accounts.profile import account_view
from survey.collecting.invitations import check_link
from survey.collecting.responses import save_draft, submit
from survey.followup.queue import queue
from survey.people.privacy import ANONYMOUS, PrivacyError, erase_contact, purge_comments
from survey.reporting import aggregates
from tests.factories import answers_at, full_answers, make_invitation, respond


def detractor() -> dict:
    return full_answers() | {"NPS": 3, "COMMENT": "Call me, Anna Berg, +49 171 555"}


def test_an_anonymous_answer_never_names_its_contact(session, now):
    result, _ = make_invitation(session, now, email="anna@acme.example", contact_name="Anna Berg")
    submit(
        session,
        invitation_id=result.invitation_id,
        answers=detractor(),
        locale="en",
        now=now,
        anonymous=True,
    )
    session.commit()
    [row] = queue(session)
    assert row.contact == ANONYMOUS
    account_id = session.exec(select(Response.account_id)).one()
    view = account_view(session, account_id, now, min_n=1)
    # Counted in the account's totals, but never attributed to Anna.
    assert [c.responses for c in view.contacts] == [0]
    assert not view.trend.empty


def test_erasure_removes_identity_and_free_text_but_keeps_the_scores(session, now):
    respond(
        session, now - timedelta(days=30), detractor(), email="anna@acme.example", contact_name="Anna Berg"
    )
    respond(session, now - timedelta(days=3), answers_at({"trust": 2}), email="anna@acme.example")
    unfinished, token = make_invitation(session, now, email="anna@acme.example")
    save_draft(
        session, invitation_id=unfinished.invitation_id, answers={"SAT1": 5}, step=0, locale="en", now=now
    )
    session.commit()
    scores_before = session.exec(select(func.count()).select_from(IndicatorScore)).one()
    rollup_before = session.exec(select(func.sum(ScoreRollup.n))).one()
    contact = session.exec(select(Contact).where(Contact.email == "anna@acme.example")).one()

    done = erase_contact(session, contact.id, actor="admin", now=now)

    assert (done.responses, done.drafts) == (2, 1)
    erased = session.get(Contact, contact.id)
    assert erased.name == ""
    assert "anna" not in erased.email
    responses = session.exec(select(Response).where(Response.contact_id == contact.id)).all()
    assert all(r.anonymous and r.comment is None and r.leader_other is None for r in responses)
    assert session.get(Draft, unfinished.invitation_id) is None
    assert session.exec(select(func.count()).select_from(IndicatorScore)).one() == scores_before
    assert session.exec(select(func.sum(ScoreRollup.n))).one() == rollup_before
    assert all(row.contact == ANONYMOUS for row in queue(session, status=None))
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "contact_erased")).all()
    assert "anna" not in event.detail.lower()
    assert check_link(session, token, now).state.name  # the old link still answers, without names
    with pytest.raises(PrivacyError, match="already erased"):
        erase_contact(session, contact.id, actor="admin", now=now)


def test_after_an_erasure_no_aggregate_keeps_the_persons_answers_together(session, now):
    for days in (80, 40, 3):
        respond(session, now - timedelta(days=days), answers_at({"trust": 2}), email="anna@acme.example")
    result, _ = make_invitation(session, now - timedelta(days=20), email="anna@acme.example")
    submit(
        session,
        invitation_id=result.invitation_id,
        answers=full_answers(),
        locale="en",
        now=now - timedelta(days=20),
        anonymous=True,
    )
    respond(session, now - timedelta(days=10), email="bo@acme.example")
    contact = session.exec(select(Contact).where(Contact.email == "anna@acme.example")).one()
    other = session.exec(select(Contact).where(Contact.email == "bo@acme.example")).one()
    kept = AccountRespondentRollup.__table__
    before = session.exec(select(kept.c.respondent, func.sum(kept.c.n)).group_by(kept.c.respondent)).all()
    assert {respondent: n for respondent, n in before}[contact.id] == 18  # three answers, six indicators

    erase_contact(session, contact.id, actor="admin", now=now)
    session.commit()

    after = dict(
        session.exec(select(kept.c.respondent, func.sum(kept.c.n)).group_by(kept.c.respondent)).all()
    )
    assert contact.id not in after
    theirs = session.exec(select(Response.id).where(Response.contact_id == contact.id)).all()
    assert {after[-response_id] for response_id in theirs} == {6}  # each answer alone
    assert after[other.id] == dict(before)[other.id]
    assert sum(after.values()) == sum(n for _, n in before)
    raw = session.connection().execute(
        aggregates.definition("own_scores", ["respondent"], session.get_bind().dialect.name)
    )
    assert {respondent: n for respondent, n, *_ in raw} == after


def test_erasing_an_unknown_contact_changes_nothing(session, now):
    with pytest.raises(PrivacyError, match="no contact #999"):
        erase_contact(session, 999, actor="admin", now=now)
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == 0


def test_comments_older_than_the_retention_are_purged(session, now):
    respond(session, now - timedelta(days=200), email="old@acme.example")
    respond(session, now - timedelta(days=20), email="new@acme.example")
    assert purge_comments(session, months=6, now=now, actor="cli") == 1
    comments = dict(
        session.exec(
            select(Contact.email, Response.comment).join(Contact, Contact.id == Response.contact_id)
        ).all()
    )
    assert comments["old@acme.example"] is None
    assert comments["new@acme.example"] == full_answers()["COMMENT"]
    assert purge_comments(session, months=6, now=now, actor="cli") == 0
    with pytest.raises(PrivacyError, match="at least one month"):
        purge_comments(session, months=0, now=now, actor="cli")
