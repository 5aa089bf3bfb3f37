"""Correcting accounts and contacts: validation, all or nothing, and who may change what."""

import pytest
from sqlmodel import select

from models.tables import Account, Contact
from survey.accounts.directory import DirectoryError, update_account, update_contacts
from survey.people.access import owner_scope
from tests.factories import make_invitation, team_app


@pytest.fixture
def acme(session, now) -> Account:
    make_invitation(session, now, email="ana@acme.example")
    make_invitation(session, now, email="ben@acme.example")
    account = session.exec(select(Account)).one()
    account.owner = "maria"
    session.add(account)
    session.commit()
    return account


def contact_rows(session) -> list[dict]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "role": c.role,
            "buying_influence": c.buying_influence,
            "language": c.language,
        }
        for c in session.exec(select(Contact).order_by(Contact.email)).all()
    ]


def test_contacts_are_saved_all_or_nothing_with_each_problem_named(session, acme):
    rows = contact_rows(session)
    rows[0] |= {"name": "Ana Lima", "role": "decision_maker", "buying_influence": 0.9}
    rows[1] |= {"role": "boss", "buying_influence": 3}
    with pytest.raises(DirectoryError) as refused:
        update_contacts(session, acme.id, rows)
    assert refused.value.problems == [
        "ben@acme.example: role 'boss' is not one of decision_maker, influencer, user, buyer",
        "ben@acme.example: buying influence must be between 0 and 1",
    ]
    session.rollback()
    assert session.exec(select(Contact.name).where(Contact.email == "ana@acme.example")).one() == ""
    rows[1] |= {"role": "user", "buying_influence": 0.2}
    assert update_contacts(session, acme.id, rows) == 2
    session.commit()
    assert (
        session.exec(select(Contact.role).where(Contact.email == "ana@acme.example")).one()
        == "decision_maker"
    )


def test_only_admins_reassign_and_managers_only_touch_their_accounts(session, acme):
    maria = owner_scope(session, "maria")
    update_account(session, acme.id, {"segment": "Retail", "owner": "maria"}, scope=maria)
    with pytest.raises(DirectoryError, match="only admins assign"):
        update_account(session, acme.id, {"owner": "tom"}, scope=maria)
    with pytest.raises(DirectoryError, match="no account"):
        update_account(session, acme.id, {"segment": "x"}, scope=owner_scope(session, "tom"))
    with pytest.raises(DirectoryError, match="no account"):
        update_contacts(session, acme.id, contact_rows(session), scope=owner_scope(session, "tom"))
    update_account(session, acme.id, {"owner": "tom"}, may_reassign=True)
    assert acme.owner == "tom"


def test_the_page_saves_an_account_and_an_analyst_cannot(db, now):
    make_invitation(db, now)
    at = team_app(db, role="admin").run()
    at.switch_page("pages/directory.py").run()
    at.text_input[0].input("Retail")
    at.button[0].click().run()
    assert at.success[0].value == "Saved."
    db.expire_all()
    assert db.exec(select(Account.segment)).one() == "Retail"
    analyst = team_app(db, role="analyst").run()
    analyst.switch_page("pages/directory.py").run()
    assert all(button.disabled for button in analyst.button if button.label.startswith("Save"))
