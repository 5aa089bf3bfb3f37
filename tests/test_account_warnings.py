"""Account-level warnings: one follow-up of kind "account" per account and reason, in the
ordinary queue (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlmodel import select

from models.tables import Account, Contact, FollowUp
from survey.accounts.warnings import check_accounts, silent_decision_makers
from survey.followup.queue import close, open_account_follow_up, queue
from tests.factories import full_answers, respond

DETRACTOR = full_answers() | {"NPS": 3}


def account_follow_ups(session, reason=None):
    session.expire_all()
    statement = select(FollowUp).where(FollowUp.kind == "account")
    if reason:
        statement = statement.where(FollowUp.reasons == reason)
    return session.exec(statement).all()


def test_two_flagged_contacts_within_30_days_open_exactly_one_account_follow_up(session, now):
    respond(session, now - timedelta(days=20), DETRACTOR, email="ana@acme.example")
    assert account_follow_ups(session) == []  # one flagged contact is a response's matter
    respond(session, now - timedelta(days=2), DETRACTOR, email="ben@acme.example")
    found = account_follow_ups(session)
    assert len(found) == 1
    assert found[0].reasons == "flagged_contacts"
    assert found[0].response_id is None
    assert "2 contacts" in found[0].detail
    # A third flagged contact, and a daily check, add nothing while it is open.
    respond(session, now - timedelta(days=1), DETRACTOR, email="cy@acme.example")
    check_accounts(session, now)
    session.commit()
    assert len(account_follow_ups(session, "flagged_contacts")) == 1
    # The queue lists it with the others, as a follow-up about the whole account.
    rows = queue(session, status="open", reason="flagged_contacts")
    assert [(r.kind, r.account, r.contact, r.response_id) for r in rows] == [
        ("account", "Acme Tools", "the whole account", None)
    ]
    assert len(queue(session, status="open")) == 4


def test_flagged_contacts_further_apart_than_30_days_open_nothing(session, now):
    respond(session, now - timedelta(days=45), DETRACTOR, email="ana@acme.example")
    respond(session, now, DETRACTOR, email="ben@acme.example")
    assert account_follow_ups(session) == []


def test_the_same_contact_flagged_twice_is_one_contact(session, now):
    respond(session, now - timedelta(days=10), DETRACTOR, email="ana@acme.example")
    respond(session, now, DETRACTOR, email="ana@acme.example")
    assert account_follow_ups(session) == []


def test_once_closed_a_new_pair_opens_a_new_account_follow_up(session, now):
    respond(session, now - timedelta(days=3), DETRACTOR, email="ana@acme.example")
    respond(session, now - timedelta(days=2), DETRACTOR, email="ben@acme.example")
    first = account_follow_ups(session)[0]
    close(session, first.id, "Called the account's decision maker.", now)
    session.commit()
    respond(session, now + timedelta(days=40), DETRACTOR, email="cy@acme.example")
    respond(session, now + timedelta(days=41), DETRACTOR, email="dan@acme.example")
    assert len(account_follow_ups(session, "flagged_contacts")) == 2


def test_a_silent_decision_maker_opens_one_follow_up_naming_them(session, now):
    respond(session, now - timedelta(days=300), email="boss@acme.example")
    contact = session.exec(select(Contact).where(Contact.email == "boss@acme.example")).one()
    contact.role, contact.name, contact.created_at = "decision_maker", "Bo Boss", now - timedelta(days=400)
    session.add(contact)
    session.commit()
    assert silent_decision_makers(session, now, 120) != {}
    assert silent_decision_makers(session, now, 400) == {}  # configurable
    check_accounts(session, now, silent_days=120)
    check_accounts(session, now + timedelta(days=1), silent_days=120)
    session.commit()
    found = account_follow_ups(session, "silent_decision_maker")
    assert len(found) == 1
    assert "Bo Boss (last answer 300 days ago)" in found[0].detail


def test_account_follow_ups_refuse_unknown_reasons_and_accounts(session, now):
    respond(session, now)
    account_id = session.exec(select(Account.id)).one()
    from survey.followup.queue import FollowUpError

    with pytest.raises(FollowUpError, match="unknown account reason 'angry'"):
        open_account_follow_up(session, account_id, "angry", "", now)
    with pytest.raises(FollowUpError, match="there is no account #999"):
        open_account_follow_up(session, 999, "decline", "", now)
    assert account_follow_ups(session) == []


def test_two_flagged_answers_stored_at_once_open_one_account_follow_up(engine, session, now):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sqlmodel import Session

    from survey.collecting.responses import submit
    from tests.factories import make_invitation

    invitations = [
        make_invitation(session, now, email=f"p{n}@acme.example")[0].invitation_id for n in range(4)
    ]
    barrier = Barrier(len(invitations))

    def answer(invitation_id: int) -> None:
        with Session(engine) as own:
            barrier.wait()
            submit(own, invitation_id=invitation_id, answers=DETRACTOR, locale="en", now=now)
            own.commit()

    with ThreadPoolExecutor(len(invitations)) as pool:
        list(pool.map(answer, invitations))
    assert len(account_follow_ups(session, "flagged_contacts")) == 1
