"""Each contact's latest named answers, kept and brought up to date contact by contact, on
SQLite and PostgreSQL: the kept answers are always those the query gives read afresh."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import true
from sqlmodel import Session, select

from models.tables import Contact
from survey.accounts import answered
from survey.collecting.responses import submit
from survey.people.access import EVERYTHING, Scope
from survey.people.privacy import erase_contact
from tests.factories import answers_at, make_invitation
from tests.factories import respond as submit_response


def respond(session: Session, when, email: str, account: str = "Acme Tools", **kw: Any) -> int:
    return submit_response(session, when, answers_at(**kw), account=account, email=email)


def contact(session: Session, email: str) -> int:
    return session.exec(select(Contact.id).where(Contact.email == email)).one() or 0


def trust_and_level(rows: list[tuple[int, int, answered.LastAnswers]]) -> dict[int, tuple[float, int | None]]:
    return {c: (dict(a.scores)["trust"], a.value_level) for _, c, a in rows}


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """How many contacts each ``answered.read`` returned, in order."""
    counted: list[int] = []
    real = answered.read

    def counting(*args: Any, **kwargs: Any) -> dict[int, answered.LastAnswers]:
        found = real(*args, **kwargs)
        counted.append(len(found))
        return found

    monkeypatch.setattr(answered, "read", counting)
    return counted


def test_new_answers_backdated_answers_and_erasures_update_what_is_kept(session, now, reads):
    respond(session, now, "ana@acme.example", levels={"trust": 3}, VALUE_LEVEL=1)
    respond(session, now + timedelta(days=2), "ben@acme.example", levels={"trust": 2}, VALUE_LEVEL=2)
    respond(session, now + timedelta(days=1), "gus@globex.example", account="Globex", levels={"trust": 1})
    ana, ben, gus = (contact(session, f"{n}.example") for n in ("ana@acme", "ben@acme", "gus@globex"))
    later = now + timedelta(days=30)

    first = answered.last_answers(session, EVERYTHING, later)
    assert trust_and_level(first) == {ana: (3.0, 1), ben: (2.0, 2), gus: (1.0, 3)}
    assert reads == [3]  # the whole base, once

    # Ana answers again: only she is read again, and her latest answer wins.
    respond(session, now + timedelta(days=5), "ana@acme.example", levels={"trust": 6}, VALUE_LEVEL=4)
    second = answered.last_answers(session, EVERYTHING, later)
    assert trust_and_level(second)[ana] == (6.0, 4)
    assert next(a.at for _, c, a in second if c == ana) == now + timedelta(days=5)
    assert reads == [3, 1]

    # An answer dated before Ben's latest (an import of older answers) does not replace it.
    respond(session, now + timedelta(days=1), "ben@acme.example", levels={"trust": 7}, VALUE_LEVEL=0)
    assert trust_and_level(answered.last_answers(session, EVERYTHING, later))[ben] == (2.0, 2)

    # Nothing new: nothing is read.
    answered.last_answers(session, EVERYTHING, later)
    assert reads == [3, 1, 1]

    # An erased contact's answers are anonymous from then on: they no longer count for anyone.
    erase_contact(session, ana, actor="admin", now=later)
    session.commit()
    kept = answered.last_answers(session, EVERYTHING, later)
    assert ana not in {c for _, c, _ in kept}
    assert trust_and_level(kept) == {ben: (2.0, 2), gus: (1.0, 3)}

    # Whatever happened, what is kept is what the query reads afresh.
    fresh = answered.read(session, true(), later)
    assert {c: a for _, c, a in kept} == fresh


def test_a_scope_gets_only_its_accounts_and_an_earlier_moment_reads_as_of_then(session, now, reads):
    respond(session, now, "ana@acme.example", levels={"trust": 3})
    respond(session, now + timedelta(days=5), "ana@acme.example", levels={"trust": 6})
    respond(session, now + timedelta(days=1), "gus@globex.example", account="Globex", levels={"trust": 1})
    ana, gus = contact(session, "ana@acme.example"), contact(session, "gus@globex.example")
    acme = session.exec(select(Contact.account_id).where(Contact.id == ana)).one()
    answered.last_answers(session, EVERYTHING, now + timedelta(days=30))  # kept from here on

    mine = answered.last_answers(session, Scope.of_accounts([acme]), now + timedelta(days=30))
    assert [(a, c) for a, c, _ in mine] == [(acme, ana)]
    assert dict(mine[0][2].scores)["trust"] == 6.0
    # As of day 3, Ana's answer of day 5 had not come: her first counts, and Gus's of day 1.
    then = answered.last_answers(session, EVERYTHING, now + timedelta(days=3))
    assert {c: dict(a.scores)["trust"] for _, c, a in then} == {ana: 3.0, gus: 1.0}
    # Before anyone answered, nobody has answers.
    assert answered.last_answers(session, EVERYTHING, now - timedelta(days=1)) == []


def test_an_account_page_alone_reads_its_own_contacts_not_the_whole_base(session, now, reads):
    respond(session, now, "ana@acme.example", levels={"trust": 3})
    respond(session, now, "gus@globex.example", account="Globex", levels={"trust": 1})
    ana = contact(session, "ana@acme.example")
    acme = session.exec(select(Contact.account_id).where(Contact.id == ana)).one()
    answered.last_answers(session, Scope.of_accounts([acme]), now + timedelta(days=1))
    assert reads == [1]


def test_many_contacts_answering_at_once_are_read_again_in_one_pass(session, now, reads, monkeypatch):
    respond(session, now, "ana@acme.example", levels={"trust": 3})
    later = now + timedelta(days=30)
    answered.last_answers(session, EVERYTHING, later)
    monkeypatch.setattr(answered, "REREAD_ALL", 1)
    respond(session, now + timedelta(days=1), "ben@acme.example", levels={"trust": 2})
    respond(session, now + timedelta(days=1), "cy@acme.example", levels={"trust": 5})
    kept = answered.last_answers(session, EVERYTHING, later)
    assert reads == [1, 3]  # the whole base again, not the two who answered
    assert sorted(dict(a.scores)["trust"] for _, _, a in kept) == [2.0, 3.0, 5.0]


def test_what_a_unit_of_work_has_not_committed_is_seen_by_it_and_never_kept(engine, session, now):
    respond(session, now, "ana@acme.example", levels={"trust": 3})
    later = now + timedelta(days=30)
    answered.last_answers(session, EVERYTHING, later)  # kept from here on
    session.commit()
    invitation, _ = make_invitation(session, now + timedelta(days=1), email="cy@acme.example")
    with Session(engine) as unit:
        given = answers_at(levels={"trust": 7})
        submit(unit, invitation_id=invitation.invitation_id, answers=given, locale="en", now=now)
        cy = contact(unit, "cy@acme.example")
        # The unit sees its own answer ...
        assert (
            dict(dict((c, a) for _, c, a in answered.last_answers(unit, EVERYTHING, later))[cy].scores)[
                "trust"
            ]
            == 7.0
        )
        unit.rollback()
    # ... which, rolled back, counts for nobody afterwards.
    assert cy not in {c for _, c, _ in answered.last_answers(session, EVERYTHING, later)}
    session.commit()
    respond(session, now + timedelta(days=2), "dan@acme.example", levels={"trust": 5})
    kept = answered.last_answers(session, EVERYTHING, later)
    assert {c: a for _, c, a in kept} == answered.read(session, true(), later)
    assert sorted(dict(a.scores)["trust"] for _, _, a in kept) == [3.0, 5.0]
