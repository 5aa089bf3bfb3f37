"""The respondent's survey page, driven through Streamlit's AppTest."""

import sqlite3
from datetime import timedelta

import pytest
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from models.tables import Competitor, Draft, FollowUp, IndicatorScore, Invitation, Response
from survey.collecting.responses import submit
from survey.followup.queue import close
from tests.factories import full_answers, make_invitation, team_app

APP = "../app.py"


@pytest.fixture
def db(app_db):
    app_db.add(Competitor(name="Brightline Partners"))
    app_db.commit()
    return app_db


@pytest.fixture
def clock():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def open_link(token: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if token is not None:
        at.query_params["t"] = token
    return at.run()


def page_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.title, *at.subheader)]
    parts += [e.value for e in (*at.error, *at.warning, *at.info, *at.success)]
    return "\n".join(str(p) for p in parts)


def answer_section(at: AppTest, values: dict) -> None:
    for code, value in values.items():
        widgets = [
            w for w in (*at.button_group, *at.radio, *at.text_area, *at.text_input) if w.key == f"q_{code}"
        ]
        assert widgets, f"no widget for {code} on this step"
        widgets[0].set_value(value).run()


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def test_a_valid_link_shows_account_interaction_and_progress(db, clock):
    _, token = make_invitation(db, clock, account="Acme Tools", touchpoint="service")
    at = open_link(token)
    assert not at.exception
    text = page_text(at)
    assert "Survey for Acme Tools" in text
    assert "service call" in text
    assert at.get("progress")[0].proto.text == "Part 1 of 8"
    assert len(at.button_group) == 4  # the four satisfaction statements
    assert db.exec(select(Invitation.opened_at)).one() is not None


def test_the_survey_speaks_the_contacts_language(db, clock):
    _, token = make_invitation(db, clock, language="de")
    at = open_link(token)
    assert "Umfrage für Acme Tools" in page_text(at)
    assert at.button[0].label == "Weiter"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "needs the personal link from your invitation"),
        ("abc", "incomplete or damaged"),
        ("<script>alert(1)</script>", "incomplete or damaged"),
        ("A" * 43, "We do not recognise this link"),
    ],
)
def test_bad_links_get_their_own_message_and_no_survey(db, token, message):
    at = open_link(token)
    assert not at.exception
    assert message in page_text(at)
    assert len(at.button_group) == 0
    assert len(at.button) == 0


def test_an_expired_link_says_when_it_expired_and_touches_nothing(db, clock):
    _, token = make_invitation(db, clock - timedelta(days=20), valid_days=14)
    at = open_link(token)
    expected = (clock - timedelta(days=6)).strftime("%d %B %Y")
    assert f"This survey link expired on {expected}" in page_text(at)
    assert db.exec(select(Invitation.opened_at)).one() is None


def test_a_used_link_says_it_was_answered(db, clock):
    result, token = make_invitation(db, clock)
    submit(db, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=clock)
    db.commit()
    at = open_link(token)
    assert "This survey was already answered on" in page_text(at)
    assert len(at.button_group) == 0


def test_a_survey_link_reaches_no_other_page(db, clock):
    _, token = make_invitation(db, clock)
    at = open_link(token)
    with pytest.raises(ValueError, match=r"Known pages: \['[^,]*pages/survey\.py'\]"):
        at.switch_page("pages/overview.py")
    # Dropping the token from the address later does not open the team's pages either.
    del at.query_params["t"]
    at.run()
    assert "Overview" not in page_text(at)
    assert "Survey for Acme Tools" in page_text(at)


def test_without_a_link_the_team_pages_need_a_sign_in(db):
    at = open_link(None)
    assert not at.exception
    assert "Overview" not in page_text(at)
    assert "no users" in page_text(at)


def test_a_survey_link_opens_only_the_survey_even_for_a_signed_in_manager(db, clock):
    _, token = make_invitation(db, clock)
    at = team_app(db, role="manager")
    at.query_params["t"] = token
    at.run()
    assert "Survey for Acme Tools" in page_text(at)
    with pytest.raises(ValueError, match="Known pages"):
        at.switch_page("pages/dashboard.py")


def test_answers_are_saved_and_resumed_from_a_new_browser_session(db, clock):
    result, token = make_invitation(db, clock)
    at = open_link(token)
    answer_section(at, {"SAT1": 6, "SAT2": 5, "SAT3": 7, "SAT4": 2})
    at = click(at, "Next")
    assert at.get("progress")[0].proto.text == "Part 2 of 8"
    answer_section(at, {"TRU1": 4})

    draft = db.get(Draft, result.invitation_id)
    db.refresh(draft)
    assert draft.answers == {"SAT1": 6, "SAT2": 5, "SAT3": 7, "SAT4": 2, "TRU1": 4}
    assert draft.step == 1

    again = open_link(token)  # the tab was closed; the same link opened later
    assert "we kept the answers you gave earlier" in page_text(again)
    assert again.get("progress")[0].proto.text == "Part 2 of 8"
    assert again.button_group(key="q_TRU1").value == 4
    back = click(again, "Back")
    assert back.button_group(key="q_SAT4").value == 2


def test_next_is_refused_until_the_recommendation_question_is_answered(db, clock):
    result, token = make_invitation(db, clock)
    db.add(Draft(invitation_id=result.invitation_id, answers={}, step=5, started_at=clock, updated_at=clock))
    db.commit()
    at = open_link(token)
    assert at.get("progress")[0].proto.text == "Part 6 of 8"
    at = click(at, "Next")
    assert "Please answer: On a scale from 0 to 10" in page_text(at)
    assert at.get("progress")[0].proto.text == "Part 6 of 8"
    answer_section(at, {"NPS": 8})
    at = click(at, "Next")
    assert at.get("progress")[0].proto.text == "Part 7 of 8"


def walk_to_the_end(at: AppTest) -> AppTest:
    answers = full_answers()
    steps = [
        ["SAT1", "SAT2", "SAT3", "SAT4"],
        ["TRU1", "TRU2", "TRU3", "TRU4", "TRU5"],
        ["CTL1", "CTL2", "CTL3", "CTL4"],
        ["COM1", "COM2", "COM3", "COM4"],
        ["MIN1", "MIN2", "MIN3"],
        ["WOM1", "WOM2", "WOM3", "WOM4", "NPS"],
    ]
    for codes in steps:
        answer_section(at, {code: answers[code] for code in codes})
        at = click(at, "Next")
    answer_section(at, {"LEADER": "other"})
    answer_section(at, {"LEADER_OTHER": "Stratos Group"})
    answer_section(at, {"CL_SAT": 5, "CL_TRU": 4})
    at = click(at, "Next")
    answer_section(at, {"VALUE_LEVEL": 3, "MOMENT": "delighted", "COMMENT": answers["COMMENT"]})
    return at


def test_a_complete_survey_is_stored_once_even_when_submitted_from_two_tabs(db, clock):
    _, token = make_invitation(db, clock)
    first_tab = walk_to_the_end(open_link(token))
    second_tab = open_link(token)  # resumes at the last step from the saved draft
    assert second_tab.get("progress")[0].proto.text == "Part 8 of 8"

    first_tab = click(first_tab, "Submit my answers")
    assert "Your answers have been saved" in page_text(first_tab)
    second_tab = click(second_tab, "Submit my answers")
    assert "Your answers have been saved" in page_text(second_tab)
    assert db.exec(select(func.count()).select_from(Response)).one() == 1
    assert "already answered" in page_text(open_link(token))

    response = db.exec(select(Response)).one()
    assert response.nps == 9
    assert response.leader_other == "Stratos Group"
    assert response.comment == full_answers()["COMMENT"]
    assert db.exec(select(func.count()).select_from(IndicatorScore)).one() == 6 + 2


def test_a_chosen_then_dropped_leader_submits_without_its_ratings(db, clock):
    _, token = make_invitation(db, clock)
    at = walk_to_the_end(open_link(token))
    at = click(at, "Back")
    answer_section(at, {"LEADER": "none"})
    assert not [w for w in at.button_group if w.key == "q_CL_SAT"]
    at = click(at, "Next")
    at = click(at, "Submit my answers")
    assert "Your answers have been saved" in page_text(at)
    response = db.exec(select(Response)).one()
    assert response.leader_other is None
    assert db.exec(select(func.count()).select_from(IndicatorScore)).one() == 6


def test_comments_are_never_rendered_as_markup(db, clock):
    _, token = make_invitation(db, clock, account="**Bold** <b>Corp</b> [x](http://evil)")
    at = open_link(token)
    greeting = next(m.value for m in at.markdown if "Survey for" in m.value)
    assert "\\*\\*Bold\\*\\*" in greeting
    assert "\\[x\\]\\(http" in greeting
    assert "\\<b\\>" in greeting


def test_a_locked_database_keeps_the_answers_and_asks_to_try_again(db, clock, app_env):
    result, token = make_invitation(db, clock)
    at = open_link(token)
    blocker = sqlite3.connect(app_env.removeprefix("sqlite:///"), timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database past the busy timeout
    try:
        answer_section(at, {"SAT1": 6})
        assert not at.exception
        assert "We could not save your answers just now" in page_text(at)
        assert at.session_state["answers"]["SAT1"] == 6
    finally:
        blocker.rollback()
        blocker.close()
    answer_section(at, {"SAT2": 5})
    assert "We could not save your answers just now" not in page_text(at)
    db.expire_all()
    saved = db.exec(select(Draft).where(Draft.invitation_id == result.invitation_id)).one()
    assert (saved.answers["SAT1"], saved.answers["SAT2"]) == (6, 5)


def test_the_next_survey_says_that_the_last_feedback_was_acted_on(db, clock):
    first, _ = make_invitation(db, clock - timedelta(days=50))
    submit(db, invitation_id=first.invitation_id, answers=full_answers() | {"NPS": 2}, locale="en",
           now=clock - timedelta(days=49))  # fmt: skip
    db.commit()
    follow_up = db.exec(select(FollowUp)).one()
    close(
        db, follow_up.id, "New driver", clock - timedelta(days=45), customer_message="We changed the driver."
    )
    db.commit()
    _, token = make_invitation(db, clock, touchpoint="service")
    at = open_link(token)
    assert "we acted on it" in page_text(at)
    _, other = make_invitation(db, clock, email="someone@acme.example")
    assert "we acted on it" not in page_text(open_link(other))
