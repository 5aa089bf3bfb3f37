"""What predicts what: correlations of this period's scores with next period's behaviour."""

from datetime import UTC, date, datetime

import numpy as np
import pingouin as pg
import pytest
from sqlmodel import Session, select

from models.tables import Account, TransactionMeasure
from survey.behaviour.predictors import period_scores, predictions, strongest
from survey.instrument.definition import load_instrument
from survey.people.access import Scope
from tests.factories import answers_at, respond

LABELS = {indicator.code: indicator.label["en"] for indicator in load_instrument().indicators}
ACCOUNTS = 24
Q2 = ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))
Q3 = ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30))


def commitment_of(number: int) -> int:
    return 1 + number % 7


def sales_after(number: int) -> int:
    # A known link: two more sales per scale point of commitment, plus a fixed wobble.
    return 2 * commitment_of(number) + (3, 0, 5, 1)[number % 4]


def measure(account_id: int, period: tuple, sales: int, volume: float) -> TransactionMeasure:
    name, start, end = period
    return TransactionMeasure(
        account_id=account_id, period=name, period_start=start, period_end=end,
        sales_transactions=sales, information_requests=0, positive_service_events=0, referral_sales=0,
        monetary_volume=volume,
    )  # fmt: skip


@pytest.fixture
def linked(session: Session) -> list[int]:
    ids = []
    for number in range(ACCOUNTS):
        name = f"Account {number:02d}"
        # The last moment of Q2 still belongs to Q2.
        when = datetime(2026, 6, 30, 23, 59, tzinfo=UTC) if number == 0 else datetime(2026, 5, 10, tzinfo=UTC)
        respond(session, when, answers_at({"commitment": commitment_of(number)}), account=name,
                email=f"p{number}@x.example", touchpoint=("delivery", "service")[number % 2])  # fmt: skip
        account = session.exec(select(Account).where(Account.name == name)).one()
        account.segment = ("North", "South")[number % 2]
        session.add(account)
        sales = sales_after(number)
        session.add(measure(account.id, Q2, 5, 500.0))
        session.add(measure(account.id, Q3, sales, 100.0 * sales))
        ids.append(account.id)
    # A Q3 response has no following period: it must not become a pair.
    first_of_july = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    respond(
        session, first_of_july, answers_at({"commitment": 1}), account="Account 00", email="late@x.example"
    )
    session.commit()
    return ids


def row(table, kind, group, indicator, outcome):
    rows = table[
        (table["kind"] == kind)
        & (table["group"] == group)
        & (table["indicator"] == indicator)
        & (table["outcome"] == outcome)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def test_the_known_link_is_found_with_its_interval(session, linked):
    result = predictions(session, min_n=5, labels=LABELS)
    assert result.grain == "quarter"
    assert result.pairs == ACCOUNTS
    found = row(result.table, "all", "All accounts", "commitment", "sales_transactions")
    x = [commitment_of(n) for n in range(ACCOUNTS)]
    y = [sales_after(n) for n in range(ACCOUNTS)]
    expected = pg.corr(x, y)
    assert found["n"] == ACCOUNTS
    assert found["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert (found["low"], found["high"]) == tuple(expected["CI95"].iloc[0])
    assert found["claim"]
    # Above the median commitment (5, 6, 7) against at or below it (1..4).
    above = np.mean([s for c, s in zip(x, y, strict=True) if c > np.median(x)])
    below = np.mean([s for c, s in zip(x, y, strict=True) if c <= np.median(x)])
    more = 100 * (above / below - 1)
    assert found["reading"].startswith(
        f"Accounts with commitment above the median bought {more:.0f}% more the next quarter"
    )
    assert f"n = {ACCOUNTS})" in found["reading"]
    assert "95% CI" in found["reading"]
    volume = row(result.table, "all", "All accounts", "commitment", "monetary_volume")
    assert volume["r"] == pytest.approx(found["r"])  # volume is 100 x sales here
    assert "spent" in volume["reading"]


def test_indicators_without_variation_or_enough_pairs_make_no_claim(session, linked):
    table = predictions(session, min_n=5, labels=LABELS).table
    flat = row(table, "all", "All accounts", "trust", "sales_transactions")
    assert not flat["shown"]
    assert flat["reading"] == f"No variation to relate (n = {ACCOUNTS})"
    retained = row(table, "all", "All accounts", "commitment", "retained")  # everyone bought again
    assert not retained["shown"]
    suppressed = predictions(session, min_n=30, labels=LABELS).table
    small = row(suppressed, "all", "All accounts", "commitment", "sales_transactions")
    assert not small["shown"]
    assert np.isnan(small["r"])
    assert small["reading"] == "Too few account-quarters to say (n = 24, at least 30 needed)"


def test_by_segment_and_by_touchpoint(session, linked):
    table = predictions(session, min_n=5, labels=LABELS).table
    north = row(table, "segment", "North", "commitment", "sales_transactions")
    assert north["n"] == ACCOUNTS // 2
    assert row(table, "touchpoint", "Service call", "commitment", "sales_transactions")["n"] == ACCOUNTS // 2
    best = strongest(table, "sales_transactions")
    assert not best.empty
    assert set(best["indicator"]) == {"commitment"}
    assert best["r"].is_monotonic_decreasing


def test_scores_are_summed_per_period_in_the_database(session, linked):
    scores = period_scores(session)
    q2 = scores[(scores["period"] == "2026-Q2") & (scores["indicator"] == "commitment")]
    assert q2["n"].sum() == ACCOUNTS  # the 23:59 answer is in, the 1 July one is not
    q3 = scores[(scores["period"] == "2026-Q3") & (scores["indicator"] == "commitment")]
    assert q3["n"].sum() == 1


def test_a_manager_scope_limits_the_pairs(session, linked):
    result = predictions(session, min_n=5, labels=LABELS, scope=Scope.of_accounts(linked[:6]))
    assert result.pairs == 6
