"""The loyalty rule (seed 004): above the base average on at least three of seven measures."""

from datetime import date

import pytest
from sqlmodel import Session

from models.tables import Account, TransactionMeasure
from survey.behaviour.loyalty import LoyaltyError, loyalty
from survey.people.access import Scope

# sales, requests, service, referrals, days since purchase, days since payment, volume
BEHAVIOUR = {
    # Above average on sales, requests, volume and (fewer) days since purchase: 4 -> loyal.
    "Acme": ("A", (10, 5, 1, 0, 5, 40, 900.0)),
    # Above average on exactly three: sales, service, referrals -> loyal.
    "Bolt": ("A", (8, 1, 6, 2, 50, 40, 100.0)),
    # Above on two: requests and (fewer) days since payment -> not loyal.
    "Cord": ("B", (1, 5, 1, 0, 60, 10, 100.0)),
    # Never bought or paid: the empty days are never above average.
    "Dent": ("B", (1, 1, 1, 0, None, None, 100.0)),
}
# Means: sales 5, requests 3, service 2.25, referrals 0.5, days purchase 38.3, payment 30, volume 300.


@pytest.fixture
def base(session: Session) -> dict[str, int]:
    ids = {}
    for name, (segment, values) in BEHAVIOUR.items():
        account = Account(name=name, segment=segment)
        session.add(account)
        session.flush()
        ids[name] = account.id
        sales, requests, service, referrals, purchase, payment, volume = values
        session.add(
            TransactionMeasure(
                account_id=account.id,
                period="2026-Q3",
                period_start=date(2026, 7, 1),
                period_end=date(2026, 9, 30),
                sales_transactions=sales,
                information_requests=requests,
                positive_service_events=service,
                referral_sales=referrals,
                days_since_purchase=purchase,
                days_since_payment=payment,
                monetary_volume=volume,
            )
        )
    session.commit()
    return ids


def by_name(result) -> dict:
    return {row["account"]: row for _, row in result.accounts.iterrows()}


def test_three_measures_above_the_base_average_make_an_account_likely_loyal(session, base):
    result = loyalty(session, "2026-Q3")
    rows = by_name(result)
    assert {name: row["above"] for name, row in rows.items()} == {"Acme": 4, "Bolt": 3, "Cord": 2, "Dent": 0}
    assert {name for name, row in rows.items() if row["likely_loyal"]} == {"Acme", "Bolt"}
    assert rows["Acme"]["above_days_since_purchase"]  # 5 days is fewer than the mean 38: better
    assert not rows["Bolt"]["above_days_since_purchase"]
    assert rows["Cord"]["above_days_since_payment"]
    assert not rows["Dent"]["above_days_since_payment"]  # never paid
    assert result.base["monetary_volume"].mean == pytest.approx(300)
    assert result.base["days_since_purchase"].n == 3  # the empty one is not averaged
    assert list(result.accounts["account"][:2]) == ["Acme", "Bolt"]  # loyal first


def test_the_threshold_and_the_weights_are_configurable(session, base):
    assert by_name(loyalty(session, "2026-Q3", likely_loyal_at=4))["Bolt"]["likely_loyal"] == False  # noqa: E712
    only_volume = loyalty(session, "2026-Q3", weights=dict.fromkeys(
        ["sales_transactions", "information_requests", "positive_service_events", "referral_sales",
         "days_since_purchase", "days_since_payment"], 0.0))  # fmt: skip
    scores = {name: row["score"] for name, row in by_name(only_volume).items()}
    # Volume alone: Acme 900 against a mean of 300 and a sample sd of 400 -> z = 1.5.
    assert scores["Acme"] == pytest.approx(1.5)
    assert scores["Bolt"] == pytest.approx(-0.5)
    assert (
        by_name(loyalty(session, "2026-Q3"))["Dent"]["score"]
        < by_name(loyalty(session, "2026-Q3"))["Cord"]["score"]
    )  # never bought counts as the worst on the days measures


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": {"happiness": 1.0}}, "unknown measure"),
        ({"weights": {"monetary_volume": -1.0}}, "0 or more"),
        ({"likely_loyal_at": 8}, "1 to 7"),
    ],
)
def test_bad_settings_are_refused(session, base, kwargs, message):
    with pytest.raises(LoyaltyError, match=message):
        loyalty(session, "2026-Q3", **kwargs)


def test_segments_are_compared_with_the_whole_base(session, base):
    segments = loyalty(session, "2026-Q3").segments.set_index("segment")
    assert list(segments.index) == ["A", "B", "Whole base"]
    assert segments.loc["A", "likely_loyal"] == 1.0
    assert segments.loc["B", "likely_loyal"] == 0.0
    assert segments.loc["Whole base", "accounts"] == 4
    # Segment A sells (10 + 8) / 2 = 9 against 5 in the base: 80% better.
    assert segments.loc["A", "better_sales_transactions"] == pytest.approx(80)
    # Fewer days is better: B's 60 days since purchase against 38.3 is worse (negative).
    assert segments.loc["B", "better_days_since_purchase"] < 0


def test_a_manager_sees_only_their_accounts_judged_against_the_whole_base(session, base):
    result = loyalty(session, "2026-Q3", scope=Scope.of_accounts([base["Bolt"]]))
    assert list(result.accounts["account"]) == ["Bolt"]
    assert result.accounts["above"].iloc[0] == 3  # the same as in the whole base
    assert result.segments.set_index("segment").loc["Whole base", "accounts"] == 4
