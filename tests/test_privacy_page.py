"""The Privacy page, through AppTest: an admin erases a contact and purges old comments, and the
change is really stored (the page's unit of work commits, not the domain functions)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from models.tables import AuditEvent, Contact, ContactErasure, Response
from survey.people.privacy import erase_contact, retention_cutoff
from tests.factories import full_answers, respond, team_app

COMMENT = full_answers()["COMMENT"]


def privacy_page(db: Session) -> AppTest:
    at = team_app(db).run()
    return at.switch_page("pages/privacy.py").run()


def contact_id(db: Session, email: str) -> int:
    return db.exec(select(Contact.id).where(Contact.email == email)).one()


def responses_of(db: Session, contact: int) -> list[tuple[bool, str | None, str | None]]:
    """(anonymous, comment, leader_other) of a contact's responses, read through a fresh session."""
    with Session(db.get_bind()) as fresh:
        rows = fresh.exec(select(Response).where(Response.contact_id == contact).order_by(Response.id)).all()
        return [(r.anonymous, r.comment, r.leader_other) for r in rows]


def audited(db: Session, action: str) -> list[tuple[str, str]]:
    with Session(db.get_bind()) as fresh:
        events = fresh.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(e.actor, e.detail) for e in events.all()]


def erase_button(at: AppTest):
    return next(b for b in at.button if b.label == "Erase this contact's personal data")


def choose_contact(at: AppTest, db: Session, contact: int) -> AppTest:
    """Pick the contact's account, then the contact, as an admin would."""
    at.selectbox(key="erase_account").set_value(db.get(Contact, contact).account_id).run()
    at.selectbox(key="erase_contact").set_value(contact).run()
    return at


@pytest.fixture
def two_contacts(db) -> dict[str, int]:
    """Anna Berg answered twice at Acme Tools, Bob once."""
    ago = datetime.now(UTC) - timedelta(days=20)
    respond(db, ago, email="anna@acme.example", contact_name="Anna Berg")
    respond(db, ago + timedelta(days=5), email="anna@acme.example")
    respond(db, ago, email="bob@acme.example", contact_name="Bob Lee")
    return {"anna": contact_id(db, "anna@acme.example"), "bob": contact_id(db, "bob@acme.example")}


def test_erasing_a_contact_anonymises_their_responses_and_clears_their_comments(db, two_contacts):
    anna, bob = two_contacts["anna"], two_contacts["bob"]
    at = privacy_page(db)
    assert not at.exception
    at = choose_contact(at, db, anna)
    at.text_input(key="erase_confirm").input("ERASE").run()
    at = erase_button(at).click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        f"Contact #{anna} erased: 2 response(s) anonymised, 0 unfinished survey(s) deleted."
    ]
    with Session(db.get_bind()) as fresh:
        contact = fresh.get(Contact, anna)
        assert (contact.name, contact.email) == ("", f"erased-{anna}@erased.invalid")
        assert fresh.get(ContactErasure, anna).erased_by == "admin"
    assert responses_of(db, anna) == [(True, None, None), (True, None, None)]
    # Bob is untouched.
    assert responses_of(db, bob) == [(False, COMMENT, "Stratos Group")]
    assert audited(db, "contact_erased") == [
        ("admin", f"contact #{anna} of account #{contact.account_id}: 2 responses anonymised")
    ]
    # The erased contact is no longer offered.
    assert at.selectbox(key="erase_account").options == ["Acme Tools"]
    at.selectbox(key="erase_account").set_value(contact.account_id).run()
    assert at.selectbox(key="erase_contact").options == ["Bob Lee <bob@acme.example>"]


@pytest.mark.parametrize("typed", ["", "erase", "ERASE "])
def test_erasing_needs_erase_typed_exactly(db, two_contacts, typed):
    anna = two_contacts["anna"]
    at = choose_contact(privacy_page(db), db, anna)
    assert erase_button(at).disabled
    at.text_input(key="erase_confirm").input(typed).run()
    assert erase_button(at).disabled
    assert responses_of(db, anna) == [(False, COMMENT, "Stratos Group")] * 2
    with Session(db.get_bind()) as fresh:
        assert fresh.get(Contact, anna).name == "Anna Berg"
    assert audited(db, "contact_erased") == []


def test_a_contact_erased_meanwhile_drops_out_and_is_not_erased_twice(db, two_contacts):
    anna = two_contacts["anna"]
    at = choose_contact(privacy_page(db), db, anna)
    at.text_input(key="erase_confirm").input("ERASE").run()
    # Another admin erases Anna while this page is open.
    erase_contact(db, anna, actor="other.admin", now=datetime.now(UTC))
    db.commit()
    at = erase_button(at).click().run()
    assert not at.exception
    assert not at.success
    assert [w.value for w in at.warning] == [
        f"Contact #{anna} was erased meanwhile, by someone else. Nothing was changed."
    ]
    assert at.selectbox(key="erase_contact").options == ["Bob Lee <bob@acme.example>"]
    assert at.selectbox(key="erase_contact").value is None
    assert [actor for actor, _ in audited(db, "contact_erased")] == ["other.admin"]
    with Session(db.get_bind()) as fresh:
        assert fresh.get(ContactErasure, anna).erased_by == "other.admin"
    assert responses_of(db, two_contacts["bob"]) == [(False, COMMENT, "Stratos Group")]


def test_without_a_retention_comments_are_kept_and_nothing_can_be_purged(db, monkeypatch):
    monkeypatch.delenv("PULSE_COMMENT_RETENTION_MONTHS", raising=False)
    respond(db, datetime.now(UTC) - timedelta(days=800), email="old@acme.example")
    at = privacy_page(db)
    assert any("Comments are kept without a time limit" in m.value for m in at.markdown)
    assert "Purge them now" not in [b.label for b in at.button]
    with Session(db.get_bind()) as fresh:
        assert fresh.exec(select(Response.comment)).all() == [COMMENT]


def test_purging_clears_only_the_comments_older_than_the_retention(db, monkeypatch):
    monkeypatch.setenv("PULSE_COMMENT_RETENTION_MONTHS", "12")
    at = privacy_page(db)  # the app starts (and purges at start) before these answers exist
    respond(db, datetime.now(UTC) - timedelta(days=400), email="old@acme.example")
    respond(db, datetime.now(UTC) - timedelta(days=10), email="new@acme.example")
    old, new = contact_id(db, "old@acme.example"), contact_id(db, "new@acme.example")
    at.run()
    cutoff = retention_cutoff(datetime.now(UTC), 12)
    assert any(
        m.value == f"Comments are kept for 12 months: those submitted before {cutoff:%Y-%m-%d} are purged."
        for m in at.markdown
    )
    at = next(b for b in at.button if b.label == "Purge them now").click().run()
    assert [s.value for s in at.success] == ["1 comment(s) purged."]
    assert responses_of(db, old) == [(False, None, "Stratos Group")]
    assert responses_of(db, new) == [(False, COMMENT, "Stratos Group")]
    assert audited(db, "comments_purged") == [("admin", "1 comments older than 12 months")]
