"""Accounts first on the demo data: what the issue's "done when" promises.

The demo builds in one declining account (``DECLINING_ACCOUNT``) and one effect (business
reviews raise commitment by ``REVIEW_EFFECT_100`` points the quarter after); the rest of the
logged actions change nothing.
"""

import shutil
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Account, AccountAction, FollowUp
from survey.accounts.health import account_health
from survey.accounts.whatworks import what_works
from survey.demo.actions import REVIEW_EFFECT_100
from survey.demo.data import DECLINING_ACCOUNT, seed_demo
from survey.people.access import owner_scope

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(sqlite_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("demo_accounts") / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        seed_demo(session, now=NOW)
        session.commit()
    yield engine
    engine.dispose()


def test_the_declining_account_is_in_its_managers_top_three_with_the_reason(demo):
    with Session(demo) as session:
        owner = session.exec(select(Account.owner).where(Account.name == DECLINING_ACCOUNT)).one()
        rows = account_health(session, NOW, owner_scope(session, owner))
    top = [r.account for r in rows[:3]]
    assert DECLINING_ACCOUNT in top, top
    keller = next(r for r in rows if r.account == DECLINING_ACCOUNT)
    assert keller.declining
    assert keller.change.high < 0
    assert any("against its own baseline — beyond its uncertainty" in reason for reason in keller.reasons)
    # Everyone else in the book is theirs too, and ranked worst first.
    assert {r.owner for r in rows} == {owner}
    assert [r.health for r in rows] == sorted(r.health for r in rows)


def test_the_demo_opens_one_decline_follow_up_for_the_declining_account(demo):
    with Session(demo) as session:
        account_id = session.exec(select(Account.id).where(Account.name == DECLINING_ACCOUNT)).one()
        reasons = session.exec(
            select(FollowUp.reasons).where(FollowUp.account_id == account_id, FollowUp.kind == "account")
        ).all()
    assert reasons.count("decline") == 1


def effect(effects, action, indicator):
    return next(e for e in effects if e.action == action and e.indicator == indicator)


def test_what_works_recovers_the_built_in_effect_of_business_reviews(demo):
    with Session(demo) as session:
        effects = what_works(session, NOW)
    review = effect(effects, "business_review", "commitment")
    estimate = review.estimate
    assert estimate is not None
    assert estimate.n >= 15
    print(f"review → commitment {estimate.value:+.1f} [{estimate.low:+.1f}, {estimate.high:+.1f}]")
    assert estimate.low <= REVIEW_EFFECT_100 <= estimate.high
    assert estimate.low > 0  # and it is told apart from no effect
    # Corrected for every action type and indicator shown, it still contains the built-in
    # value and is told apart from no effect.
    together = review.simultaneous
    print(f"  over all {review.comparisons} comparisons [{together.low:+.1f}, {together.high:+.1f}]")
    assert together.low <= REVIEW_EFFECT_100 <= together.high
    assert together.low > 0
    assert review.p_holm < 0.05
    assert "rose more after a business review" in review.sentence


@pytest.mark.parametrize("action", ["executive_visit", "fix_delivered", "commercial_concession"])
def test_an_action_without_a_built_in_effect_has_an_interval_containing_zero(demo, action):
    with Session(demo) as session:
        effects = what_works(session, NOW)
    estimate = effect(effects, action, "commitment").estimate
    assert estimate is not None
    assert estimate.n >= 5
    print(f"{action} → commitment {estimate.value:+.1f} [{estimate.low:+.1f}, {estimate.high:+.1f}]")
    assert estimate.low <= 0 <= estimate.high
    together = effect(effects, action, "commitment").simultaneous
    assert together.low <= 0 <= together.high


def test_every_effect_without_a_built_in_one_contains_zero_once_corrected(demo):
    with Session(demo) as session:
        effects = what_works(session, NOW)
    shown = [e for e in effects if e.simultaneous is not None]
    others = [e for e in shown if (e.action, e.indicator) != ("business_review", "commitment")]
    assert len(shown) == 30
    assert all(e.comparisons == len(shown) for e in shown)
    assert [e for e in others if e.simultaneous.excludes_zero] == []
    assert all(e.p_holm >= 0.05 for e in others)


def test_the_demo_logs_actions_of_every_type_but_none_for_the_declining_account(demo):
    with Session(demo) as session:
        kinds = set(session.exec(select(AccountAction.kind)).all())
        keller = session.exec(
            select(AccountAction.id)
            .join(Account, Account.id == AccountAction.account_id)
            .where(Account.name == DECLINING_ACCOUNT)
        ).all()
    assert kinds == {
        "business_review",
        "training",
        "executive_visit",
        "fix_delivered",
        "commercial_concession",
    }
    assert keller == []
