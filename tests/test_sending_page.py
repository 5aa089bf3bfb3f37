"""The Send surveys page, through AppTest (no SMTP configured: messages go to the outbox)."""

from sqlmodel import select

from models.tables import Account, Invitation
from survey.instrument.touchpoints import set_touchpoint_rule
from tests.factories import make_invitation, team_app


def open_page(db, role: str, username: str | None = None):
    at = team_app(db, role=role, username=username).run()
    return at.switch_page("pages/sending.py").run()


def fill(at, account: str, email: str):
    at.text_input[0].input(account)
    at.text_input[1].input(email)
    return at.button[0].click().run()


def test_a_manager_records_and_sends_in_one_step_and_owns_the_new_account(db, tmp_path):
    at = fill(open_page(db, "manager", "maria"), "Nordwind GmbH", "jana@nordwind.example")
    assert not at.exception
    assert at.success[0].value.startswith("Written to the outbox: jana@nordwind")
    assert at.code[0].value.startswith("http")
    assert db.exec(select(Account.owner).where(Account.name == "Nordwind GmbH")).one() == "maria"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_manager_cannot_send_for_another_managers_account(db, now):
    make_invitation(db, now, account="Globex")
    before = len(db.exec(select(Invitation)).all())
    at = fill(open_page(db, "manager", "maria"), "Globex", "eve@globex.example")
    assert "is not one of your accounts" in at.error[0].value
    assert len(db.exec(select(Invitation)).all()) == before


def test_an_analyst_cannot_send(db):
    at = open_page(db, "analyst")
    assert "Analysts read" in at.info[0].value
    assert not at.text_input


def test_the_form_keeps_the_rest_period_and_says_why_no_survey_went(db, tmp_path):
    at = fill(open_page(db, "manager", "maria"), "Nordwind GmbH", "jana@nordwind.example")
    assert at.success[0].value.startswith("Written to the outbox")
    at = fill(open_page(db, "manager", "maria"), "Nordwind GmbH", "jana@nordwind.example")
    assert not at.exception
    assert "no survey was sent: surveyed on" in at.warning[0].value.replace("\\", "")
    assert "30-day rest period" in at.warning[0].value.replace("\\", "")
    assert not at.code  # no link
    assert len(db.exec(select(Invitation)).all()) == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_case_variant_of_another_managers_account_is_still_theirs(db, now):
    make_invitation(db, now, account="Globex Tools")
    accounts = len(db.exec(select(Account)).all())
    before = len(db.exec(select(Invitation)).all())
    at = fill(open_page(db, "manager", "maria"), "GLOBEX tools", "eve@globex.example")
    assert "is not one of your accounts" in at.error[0].value
    assert len(db.exec(select(Account)).all()) == accounts
    assert len(db.exec(select(Invitation)).all()) == before


def test_text_a_mail_header_cannot_carry_is_refused_and_nothing_is_recorded(db, tmp_path):
    at = open_page(db, "admin")
    for account, email, field in (
        ("Nord\u2028wind", "jana@nordwind.example", "account name"),
        ("Nordwind", "jana@nordwind.example,eve@evil.example", "contact email"),
    ):
        at = fill(at, account, email)
        assert field in at.error[0].value
        assert "Nothing was recorded" in at.error[0].value
    assert db.exec(select(Invitation)).all() == []
    assert db.exec(select(Account)).all() == []
    assert not (tmp_path / "outbox").exists()


def test_a_touchpoint_with_a_survey_delay_schedules_the_email_and_shows_no_link(db, tmp_path):
    at = open_page(db, "manager", "maria")
    touchpoint = at.selectbox[0].value
    set_touchpoint_rule(db, str(touchpoint), form_rule="auto", delay_hours=24, actor="ada")
    db.commit()
    at = fill(open_page(db, "manager", "maria"), "Nordwind GmbH", "jana@nordwind.example")
    assert not at.exception
    assert at.success[0].value.startswith("Scheduled after the touchpoint's survey delay: jana@nordwind")
    assert "goes out at" in at.success[0].value
    assert not at.code  # the link is made when the email goes out
    assert not list((tmp_path / "outbox").glob("*.eml"))
    [invitation] = db.exec(select(Invitation)).all()
    assert invitation.sent_at is None
    assert invitation.send_after is not None
