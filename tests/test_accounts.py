"""The account view, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from sqlmodel import Session, select

from models.tables import Account, Contact
from survey.accounts.answered import LastAnswers
from survey.accounts.profile import (
    VALUE_LEVELS,
    AccountError,
    account_view,
    list_accounts,
    score_matrix,
    set_manager_value_level,
)
from survey.instrument.definition import load_instrument
from tests.factories import answers_at as answers
from tests.factories import make_invitation
from tests.factories import respond as submit_response


def respond(session: Session, when: datetime, email: str, account: str = "Acme Tools", **kw: Any) -> int:
    return submit_response(session, when, answers(**kw), account=account, email=email)


def set_contact(session: Session, email: str, name: str, role: str, influence: float) -> None:
    contact = session.exec(select(Contact).where(Contact.email == email)).one()
    contact.name, contact.role, contact.buying_influence = name, role, influence
    session.add(contact)
    session.commit()


@pytest.fixture
def acme(session, now) -> int:
    """Ana (decision maker, 0.9) answered twice, Ben (user, 0.3) once, Cy (influencer, 0.5) never;
    Globex is another account whose answers must not count."""
    respond(session, now, "ana@acme.example", levels={"trust": 3}, VALUE_LEVEL=1)
    respond(session, now + timedelta(days=2), "ben@acme.example", levels={"trust": 2}, VALUE_LEVEL=2)
    respond(session, now + timedelta(days=5), "ana@acme.example", levels={"trust": 6}, VALUE_LEVEL=4)
    make_invitation(session, now + timedelta(days=1), email="cy@acme.example")  # invited, never answered
    respond(session, now + timedelta(days=3), "gus@globex.example", account="Globex", levels={"trust": 1})
    set_contact(session, "ana@acme.example", "Ana Lima", "decision_maker", 0.9)
    set_contact(session, "ben@acme.example", "Ben Okafor", "user", 0.3)
    set_contact(session, "cy@acme.example", "Cy Young", "influencer", 0.5)
    return session.exec(select(Account.id).where(Account.name == "Acme Tools")).one()


def test_contacts_and_coverage(session, now, acme):
    view = account_view(session, acme, now + timedelta(days=10))
    assert view.name == "Acme Tools"
    rows = {c.name: c for c in view.contacts}
    assert [c.name for c in view.contacts] == ["Ana Lima", "Cy Young", "Ben Okafor"]  # by influence
    assert (rows["Ana Lima"].role, rows["Ana Lima"].buying_influence, rows["Ana Lima"].responses) == (
        "decision_maker",
        0.9,
        2,
    )
    assert rows["Ana Lima"].last_response == now + timedelta(days=5)
    assert rows["Ana Lima"].email == "ana@acme.example"
    assert rows["Ben Okafor"].answered
    assert (rows["Cy Young"].answered, rows["Cy Young"].responses, rows["Cy Young"].last_response) == (
        False,
        0,
        None,
    )
    coverage = view.coverage
    assert (coverage.contacts, coverage.answered) == (3, 2)
    assert coverage.contact_share == pytest.approx(2 / 3)
    assert coverage.influence_share == pytest.approx(1.2 / 1.7)


def test_the_account_score_weights_each_contacts_latest_score_by_influence(session, now, acme):
    view = account_view(session, acme, now + timedelta(days=10))
    trust = view.scores["trust"]
    # Latest scores: Ana 6 (her earlier 3 is replaced), Ben 2; Cy never answered and does not count.
    # (0.9·6 + 0.3·2) / 1.2 = 5.0 on 1-7, i.e. 66.7 on 0-100; unweighted (6 + 2) / 2 = 4.0 -> 50.
    assert trust.score_100 == pytest.approx(100 * 4 / 6)
    assert trust.unweighted_100 == pytest.approx(50.0)
    assert (trust.contacts, trust.weight) == (2, pytest.approx(1.2))
    assert list(view.scores) == [indicator.code for indicator in load_instrument().indicators]
    # Satisfaction is 6.0 in every response, so any weighting gives 6.0.
    assert view.scores["satisfaction"].score_100 == pytest.approx(100 * 5 / 6)


def test_the_view_as_of_an_earlier_moment_ignores_later_answers(session, now, acme):
    view = account_view(session, acme, now + timedelta(days=3))
    # Ana's latest by then is her first answer, 3: (0.9·3 + 0.3·2) / 1.2 = 2.75.
    assert view.scores["trust"].score_100 == pytest.approx(100 * 1.75 / 6)
    assert view.days_since_last_interaction == 1  # Globex's interaction on day 3 does not count


def test_weights_of_zero_give_no_score():
    answers = LastAnswers(at=datetime(2026, 1, 5, tzinfo=UTC), value_level=None, scores=(("trust", 5.0),))
    scores = score_matrix([(7, 1, answers)], {1: 0.0}, ["trust", "commitment"]).of(7)
    assert scores["trust"].score_100 is None
    assert scores["trust"].unweighted_100 == pytest.approx(100 * 4 / 6)
    assert (scores["commitment"].score_100, scores["commitment"].contacts) == (None, 0)


def test_many_accounts_scored_at_once_as_each_alone():
    at = datetime(2026, 1, 5, tzinfo=UTC)

    def last(**scores: float) -> LastAnswers:
        return LastAnswers(at=at, value_level=None, scores=tuple(scores.items()))

    rows = [
        (1, 10, last(trust=6.0, commitment=2.0)),
        (1, 11, last(trust=3.0)),
        (2, 20, last(trust=4.0, extra=5.0)),
        (2, 21, last(trust=7.0)),  # no known influence: left out
        (3, 30, last()),
    ]
    influence = {10: 0.9, 11: 0.3, 20: 0.5}
    matrix = score_matrix(rows, influence, ["trust", "commitment"])
    assert matrix.codes == ["trust", "commitment", "extra"]
    first, second = matrix.of(1), matrix.of(2)
    assert first["trust"].score_100 == pytest.approx(100 * ((0.9 * 6 + 0.3 * 3) / 1.2 - 1) / 6)
    assert first["trust"].unweighted_100 == pytest.approx(100 * (4.5 - 1) / 6)
    assert (first["trust"].contacts, first["trust"].weight) == (2, pytest.approx(1.2))
    assert first["commitment"].score_100 == pytest.approx(100 * 1 / 6)
    assert first["extra"] == first["extra"].__class__("extra", None, None, 0, 0.0)
    assert (second["trust"].score_100, second["trust"].contacts) == (pytest.approx(50.0), 1)
    assert second["extra"].score_100 == pytest.approx(100 * 4 / 6)
    # An account with no score at all, and one not in the rows, read as nobody answered.
    for empty in (matrix.of(3), matrix.of(99)):
        assert all(score.score_100 is None and score.contacts == 0 for score in empty.values())


def test_value_levels_customer_and_manager(session, now, acme):
    view = account_view(session, acme, now + timedelta(days=10))
    # Each contact's latest answer: Ana 4 (not her earlier 1), Ben 2.
    assert view.value.distribution == {0: 0, 1: 0, 2: 1, 3: 0, 4: 1}
    assert view.value.customer_level == 2  # the lower median of 2 and 4: never the mean 3
    assert view.value.customer_n == 2
    assert view.value.manager is None
    set_manager_value_level(session, acme, 3)
    session.commit()
    assert account_view(session, acme, now + timedelta(days=10)).value.manager == 3
    assert VALUE_LEVELS[3] == "Value added"


def test_days_since_the_last_interaction(session, now, acme):
    view = account_view(session, acme, now + timedelta(days=10, hours=3))
    assert view.last_interaction == now + timedelta(days=5)
    assert view.days_since_last_interaction == 5


def test_an_account_without_anything_yet(session, now):
    session.add(Account(name="Initech", created_at=now))
    session.commit()
    account_id = session.exec(select(Account.id).where(Account.name == "Initech")).one()
    view = account_view(session, account_id, now)
    assert view.contacts == []
    assert (view.coverage.contact_share, view.coverage.influence_share) == (None, None)
    assert all(score.score_100 is None for score in view.scores.values())
    assert (view.value.customer_level, view.days_since_last_interaction) == (None, None)
    assert view.trend.empty


def test_the_quarterly_trend_drops_small_quarters(session):
    q3 = datetime(2026, 8, 10, 12, tzinfo=UTC)
    q4 = datetime(2026, 11, 2, 12, tzinfo=UTC)
    for number, level in enumerate((3, 4, 5, 6, 7)):
        respond(session, q3 + timedelta(days=number), f"p{number}@acme.example", levels={"trust": level})
    for number in range(4):
        respond(session, q4 + timedelta(days=number), f"p{number}@acme.example", levels={"trust": 7})
    account_id = session.exec(select(Account.id)).one()
    later = datetime(2026, 12, 1, tzinfo=UTC)

    trend = account_view(session, account_id, later, min_n=5).trend
    trust = trend[trend["indicator"] == "trust"]
    assert list(trust["quarter"]) == ["2026-Q3"]  # 2026-Q4 has 4 responses: suppressed
    assert list(trust["n"]) == [5]
    assert trust["mean"].iloc[0] == pytest.approx(100 * 4 / 6)  # mean of 3..7 is 5
    assert set(trend["indicator"]) == {indicator.code for indicator in load_instrument().indicators}

    trust = account_view(session, account_id, later, min_n=4).trend.query("indicator == 'trust'")
    assert list(trust["quarter"]) == ["2026-Q3", "2026-Q4"]
    assert list(trust["n"]) == [5, 4]
    assert trust["mean"].iloc[1] == pytest.approx(100.0)


def test_an_accounts_interval_is_clustered_by_the_contact_who_answered(session):
    """Three contacts answer again and again, each much like before: the quarter's interval is
    statsmodels' OLS on a constant clustered by contact, not one that counts every answer as a
    new person, and the effective n says how many independent answers that is."""
    q3 = datetime(2026, 7, 6, 12, tzinfo=UTC)
    answered = []
    for day in range(12):
        for contact, level in (("ana", 2), ("ben", 5), ("cy", 7)):
            wobble = (day % 3) - 1 if contact != "cy" else -(day % 2)
            respond(
                session, q3 + timedelta(days=day), f"{contact}@acme.example", levels={"trust": level + wobble}
            )
            answered.append((contact, level + wobble))
    account_id = session.exec(select(Account.id)).one()
    # Three people: a minimum of three shows the quarter (more would hide it: see
    # tests/test_people_suppression.py).
    trust = account_view(session, account_id, datetime(2026, 10, 1, tzinfo=UTC), min_n=3).trend
    trust = trust[trust["indicator"] == "trust"].iloc[0]
    contacts = np.array([contact for contact, _ in answered])
    scores = (np.array([level for _, level in answered], dtype=float) - 1) * 100 / 6
    fit = sm.OLS(scores, np.ones(len(scores))).fit(
        cov_type="cluster", cov_kwds={"groups": contacts}, use_t=True
    )
    assert trust["n"] == 36
    assert [trust["low"], trust["high"]] == pytest.approx(list(fit.conf_int()[0]))
    assert trust["n_eff"] == pytest.approx(min(36, scores.var(ddof=1) / fit.bse[0] ** 2))
    assert trust["n_eff"] < 10  # 36 answers from three people carry little more than three


@pytest.mark.parametrize(
    ("level", "message"),
    [
        (5, "manager value level 5 is not one of 0, 1, 2, 3, 4"),
        (-1, "manager value level -1 is not one of 0, 1, 2, 3, 4"),
        (True, "manager value level True is not one of"),
        ("3", "manager value level '3' is not one of"),
        (2.5, "manager value level 2.5 is not one of"),
    ],
)
def test_a_bad_manager_level_is_named_and_changes_nothing(session, now, acme, level, message):
    set_manager_value_level(session, acme, 2)
    session.commit()
    with pytest.raises(AccountError, match=message):
        set_manager_value_level(session, acme, level)
    session.commit()
    session.expire_all()
    assert session.get(Account, acme).manager_value_level == 2


def test_unknown_accounts_are_named(session, now):
    with pytest.raises(AccountError, match="there is no account #999"):
        set_manager_value_level(session, 999, 2)
    with pytest.raises(AccountError, match="there is no account #999"):
        account_view(session, 999, now)


def test_the_manager_level_can_be_cleared(session, now, acme):
    set_manager_value_level(session, acme, 4)
    set_manager_value_level(session, acme, None)
    session.commit()
    assert session.get(Account, acme).manager_value_level is None


def test_list_accounts_for_a_picker(session, now, acme):
    session.get(Account, acme).segment = "Manufacturing"
    session.commit()
    choices = list_accounts(session)
    assert [c.name for c in choices] == ["Acme Tools", "Globex"]
    assert (choices[0].id, choices[0].segment) == (acme, "Manufacturing")
