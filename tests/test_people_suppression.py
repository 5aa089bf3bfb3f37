"""Figures rest on enough different people, not only enough answers: one contact answering many
times is one person, and no page shows a figure of theirs alone, nor lets it be worked out."""

from datetime import timedelta

import numpy as np
import pytest
from sqlmodel import select

from models.tables import Account, Competitor, Contact, Interaction
from survey.accounts.profile import quarterly_trend
from survey.collecting.invitations import InviteError, create_invitation
from survey.reporting.dashboard import compute
from survey.reporting.filters import Filters
from survey.reporting.overview import overview
from tests.factories import answers_at, full_answers, make_invitation, respond
from tests.test_dashboard import INSTRUMENT

MIN_N = 3


def _answers(level: int) -> dict:
    return answers_at({"trust": level, "satisfaction": level})


@pytest.fixture
def one_loud_contact(session, now):
    """In the month of ``now``: five people answer once at a sales meeting, four once at a
    delivery, and one contact answers five times after service calls. Two months before,
    only that contact answered (four times); three months before, six people did."""
    month_ago = now - timedelta(days=2)
    for number in range(5):
        respond(
            session, month_ago, _answers(4 + number % 3), email=f"s{number}@x.example", touchpoint="sales"
        )
    for number in range(4):
        respond(
            session, month_ago, _answers(3 + number % 4), email=f"d{number}@x.example", touchpoint="delivery"
        )
    for number in range(5):
        respond(
            session,
            month_ago - timedelta(hours=number),
            _answers(7),
            email="loud@x.example",
            touchpoint="service",
        )
    for number in range(4):
        respond(
            session,
            now - timedelta(days=62 + number),
            _answers(1),
            email="loud@x.example",
            touchpoint="service",
        )
    for number in range(6):
        respond(session, now - timedelta(days=95), _answers(2 + number), email=f"e{number}@x.example")


def _touchpoint_ids(session) -> dict[str, int]:
    from models.tables import Touchpoint

    return {
        name: touchpoint_id
        for touchpoint_id, name in session.exec(select(Touchpoint.id, Touchpoint.code)).all()
    }


def test_a_heat_map_cell_of_one_persons_answers_is_hidden_with_its_n(session, one_loud_contact, now):
    data = compute(
        session, Filters(grain="month", start=f"{now:%Y-%m}", end=f"{now:%Y-%m}"), INSTRUMENT, MIN_N
    )
    trust = data.heat_map[data.heat_map["indicator"] == "trust"].set_index("touchpoint_id")
    ids = _touchpoint_ids(session)
    # Five answers, one person: hidden, mean and n; and so is the next smallest cell (four
    # people), or the month's profile less the shown cells would give it.
    assert trust.loc[ids["service"], ["n", "mean"]].isna().all()
    assert trust.loc[ids["delivery"], ["n", "mean"]].isna().all()
    assert trust.loc[ids["sales"], "n"] == 5
    # With a minimum of one person, every cell shows.
    everyone = compute(
        session, Filters(grain="month", start=f"{now:%Y-%m}", end=f"{now:%Y-%m}"), INSTRUMENT, 1
    )
    assert not everyone.heat_map["mean"].isna().any()


def test_a_period_of_one_persons_answers_is_left_out_of_the_trend_and_cannot_be_worked_out(
    session, one_loud_contact, now
):
    data = compute(session, Filters(grain="month"), INSTRUMENT, MIN_N)
    own = data.trend[(data.trend["subject"] == "own") & (data.trend["indicator"] == "trust")]
    months = {f"{now:%Y-%m}", f"{now - timedelta(days=62):%Y-%m}", f"{now - timedelta(days=95):%Y-%m}"}
    assert len(months) == 3
    loud_month = f"{now - timedelta(days=62):%Y-%m}"
    # Four answers from one person: not shown. The profile beside the trend is the sum of the
    # months, so the smallest shown month (six people) is left out too.
    assert set(own["period"]) == {f"{now:%Y-%m}"}
    assert loud_month not in set(data.nps["period"])
    profile = data.profile[(data.profile["subject"] == "own") & (data.profile["indicator"] == "trust")]
    assert profile["n"].iloc[0] == 5 + 4 + 5 + 4 + 6
    # Every answer still counts in the figures that rest on enough people.
    assert data.responses == 24


def test_the_overview_hides_a_card_and_the_nps_that_rest_on_one_person(session, now):
    for number in range(5):
        respond(session, now - timedelta(days=3 + number), _answers(6), email="loud@x.example")
    data = overview(session, now=now, min_n=MIN_N)
    assert data.indicators["trust"].score_100 is None
    assert not data.nps_shown
    assert data.trend.empty
    for number in range(2):
        respond(session, now - timedelta(days=1), _answers(5), email=f"other{number}@x.example")
    # Three people now: shown, and the verdict for the cell is asked again as its n grew.
    data = overview(session, now=now, min_n=MIN_N)
    assert data.indicators["trust"].score_100 is not None
    assert data.indicators["trust"].n == 7
    assert data.nps_shown


def test_anonymous_answers_each_count_as_a_person_since_they_are_never_linked(session, now):
    from survey.collecting.responses import submit
    from tests.factories import make_invitation

    for number in range(3):
        result, _ = make_invitation(session, now - timedelta(days=3), email="shy@x.example")
        submit(
            session,
            invitation_id=result.invitation_id,
            answers={k: v for k, v in full_answers().items() if v is not None},
            locale="en",
            now=now - timedelta(days=3, hours=number),
            anonymous=True,
        )
        session.commit()
    assert overview(session, now=now, min_n=MIN_N).indicators["trust"].score_100 is not None


def test_the_account_trend_needs_enough_people_in_a_quarter(session, now):
    for number in range(4):
        respond(session, now - timedelta(days=1 + number), _answers(5), email="loud@x.example")
    account_id = session.exec(select(Account.id)).one()
    assert quarterly_trend(session, account_id, now, MIN_N).empty
    for number in range(2):
        respond(session, now - timedelta(days=1), _answers(3), email=f"more{number}@x.example")
    trend = quarterly_trend(session, account_id, now, MIN_N)
    assert set(trend["n"]) == {6}


def test_a_leader_rated_by_one_person_is_not_compared(session, now):
    leader = Competitor(name="Brightline Partners")
    session.add(leader)
    session.commit()
    rated = full_answers() | {"LEADER": leader.id, "LEADER_OTHER": None, "CL_TRU": 4}
    for number in range(6):
        varied = rated | {"CL_TRU": 2 + number % 4}  # pairs that differ: a test could be run
        respond(session, now - timedelta(days=2 + number), varied, email="loud@x.example")
    for number in range(3):
        respond(session, now - timedelta(days=2), full_answers(), email=f"quiet{number}@x.example")
    data = compute(session, Filters(grain="month"), INSTRUMENT, MIN_N)
    assert data.profile[data.profile["subject"] == "own"]["n"].gt(0).all()
    assert not [gap for gap in data.gaps if gap.against == "Brightline Partners"]
    for number in range(2):
        respond(session, now - timedelta(days=1), rated | {"CL_TRU": 5}, email=f"rater{number}@x.example")
    data = compute(session, Filters(grain="month"), INSTRUMENT, MIN_N)
    assert [gap.n for gap in data.gaps if gap.against == "Brightline Partners"] == [8]


def test_a_statements_answers_from_one_person_are_not_charted(session, now):
    for number in range(4):
        respond(session, now - timedelta(days=2 + number), full_answers(), email="loud@x.example")
    data = compute(session, Filters(grain="month"), INSTRUMENT, MIN_N)
    assert data.distribution.empty
    assert np.isnan(data.heat_map["mean"]).all()


def test_an_accounts_change_needs_enough_people_in_both_quarters(session, now):
    """One contact answers four times a quarter at Acme: its change is not shown, and as the
    accounts of a quarter add up to the trend's figure, neither is the next smallest (Cora)."""
    from survey.reporting.dashboard import account_movers

    for quarter, days in enumerate((100, 10)):
        when = now - timedelta(days=days)
        for number in range(4):
            respond(session, when - timedelta(hours=number), _answers(5 - quarter), email="loud@acme.example")
        for number in range(6):
            respond(
                session, when, _answers(4 + number % 3), account="Bolt Works", email=f"b{number}@bolt.example"
            )
        for number in range(4):
            respond(
                session, when, _answers(3 + number % 2), account="Cora Labs", email=f"c{number}@cora.example"
            )
    names = dict(session.exec(select(Account.id, Account.name)).all())
    shown = account_movers(session, Filters(grain="quarter"), MIN_N)
    assert {names[account] for account in shown["account_id"]} == {"Bolt Works"}
    everyone = account_movers(session, Filters(grain="quarter"), 1)
    assert {names[account] for account in everyone["account_id"]} == {"Acme Tools", "Bolt Works", "Cora Labs"}


def test_a_contact_is_never_invited_to_another_accounts_interaction(session, now):
    """A cell with answers from ``min_n`` accounts is taken to rest on ``min_n`` people without
    counting them (``dashboard.few``): that rests on each contact answering only for
    their own account, which the invitation enforces."""
    make_invitation(session, now, account="Acme Tools", email="ana@acme.example")
    make_invitation(session, now, account="Bolt Works", email="bo@bolt.example")
    ana = session.exec(select(Contact).where(Contact.email == "ana@acme.example")).one()
    bolt = session.exec(select(Account.id).where(Account.name == "Bolt Works")).one()
    theirs = session.exec(select(Interaction).where(Interaction.account_id == bolt)).one()
    with pytest.raises(InviteError, match="belongs to account"):
        create_invitation(session, interaction=theirs, contact=ana, now=now, valid_days=14)
