"""The follow-up page, through AppTest."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import FollowUp
from survey.collecting.responses import submit
from tests.factories import full_answers, make_invitation, team_app

APP = "../app.py"


def respond(db, when: datetime, **changes) -> int:
    result, _ = make_invitation(db, when, contact_name="Ana *Lima*")
    response_id = submit(
        db, invitation_id=result.invitation_id, answers=full_answers() | changes, locale="en", now=when
    )
    db.commit()
    return response_id


def follow_up(db) -> FollowUp:
    db.expire_all()
    return db.exec(select(FollowUp)).one()


def open_page(db, *, opened: bool = True) -> AppTest:
    """The page, with every follow-up opened (as clicks on each would) unless ``opened`` is false."""
    at = team_app(db, timeout=30).run()
    at.switch_page("pages/followup.py").run()
    assert not at.exception
    return open_all(at, db) if opened else at


def open_all(at: AppTest, db) -> AppTest:
    """Every follow-up listed opened, as a click on each header."""
    for follow_up_id in db.exec(select(FollowUp.id)).all():
        at.session_state[f"fu_open_{follow_up_id}"] = True
    at.run()
    assert not at.exception
    return at


def test_a_follow_up_draws_its_details_and_actions_only_once_opened(db):
    first = respond(db, datetime.now(UTC) - timedelta(days=2), NPS=3)
    respond(db, datetime.now(UTC) - timedelta(days=1), MOMENT="frustrated")
    at = open_page(db, opened=False)
    assert len(at.expander) == 2
    assert "Open one to see its answers" in " ".join(c.value for c in at.caption)
    assert not any(e.markdown for e in at.expander)
    assert [b.key for b in at.button] == ["sign_out"]  # no follow-up's form is drawn
    key = db.exec(select(FollowUp.id).where(FollowUp.response_id == first)).one()
    at.session_state[f"fu_open_{key}"] = True  # as a click on its header
    at.run()
    assert not at.exception
    opened = next(e for e in at.expander if e.markdown)
    assert "Recommendation 3/10" in " ".join(m.value for m in opened.markdown)
    assert [b.key for b in at.button if b.key and b.key.startswith("assign_")] == [f"assign_{key}"]


def test_an_empty_queue_says_so(db):
    respond(db, datetime.now(UTC) - timedelta(days=1))  # a happy response: nothing to follow up
    at = open_page(db)
    assert "Nothing to follow up" in at.info[0].value


def test_the_queue_lists_a_detractor_with_its_details(db):
    respond(db, datetime.now(UTC) - timedelta(days=1), NPS=3, COMMENT="**Late** <b>again</b>")
    at = open_page(db)
    assert len(at.expander) == 1
    label = at.expander[0].label
    assert "Acme Tools" in label
    assert "Detractor" in label
    assert r"Ana \*Lima\*" in label  # escaped, never formatted
    shown = " ".join(m.value for m in at.expander[0].markdown)
    assert "Recommendation 3/10" in shown
    assert "**Late** <b>again</b>" in [t.value for t in at.expander[0].text]  # the comment as plain text


def test_assign_and_close_from_the_page_reach_the_database(db):
    respond(db, datetime.now(UTC) - timedelta(days=1), NPS=2)
    key = follow_up(db).id
    at = open_page(db)

    at.text_input(key=f"assignee_{key}").input("Priya Shah")
    at.button(key=f"assign_{key}").click().run()
    assert not at.exception
    assert "in progress with Priya Shah" in at.success[0].value
    stored = follow_up(db)
    assert (stored.status, stored.assignee) == ("in_progress", "Priya Shah")
    assert at.info[0].value.startswith("Nothing to follow up")  # no longer open

    # It left the list (no longer open) and comes back under "in progress" still opened.
    at.selectbox(key="fu_status").set_value("in_progress").run()
    at.text_area(key=f"closing_{key}").input("Called Ana; agreed a weekly delivery window.")
    at.button(key=f"close_{key}").click().run()
    assert not at.exception
    assert f"Follow-up #{key} is closed." in at.success[0].value
    stored = follow_up(db)
    assert stored.status == "closed"
    assert stored.closed_at is not None
    assert stored.note.endswith("closed: Called Ana; agreed a weekly delivery window.")

    open_all(at.selectbox(key="fu_status").set_value("closed").run(), db)
    at.button(key=f"reopen_{key}").click().run()
    assert "in progress again" in at.success[0].value
    assert follow_up(db).status == "in_progress"


def test_closing_without_a_note_shows_the_error_and_changes_nothing(db):
    respond(db, datetime.now(UTC) - timedelta(days=1), MOMENT="frustrated")
    before = follow_up(db)
    key = before.id
    at = open_page(db)
    at.button(key=f"close_{key}").click().run()
    assert not at.exception
    assert "the closing note is empty" in at.error[0].value
    assert "Nothing was changed" in at.error[0].value
    after = follow_up(db)
    assert (after.status, after.note, after.updated_at, after.closed_at) == (
        before.status,
        before.note,
        before.updated_at,
        None,
    )
    assert len(at.expander) == 1  # still in the open queue


def test_the_filters_narrow_the_queue(db):
    when = datetime.now(UTC) - timedelta(days=1)
    respond(db, when, NPS=3)
    respond(db, when + timedelta(hours=1), MOMENT="disappointed")
    at = open_page(db)
    assert len(at.expander) == 2
    at.selectbox(key="fu_reason").set_value("moment").run()
    assert len(at.expander) == 1
    assert "Bad moment" in at.expander[0].label


def test_the_overdue_filter_shows_only_follow_ups_left_open_past_their_due_time(db):
    respond(db, datetime.now(UTC) - timedelta(days=2), NPS=2)  # a detractor is due within 24 hours
    result, _ = make_invitation(db, datetime.now(UTC) - timedelta(hours=2), email="new@acme.example")
    submit(db, invitation_id=result.invitation_id, answers=full_answers() | {"NPS": 1}, locale="en",
           now=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
    db.commit()
    at = open_page(db)
    # The two detractors, and the account's own follow-up: two of its contacts were flagged.
    assert len(at.expander) == 3
    assert ["Overdue" in e.label for e in at.expander].count(True) == 1
    open_all(at.toggle(key="fu_overdue").set_value(True).run(), db)
    [overdue] = at.expander
    assert "Overdue" in overdue.label
    assert "**overdue**" in " ".join(m.value for m in overdue.markdown)


def test_closing_can_send_the_contact_a_message_and_records_it(db):
    respond(db, datetime.now(UTC) - timedelta(days=1), NPS=2)
    key = follow_up(db).id
    at = open_page(db)
    at.toggle(key=f"tell_{key}").set_value(True).run()
    draft = at.text_area(key=f"reply_{key}").value
    assert draft.startswith("Hello Ana *Lima*,")
    at.text_area(key=f"closing_{key}").input("Sent a replacement")
    at.text_area(key=f"reply_{key}").input(draft.replace("…", "A replacement is on its way."))
    at.button(key=f"close_{key}").click().run()
    assert not at.exception
    assert "The contact will get your message" in at.success[0].value
    closed = follow_up(db)
    assert closed.status == "closed"
    assert "A replacement is on its way." in closed.customer_message


def test_a_message_with_the_templates_gap_is_refused_and_nothing_changes(db):
    respond(db, datetime.now(UTC) - timedelta(days=1), NPS=2)
    key = follow_up(db).id
    at = open_page(db)
    at.toggle(key=f"tell_{key}").set_value(True).run()
    at.text_area(key=f"closing_{key}").input("Sent a replacement")
    at.button(key=f"close_{key}").click().run()
    assert "template's gap" in at.error[0].value
    assert follow_up(db).status == "open"


def test_a_closed_follow_up_leads_to_logging_what_was_done_as_an_action(db):
    from models.tables import AccountAction
    from survey.followup.queue import close

    respond(db, datetime.now(UTC) - timedelta(days=1), NPS=2)
    key = follow_up(db).id
    close(db, key, "Sent a technician.", datetime.now(UTC))
    db.commit()
    at = open_page(db)
    at.selectbox(key="fu_status").set_value("closed").run()
    at.button(key=f"log_action_{key}").click().run()
    assert not at.exception
    assert at.title[0].value == "Account"
    assert at.selectbox(key="action_follow_up").value == key
    # AppTest forgets a page switched to from inside the script on its next run; a browser stays.
    at.switch_page("pages/account.py")
    at.button[[b.label for b in at.button].index("Log action")].click().run()
    assert "Recorded: Executive visit" in at.success[0].value
    assert db.exec(select(AccountAction.follow_up_id)).all() == [key]
