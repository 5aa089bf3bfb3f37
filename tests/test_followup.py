"""The follow-up rules and queue, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func
from sqlmodel import Session, select

from models.tables import Account, Contact, FollowUp, Response
from survey.followup import queue as followup
from survey.followup.queue import (
    FollowUpError,
    add_note,
    assign,
    close,
    flag_all,
    flag_response,
    queue,
    reopen,
)
from tests.factories import answers_at as answers
from tests.factories import respond as submit_response


def respond(
    session: Session, when, *, email: str = "ana@acme.example", account: str = "Acme Tools", **kw
) -> int:
    return submit_response(session, when, answers(**kw), account=account, email=email)


def follow_up_of(session: Session, response_id: int) -> FollowUp | None:
    return session.exec(select(FollowUp).where(FollowUp.response_id == response_id)).first()


def snapshot(session: Session) -> list[tuple]:
    session.expire_all()
    return [
        (f.id, f.status, f.assignee, f.note, f.updated_at, f.closed_at)
        for f in session.exec(select(FollowUp).order_by(FollowUp.id)).all()
    ]


# --- The rules ---------------------------------------------------------------------------------


def test_a_happy_response_needs_no_follow_up(session, now):
    response_id = respond(session, now)
    assert follow_up_of(session, response_id) is None
    assert flag_response(session, response_id) is None
    assert session.exec(select(func.count()).select_from(FollowUp)).one() == 0


@pytest.mark.parametrize("nps", [0, 3, 6])
def test_a_detractor_is_flagged_when_submitted(session, now, nps):
    response_id = respond(session, now, NPS=nps)
    found = follow_up_of(session, response_id)
    assert found is not None
    assert (found.reasons, found.detail, found.status) == ("detractor", f"Recommendation {nps}/10", "open")
    assert found.account_id == session.get(Response, response_id).account_id
    assert found.created_at == now


def test_a_passive_is_not_a_detractor(session, now):
    assert follow_up_of(session, respond(session, now, NPS=7)) is None


@pytest.mark.parametrize(
    ("moment", "flagged"), [("disappointed", True), ("frustrated", True), ("as_expected", False)]
)
def test_a_bad_moment_is_flagged(session, now, moment, flagged):
    found = follow_up_of(session, respond(session, now, MOMENT=moment))
    if flagged:
        assert (found.reasons, found.detail) == ("moment", f"moment: {moment}")
    else:
        assert found is None


def test_a_drop_against_the_contacts_previous_response_is_flagged(session, now):
    respond(session, now, levels={"trust": 6})
    second = respond(session, now + timedelta(days=3), levels={"trust": 4})
    found = follow_up_of(session, second)
    assert (found.reasons, found.detail) == ("drop", "Trust fell from 6.0 to 4.0")


def test_all_reasons_together_read_as_one_sentence(session, now):
    respond(session, now, levels={"trust": 6, "satisfaction": 7})
    second = respond(
        session, now + timedelta(days=1), levels={"trust": 3, "satisfaction": 5}, NPS=3, MOMENT="frustrated"
    )
    found = follow_up_of(session, second)
    assert found.reasons == "detractor,moment,drop"
    assert found.detail == (
        "Recommendation 3/10; moment: frustrated; "
        "Satisfaction fell from 7.0 to 5.0; Trust fell from 6.0 to 3.0"
    )


def test_a_smaller_drop_is_not_flagged_unless_the_threshold_says_so(session, now):
    respond(session, now, levels={"trust": 6})
    second = respond(session, now + timedelta(days=1), levels={"trust": 5})
    assert follow_up_of(session, second) is None
    found = flag_response(session, second, threshold=1.0)
    assert (found.reasons, found.detail) == ("drop", "Trust fell from 6.0 to 5.0")
    # Flagging again returns the same follow-up; it never makes a second one.
    assert flag_response(session, second, threshold=1.0).id == found.id


def test_the_drop_rule_compares_with_the_same_contacts_previous_response_only(session, now):
    respond(session, now, email="ana@acme.example", levels={"trust": 7})
    # Another contact of the same account, much lower: no previous response of their own.
    ben = respond(session, now + timedelta(days=1), email="ben@acme.example", levels={"trust": 3})
    assert follow_up_of(session, ben) is None
    # Ana's second answer is compared with Ana's first, not with Ben's.
    ana_2 = respond(session, now + timedelta(days=2), email="ana@acme.example", levels={"trust": 6})
    assert follow_up_of(session, ana_2) is None
    # And with her *previous* response, not her first: 7 -> 6 -> 5 never drops 1.5 in one step.
    ana_3 = respond(session, now + timedelta(days=3), email="ana@acme.example", levels={"trust": 5})
    assert follow_up_of(session, ana_3) is None
    ana_4 = respond(session, now + timedelta(days=4), email="ana@acme.example", levels={"trust": 3})
    assert follow_up_of(session, ana_4).detail == "Trust fell from 5.0 to 3.0"


def test_a_bad_threshold_is_refused(session, now):
    response_id = respond(session, now)
    with pytest.raises(FollowUpError, match="threshold must be more than 0"):
        flag_response(session, response_id, threshold=0)
    with pytest.raises(FollowUpError, match="there is no response #999"):
        flag_response(session, 999)


def test_flag_all_flags_what_has_no_follow_up_yet(session, now):
    respond(session, now, levels={"trust": 6})
    respond(session, now + timedelta(days=1), levels={"trust": 4})  # drop
    respond(session, now + timedelta(days=2), email="ben@acme.example", NPS=2)  # detractor
    respond(session, now + timedelta(days=3), email="cy@acme.example")  # happy
    responses = select(FollowUp).where(FollowUp.kind == "response")
    before = {(f.response_id, f.reasons, f.detail) for f in session.exec(responses).all()}
    assert len(before) == 2
    session.execute(delete(FollowUp))
    session.commit()
    assert flag_all(session) == 2
    session.commit()
    assert {(f.response_id, f.reasons, f.detail) for f in session.exec(responses).all()} == before
    assert flag_all(session) == 0


# --- The queue ---------------------------------------------------------------------------------


@pytest.fixture
def flagged(session, now) -> tuple[int, int]:
    """Two open follow-ups: a detractor at Acme and a frustrated moment at Globex."""
    first = respond(session, now, NPS=2, COMMENT="Late again.")
    contact = session.exec(select(Contact).where(Contact.email == "ana@acme.example")).one()
    contact.name, contact.role = "Ana Lima", "buyer"
    session.add(contact)
    second = respond(
        session, now + timedelta(hours=1), account="Globex", email="gus@globex.example", MOMENT="frustrated"
    )
    session.commit()
    return follow_up_of(session, first).id, follow_up_of(session, second).id


def test_the_queue_lists_readable_rows_newest_first(session, now, flagged):
    acme, globex = flagged
    rows = queue(session)
    assert [row.follow_up_id for row in rows] == [globex, acme]
    row = rows[1]
    assert (row.account, row.contact, row.contact_role, row.touchpoint) == (
        "Acme Tools",
        "Ana Lima",
        "buyer",
        "Delivery",
    )
    assert (row.nps, row.moment, row.comment) == (2, "delighted", "Late again.")
    assert (row.reasons, row.detail, row.status, row.assignee, row.note) == (
        ("detractor",),
        "Recommendation 2/10",
        "open",
        None,
        "",
    )
    assert row.submitted == now
    assert rows[0].contact == "gus@globex.example"  # no name known: the email


def test_the_queue_filters_by_status_reason_and_account(session, now, flagged):
    acme, globex = flagged
    assert [r.follow_up_id for r in queue(session, reason="moment")] == [globex]
    assert [r.follow_up_id for r in queue(session, reason="detractor")] == [acme]
    assert queue(session, reason="drop") == []
    globex_id = session.exec(select(Account.id).where(Account.name == "Globex")).one()
    assert [r.follow_up_id for r in queue(session, account_id=globex_id)] == [globex]
    assign(session, acme, "Priya", now)
    session.commit()
    assert [r.follow_up_id for r in queue(session)] == [globex]
    assert [r.follow_up_id for r in queue(session, status="in_progress")] == [acme]
    assert [r.follow_up_id for r in queue(session, status=None)] == [globex, acme]
    assert len(queue(session, status=None, limit=1)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "done"}, "unknown status 'done' \\(use one of open, in_progress, closed\\)"),
        (
            {"reason": "angry"},
            "unknown reason .angry. \\(use one of detractor, moment, drop, decline, flagged_contacts, .*",
        ),
        ({"account_id": 999}, "there is no account #999"),
        ({"limit": 0}, "the limit must be a whole number from 1 to 1000, not 0"),
    ],
)
def test_bad_queue_filters_are_named(session, flagged, kwargs, message):
    with pytest.raises(FollowUpError, match=message):
        queue(session, **kwargs)


def test_assign_note_close_and_reopen(session, now, flagged):
    acme, _ = flagged
    later = now + timedelta(days=1)
    found = assign(session, acme, "  Priya Shah ", later)
    session.commit()
    assert (found.status, found.assignee, found.updated_at) == ("in_progress", "Priya Shah", later)
    assert found.note == "2026-11-21 09:30 UTC — assigned to Priya Shah"

    add_note(session, acme, "Called Ana; delivery slot moved.", later + timedelta(hours=1))
    session.commit()
    found = close(session, acme, "Agreed a fixed weekly delivery window.", later + timedelta(hours=2))
    session.commit()
    assert (found.status, found.closed_at) == ("closed", later + timedelta(hours=2))
    assert found.note.splitlines() == [
        "2026-11-21 09:30 UTC — assigned to Priya Shah",
        "2026-11-21 10:30 UTC — Called Ana; delivery slot moved.",
        "2026-11-21 11:30 UTC — closed: Agreed a fixed weekly delivery window.",
    ]
    assert [r.follow_up_id for r in queue(session, status="closed")] == [acme]

    found = reopen(session, acme, later + timedelta(days=1), note="Late again")
    session.commit()
    assert (found.status, found.assignee, found.closed_at) == ("in_progress", "Priya Shah", None)
    assert found.note.splitlines()[-1] == "2026-11-22 09:30 UTC — reopened: Late again"
    assert len(found.note.splitlines()) == 4


def test_reopening_an_unassigned_follow_up_makes_it_open(session, now, flagged):
    _, globex = flagged
    close(session, globex, "Apologised by phone.", now)
    session.commit()
    assert reopen(session, globex, now).status == "open"


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda s, i, now: assign(s, 999, "Priya", now), "there is no follow-up #999"),
        (lambda s, i, now: assign(s, i, "   ", now), "the assignee is empty"),
        (lambda s, i, now: assign(s, i, "x" * 201, now), "201 characters, more than the 200 allowed"),
        (lambda s, i, now: add_note(s, i, "", now), "the note is empty"),
        (lambda s, i, now: add_note(s, 999, "hello", now), "there is no follow-up #999"),
        (lambda s, i, now: close(s, i, "  ", now), "the closing note is empty: say what was done"),
        (lambda s, i, now: close(s, i, None, now), "the closing note is empty"),
        (lambda s, i, now: close(s, i, "x" * 2001, now), "2001 characters, more than the 2000 allowed"),
        (lambda s, i, now: reopen(s, i, now), "follow-up #\\d+ is not closed, so it cannot be reopened"),
        (lambda s, i, now: assign(s, i, "Priya", now.replace(tzinfo=None)), "needs a time zone"),
        (lambda s, i, now: assign(s, "1", "Priya", now), "'1' is not a follow-up id"),
    ],
)
def test_refused_operations_are_named_and_change_nothing(session, now, flagged, operation, message):
    acme, _ = flagged
    before = snapshot(session)
    with pytest.raises(FollowUpError, match=message):
        operation(session, acme, now)
    session.commit()  # even a caller that commits after the error stores nothing
    assert snapshot(session) == before


def test_a_closed_follow_up_cannot_be_closed_again_or_assigned(session, now, flagged):
    acme, _ = flagged
    close(session, acme, "Done.", now)
    session.commit()
    before = snapshot(session)
    with pytest.raises(FollowUpError, match=f"follow-up #{acme} is already closed"):
        close(session, acme, "Again.", now + timedelta(hours=1))
    with pytest.raises(FollowUpError, match=f"follow-up #{acme} is closed: reopen it before assigning it"):
        assign(session, acme, "Priya", now + timedelta(hours=1))
    session.commit()
    assert snapshot(session) == before


def test_the_module_says_which_statuses_and_reasons_exist():
    assert followup.STATUSES == ("open", "in_progress", "closed")
    assert followup.REASONS == ("detractor", "moment", "drop")
