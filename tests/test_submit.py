"""The invitation and submit path, on SQLite and PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from models.tables import Account, Answer, Contact, Draft, IndicatorScore, Interaction, Invitation, Response
from survey.collecting.invitations import InviteError, LinkState, check_link, mark_opened
from survey.collecting.responses import (
    AlreadySubmitted,
    AnswerError,
    LinkExpired,
    effective_answers,
    save_draft,
    submit,
)
from survey.collecting.tokens import hash_token
from survey.instrument.definition import load_instrument
from tests.factories import EXPECTED_SCORES, full_answers, make_invitation


def counts(session: Session) -> dict[str, int]:
    tables = (Account, Contact, Interaction, Invitation, Draft, Response, Answer, IndicatorScore)
    return {t.__name__: session.exec(select(func.count()).select_from(t)).one() for t in tables}


def test_invite_creates_account_contact_interaction_and_a_hashed_token(session, now):
    result, token = make_invitation(session, now, contact_name="Ana Lima", language="de")
    assert result.created[:2] == ["account 'Acme Tools'", "contact ana@acme.example"]
    assert result.link == f"http://testserver/?t={token}"
    assert len(token) == 43
    invitation = session.get(Invitation, result.invitation_id)
    assert invitation.token_hash == hash_token(token)
    assert token not in invitation.token_hash
    assert invitation.expires_at == now + timedelta(days=14)
    contact = session.exec(select(Contact)).one()
    assert (contact.name, contact.language) == ("Ana Lima", "de")


def test_a_second_invite_reuses_account_and_contact(session, now):
    make_invitation(session, now)
    result, _ = make_invitation(session, now, email="ANA@acme.example ")
    assert not any(line.startswith(("account", "contact")) for line in result.created)
    assert counts(session)["Contact"] == 1
    assert counts(session)["Invitation"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"touchpoint": "teleport"}, "unknown touchpoint 'teleport'"),
        ({"email": "not-an-email"}, "'not-an-email' is not one email address"),
        ({"account": "  "}, "the account name is empty"),
        ({"language": "it"}, "language 'it' is not offered"),
    ],
)
def test_bad_invite_input_is_named_and_creates_nothing(session, now, kwargs, message):
    before = counts(session)
    with pytest.raises(InviteError, match=message):
        make_invitation(session, now, **kwargs)
    session.rollback()
    assert counts(session) == before


def test_link_states(session, now):
    _, token = make_invitation(session, now)
    assert check_link(session, token, now).state is LinkState.VALID
    assert check_link(session, None, now).state is LinkState.MISSING
    assert check_link(session, token[:-3], now).state is LinkState.MALFORMED
    assert check_link(session, token + "'; drop table x;--", now).state is LinkState.MALFORMED
    other = ("A" if token[0] != "A" else "B") + token[1:]
    assert check_link(session, other, now).state is LinkState.UNKNOWN
    expired = check_link(session, token, now + timedelta(days=14))
    assert expired.state is LinkState.EXPIRED
    assert expired.when == now + timedelta(days=14)


def test_a_valid_link_shows_account_and_interaction(session, now):
    _, token = make_invitation(session, now, language="de")
    context = check_link(session, token, now).context
    assert context.account_name == "Acme Tools"
    assert context.touchpoint_name == "Delivery"
    assert context.language == "de"
    assert context.occurred_at == now


def test_checking_invalid_links_changes_nothing(session, now):
    _, token = make_invitation(session, now)
    before = counts(session)
    for probe in ("", "x" * 43, token[:20], token):
        check_link(session, probe, now + timedelta(days=30))
    session.commit()
    assert counts(session) == before
    assert session.exec(select(Invitation.opened_at)).one() is None


def test_submit_stores_answers_scores_and_uses_the_link(session, now):
    result, token = make_invitation(session, now)
    mark_opened(session, result.invitation_id, now)
    answers = full_answers()
    response_id = submit(
        session,
        invitation_id=result.invitation_id,
        answers=answers,
        locale="en",
        now=now + timedelta(minutes=3),
    )
    session.commit()

    response = session.get(Response, response_id)
    assert response.nps == 9
    assert response.nps_category == "promoter"
    assert response.leader_other == "Stratos Group"
    assert response.value_level == 3
    assert response.moment == "delighted"
    assert response.comment == answers["COMMENT"]
    assert response.instrument_version == load_instrument().version
    assert response.instrument_fingerprint == load_instrument().fingerprint
    assert response.duration_seconds == 180
    stored = {a.item_code: a.value for a in session.exec(select(Answer)).all()}
    assert stored["SAT4"] == 2  # the answer as given; reverse keying is in the score only
    assert len(stored) == 24 + 1 + 2  # indicator items, NPS, two leader ratings
    scores = {(s.indicator, s.subject): s for s in session.exec(select(IndicatorScore)).all()}
    for indicator, expected in EXPECTED_SCORES.items():
        assert scores[(indicator, "own")].score == pytest.approx(expected)
        assert scores[(indicator, "own")].score_100 == pytest.approx(100 * (expected - 1) / 6)
    assert scores[("trust", "leader")].score == 4.0
    assert ("mindset", "leader") not in scores
    assert check_link(session, token, now).state is LinkState.USED


def test_a_draft_and_a_submit_show_on_the_invitation_before_the_commit(session, now):
    """The caller's unit of work sees what it wrote: the invitation it has loaded reads as
    started after a draft and as submitted after the submit, before anything is committed."""
    result, _ = make_invitation(session, now)
    invitation = session.get_one(Invitation, result.invitation_id)
    assert (invitation.started_at, invitation.completed_at) == (None, None)
    draft_at, submit_at = now + timedelta(minutes=1), now + timedelta(minutes=4)
    save_draft(
        session, invitation_id=result.invitation_id, answers={"SAT1": 5}, step=0, locale="en", now=draft_at
    )
    assert (invitation.started_at, invitation.completed_at) == (draft_at, None)
    draft = session.get_one(Draft, result.invitation_id)
    save_draft(
        session, invitation_id=result.invitation_id, answers={"SAT1": 6}, step=1, locale="en", now=draft_at
    )
    assert (draft.answers, draft.step) == ({"SAT1": 6}, 1)
    submit(session, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=submit_at)
    assert (invitation.started_at, invitation.completed_at) == (draft_at, submit_at)


def test_a_second_submit_stores_nothing_more(session, now):
    result, _ = make_invitation(session, now)
    submit(session, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=now)
    session.commit()
    before = counts(session)
    with pytest.raises(AlreadySubmitted):
        submit(session, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=now)
    session.rollback()
    assert counts(session) == before


def test_concurrent_submits_of_one_invitation_store_exactly_one_response(engine, session, now):
    result, _ = make_invitation(session, now)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        with Session(engine) as own:
            barrier.wait()
            try:
                submit(own, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=now)
                own.commit()
                outcomes.append("stored")
            except AlreadySubmitted:
                own.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["stored"]
    assert counts(session)["Response"] == 1


def test_responses_commit_in_the_order_of_their_ids(engine, session, now):
    """A reader that pulls everything after the last id it saw never skips one: a submit
    whose response would get a higher id waits until the one before it has committed."""
    first, _ = make_invitation(session, now)
    # Another month and account: the two share no roll-up row that would order them anyway.
    earlier = now - timedelta(days=45)
    second, _ = make_invitation(session, earlier, account="Bolt Works", email="second@example.com")
    holding = Session(engine)
    held_id = submit(holding, invitation_id=first.invitation_id, answers=full_answers(), locale="en", now=now)
    later: list[int] = []

    def submit_second() -> None:
        with Session(engine) as own:
            later.append(
                submit(
                    own, invitation_id=second.invitation_id, answers=full_answers(), locale="en", now=earlier
                )
            )
            own.commit()

    thread = threading.Thread(target=submit_second)
    thread.start()
    thread.join(timeout=1.0)
    assert later == []  # still waiting: the first has not committed
    holding.commit()
    holding.close()
    thread.join(timeout=10)
    assert later[0] > held_id


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"SAT1": 8}, "SAT1: 8 is not a whole number from 1 to 7"),
        ({"SAT1": 0}, "SAT1: 0 is not a whole number from 1 to 7"),
        ({"NPS": 11}, "NPS: 11 is not a whole number from 0 to 10"),
        ({"NPS": None}, "NPS: an answer is required"),
        ({"TRU1": "5"}, "TRU1: '5' is not a whole number from 1 to 7"),
        ({"TRU1": 5.5}, "TRU1: 5.5 is not a whole number from 1 to 7"),
        ({"COM1": True}, "COM1: True is not an answer"),
        ({"MOMENT": "ecstatic"}, "MOMENT: 'ecstatic' is not one of"),
        ({"VALUE_LEVEL": 5}, "VALUE_LEVEL: 5 is not one of"),
        ({"COMMENT": "x" * 2001}, "COMMENT: 2001 characters is more than the 2000 allowed"),
        ({"HACK": 1}, "HACK: not a question of this survey"),
        ({"LEADER": 999}, "LEADER: 999 is not a provider on the list"),
        ({"LEADER_OTHER": " "}, "LEADER_OTHER: name the other provider"),
        ({"LEADER": "none"}, "CL_SAT: rates the category leader, but no leader was named"),
    ],
)
def test_bad_answers_are_named_and_change_nothing(session, now, change, problem):
    result, token = make_invitation(session, now)
    before = counts(session)
    answers = full_answers() | change
    with pytest.raises(AnswerError) as raised:
        submit(session, invitation_id=result.invitation_id, answers=answers, locale="en", now=now)
    session.rollback()
    assert problem in str(raised.value)
    assert counts(session) == before
    assert check_link(session, token, now).state is LinkState.VALID


def test_an_expired_link_cannot_be_submitted(session, now):
    result, _ = make_invitation(session, now, valid_days=1)
    before = counts(session)
    with pytest.raises(LinkExpired):
        submit(
            session,
            invitation_id=result.invitation_id,
            answers=full_answers(),
            locale="en",
            now=now + timedelta(days=2),
        )
    session.rollback()
    assert counts(session) == before


def test_drafts_keep_partial_answers_for_resuming(session, now):
    result, token = make_invitation(session, now)
    save_draft(
        session,
        invitation_id=result.invitation_id,
        answers={"SAT1": 4, "BOGUS": 1},
        step=2,
        locale="de",
        now=now,
    )
    session.commit()
    context = check_link(session, token, now + timedelta(hours=5)).context
    assert context.draft_answers == {"SAT1": 4}
    assert context.draft_step == 2
    assert context.language == "de"
    assert context.resumed
    response_id = submit(
        session,
        invitation_id=result.invitation_id,
        answers=full_answers(),
        locale="de",
        now=now + timedelta(hours=5),
    )
    session.commit()
    response = session.get(Response, response_id)
    assert response.duration_seconds == 5 * 3600  # from the first saved answer
    assert response.locale == "de"
    assert counts(session)["Draft"] == 0


def test_a_draft_cannot_be_saved_after_submission(session, now):
    result, _ = make_invitation(session, now)
    submit(session, invitation_id=result.invitation_id, answers=full_answers(), locale="en", now=now)
    session.commit()
    with pytest.raises(AlreadySubmitted):
        save_draft(
            session, invitation_id=result.invitation_id, answers={"SAT1": 1}, step=0, locale="en", now=now
        )
    session.rollback()
    assert counts(session)["Draft"] == 0


def test_effective_answers_drop_what_later_choices_made_irrelevant():
    instrument = load_instrument()
    answers = {"LEADER": "none", "LEADER_OTHER": "X", "CL_SAT": 5, "SAT1": 3, "SAT2": None}
    assert effective_answers(instrument, answers) == {"LEADER": "none", "SAT1": 3}
    assert effective_answers(instrument, {"LEADER": 2, "LEADER_OTHER": "X", "CL_SAT": 5}) == {
        "LEADER": 2,
        "CL_SAT": 5,
    }
