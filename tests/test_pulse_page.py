"""The pulse on the survey page: one screen, the first answer from the email, and nothing
stored until the respondent submits (mail scanners open every link)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from models.tables import Answer, Draft, Invitation, Response
from survey.instrument.definition import load_instrument
from survey.instrument.forms import pulse_statements
from tests.factories import make_invitation

APP = "../app.py"


@pytest.fixture
def pulse(app_db, monkeypatch):
    """A pulse invitation: the contact had a check-up a week ago."""
    monkeypatch.setenv("PULSE_CHECKUP_DAYS", "90")
    now = datetime.now(UTC)
    make_invitation(app_db, now - timedelta(days=7))
    result, token = make_invitation(app_db, now)
    invitation = app_db.get(Invitation, result.invitation_id)
    assert invitation.form == "pulse"
    return app_db, invitation, token


def open_link(token: str, nps: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["t"] = token
    if nps is not None:
        at.query_params["nps"] = nps
    return at.run()


def widget(at: AppTest, code: str):
    [found] = [w for w in (*at.button_group, *at.radio, *at.text_area) if w.key == f"q_{code}"]
    return found


def stored(db) -> dict[str, int]:
    db.expire_all()
    return {
        model.__name__: db.exec(select(func.count()).select_from(model)).one()
        for model in (Draft, Response, Answer)
    }


def test_the_eight_link_opens_one_screen_with_eight_chosen_and_one_tap_submits(pulse):
    db, invitation, token = pulse
    at = open_link(token, nps="8")
    assert not at.exception
    instrument = load_instrument()
    statements = pulse_statements(instrument, invitation.design_slot)
    agreement = [w for w in at.button_group if w.key != "q_NPS"]
    assert [w.key for w in agreement] == [f"q_{code}" for code in statements]
    assert len(agreement) <= 8
    assert widget(at, "NPS").value == 8
    assert widget(at, "MOMENT") is not None
    assert widget(at, "COMMENT") is not None
    assert [b.label for b in at.button] == ["Submit my answers"]  # one screen: no Next, no parts
    assert not at.get("progress")
    assert stored(db) == {"Draft": 0, "Response": 0, "Answer": 0}

    at.button[0].click().run()  # the one tap
    assert "Thank you!" in [t.value for t in at.title]
    response = db.exec(select(Response)).one()
    assert (response.nps, response.form) == (8, "pulse")


def test_a_mail_scanner_opening_all_eleven_links_records_no_answer(pulse):
    db, invitation, token = pulse
    for value in range(11):
        at = open_link(token, nps=str(value))
        assert not at.exception
        assert widget(at, "NPS").value == value
    assert stored(db) == {"Draft": 0, "Response": 0, "Answer": 0}
    db.expire_all()
    again = db.get(Invitation, invitation.id)
    assert again.started_at is None
    assert again.completed_at is None
    # The link still works for the respondent, who then chooses for themselves.
    at = open_link(token, nps="3")
    widget(at, "NPS").set_value(9).run()
    at.button[0].click().run()
    assert db.exec(select(Response.nps)).one() == 9


@pytest.mark.parametrize("bad", ["11", "-1", "eight", "8.5", ""])
def test_a_tampered_first_answer_is_ignored(pulse, bad):
    _, _, token = pulse
    at = open_link(token, nps=bad)
    assert not at.exception
    assert widget(at, "NPS").value is None


def test_the_pulse_is_answered_by_statement_moment_and_comment(pulse):
    db, invitation, token = pulse
    at = open_link(token, nps="10")
    first = pulse_statements(load_instrument(), invitation.design_slot)[0]
    widget(at, first).set_value(6).run()
    widget(at, "MOMENT").set_value("delighted").run()
    widget(at, "COMMENT").input("Quick and clear.").run()
    assert stored(db)["Draft"] == 1  # from the first real answer on, the draft keeps it
    at.button[0].click().run()
    response = db.exec(select(Response)).one()
    answers = dict(db.exec(select(Answer.item_code, Answer.value)).all())
    assert answers == {first: 6, "NPS": 10}
    assert (response.moment, response.comment) == ("delighted", "Quick and clear.")


def test_the_survey_speaks_french_with_french_dates(app_db):
    when = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    _, token = make_invitation(app_db, when, language="fr", valid_days=3650)
    at = open_link(token)
    assert not at.exception
    assert at.title[0].value == "Votre avis"
    texts = "\n".join(m.value for m in at.markdown)
    assert "Enquête pour Acme Tools" in texts
    assert "le 20 novembre 2026" in texts
    assert at.button[0].label == "Suivant"


def test_an_answer_already_saved_is_not_changed_by_opening_another_link(pulse):
    db, _, token = pulse
    at = open_link(token, nps="3")
    widget(at, "NPS").set_value(7).run()  # the respondent's own choice, saved as a draft
    assert db.exec(select(Draft)).one().answers["NPS"] == 7
    again = open_link(token, nps="10")  # e.g. a scanner following another of the eleven links
    assert widget(again, "NPS").value == 7
    db.expire_all()
    assert db.exec(select(Draft)).one().answers["NPS"] == 7
