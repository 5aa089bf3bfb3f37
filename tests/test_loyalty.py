"""The loyalty rule (seed 004): above the base average on at least three of seven measures."""

import pandas as pd
import pytest
from scipy import stats
from sqlmodel import Session

from models.tables import Account
from survey.behaviour.loyalty import LoyaltyError, loyalty
from survey.people.access import Scope
from tests.factories import quarter_measures

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
            quarter_measures(
                account.id,
                "2026-Q3",
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


def test_segments_are_compared_with_the_rest_of_the_base_with_an_interval(session, base):
    segments = loyalty(session, "2026-Q3").segments.set_index("segment")
    assert list(segments.index) == ["A", "B", "Whole base"]
    assert segments.loc["A", "likely_loyal"] == 1.0
    assert segments.loc["B", "likely_loyal"] == 0.0
    assert segments.loc["Whole base", "accounts"] == 4
    # Segment A buys (900 + 100) / 2 = 500 against the rest's (100 + 100) / 2 = 100: 400% more;
    # never against a base that holds A itself.
    assert segments.loc["A", "better_monetary_volume"] == pytest.approx(400)
    assert (segments.loc["A", "n_monetary_volume"], segments.loc["A", "n_rest_monetary_volume"]) == (2, 2)
    # The interval is Welch's for the difference of means, in percent of the rest's mean.
    welch = stats.ttest_ind([10, 8], [1, 1], equal_var=False).confidence_interval(0.95)
    assert segments.loc["A", "better_sales_transactions"] == pytest.approx(800)
    assert segments.loc["A", "better_sales_transactions_low"] == pytest.approx(100 * welch.low)
    assert segments.loc["A", "better_sales_transactions_high"] == pytest.approx(100 * welch.high)
    # Fewer days is better: B's 60 days since purchase (Dent never bought: n = 1) against the
    # rest's (5 + 50) / 2 = 27.5 is worse; with one account there is no interval.
    assert segments.loc["B", "better_days_since_purchase"] == pytest.approx(-100 * (60 / 27.5 - 1))
    assert segments.loc["B", "n_days_since_purchase"] == 1
    assert pd.isna(segments.loc["B", "better_days_since_purchase_low"])
    # The whole base has nothing to be compared with.
    assert pd.isna(segments.loc["Whole base", "better_sales_transactions"])


def test_for_days_since_fewer_is_better_and_the_interval_turns_with_it(session, base):
    echo = Account(name="Echo", segment="B")
    session.add(echo)
    session.flush()
    session.add(
        quarter_measures(
            echo.id,
            "2026-Q3",
            sales_transactions=2,
            information_requests=1,
            positive_service_events=1,
            days_since_purchase=3,
            days_since_payment=20,
            monetary_volume=100.0,
        )
    )
    session.commit()
    segments = loyalty(session, "2026-Q3").segments.set_index("segment")
    # A pays after 40 and 40 days, the rest (Cord 10, Echo 20; Dent never paid) after 15:
    # A waits longer, so it is worse, and the interval of "better" is the difference's, turned.
    a = segments.loc["A"]
    assert a["better_days_since_payment"] == pytest.approx(-100 * (40 / 15 - 1))
    welch = stats.ttest_ind([40, 40], [10, 20], equal_var=False).confidence_interval(0.95)
    assert a["better_days_since_payment_low"] == pytest.approx(-100 * welch.high / 15)
    assert a["better_days_since_payment_high"] == pytest.approx(-100 * welch.low / 15)
    assert (
        a["better_days_since_payment_low"]
        <= a["better_days_since_payment"]
        <= a["better_days_since_payment_high"]
    )


def test_a_manager_sees_only_their_accounts_judged_against_the_whole_base(session, base):
    result = loyalty(session, "2026-Q3", scope=Scope.of_accounts([base["Bolt"]]))
    assert list(result.accounts["account"]) == ["Bolt"]
    assert result.accounts["above"].iloc[0] == 3  # the same as in the whole base
    assert result.segments.set_index("segment").loc["Whole base", "accounts"] == 4
