from sqlmodel import select

from models.tables import Account
from survey.people.access import Scope, owner_scope


def _accounts(session, owners: dict[str, str]) -> dict[str, int]:
    for name, owner in owners.items():
        session.add(Account(name=name, owner=owner))
    session.commit()
    return {a.name: a.id for a in session.exec(select(Account)).all()}


def test_a_manager_scope_holds_only_their_accounts(session):
    ids = _accounts(session, {"Acme": "maria", "Globex": "tom", "Initech": "maria"})
    scope = owner_scope(session, "maria")
    assert scope.allows(ids["Acme"])
    assert scope.allows(ids["Initech"])
    assert not scope.allows(ids["Globex"])
    visible = session.exec(select(Account.name).where(scope.condition(Account.id))).all()
    assert sorted(visible) == ["Acme", "Initech"]


def test_a_manager_without_accounts_sees_nothing_and_everything_sees_all(session):
    _accounts(session, {"Acme": "maria", "Globex": "tom"})
    nobody = owner_scope(session, "newcomer")
    assert session.exec(select(Account.name).where(nobody.condition(Account.id))).all() == []
    everything = Scope.everything()
    assert len(session.exec(select(Account.name).where(everything.condition(Account.id))).all()) == 2
