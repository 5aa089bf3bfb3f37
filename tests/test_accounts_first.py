"""People in the account, value-level history, comments with keyword tags and RFM segments
(SQLite and PostgreSQL)."""

from datetime import date, timedelta

import numpy as np
import pytest
from sqlmodel import select

from models.tables import Account
from survey.accounts.health import account_health
from survey.accounts.people import people
from survey.accounts.profile import AccountError, median_level
from survey.accounts.values import (
    assess_value_level,
    assessment_history,
    customer_levels_by_quarter,
    disagreements,
    disagreements_among,
)
from survey.behaviour.rfm import accounts_in_segment, narrow_to_rfm, rfm_segments, segment_of
from survey.collecting.responses import submit
from survey.comments.listing import (
    CommentFilterError,
    CommentFilters,
    comments,
    counts_by_month,
    counts_by_touchpoint,
    export_frame,
)
from survey.comments.tags import TagRuleError, add_rule, list_rules, tags_of
from survey.exports.frames import frame_csv
from survey.people.access import Scope
from survey.reporting.filters import Filters, where
from tests.factories import answers_at, make_invitation, quarter_measures, respond


def account_id(session, name="Acme Tools") -> int:
    return session.exec(select(Account.id).where(Account.name == name)).one()


# --- People in the account -------------------------------------------------------------------


def test_each_contact_shows_their_own_strength_trend_and_silence(session, now):
    respond(session, now - timedelta(days=60), answers_at(dict.fromkeys(ALL, 7)), email="ana@acme.example")
    respond(session, now - timedelta(days=5), answers_at(dict.fromkeys(ALL, 4)), email="ana@acme.example")
    respond(session, now - timedelta(days=300), answers_at(dict.fromkeys(ALL, 7)), email="ben@acme.example")
    make_invitation(session, now, email="cy@acme.example")
    rows = {p.email: p for p in people(session, account_id(session), now)}
    ana, ben, cy = rows["ana@acme.example"], rows["ben@acme.example"], rows["cy@acme.example"]
    assert (ana.strength, ana.previous, ana.trend, ana.status) == (50.0, 100.0, -50.0, "cooling")
    assert (ben.strength, ben.days_silent, ben.status) == (100.0, 300, "gone quiet")
    assert (cy.strength, cy.status, cy.responses) == (None, "never answered", 0)


def test_an_anonymous_answer_is_never_attributed_to_its_contact(session, now):
    result, _ = make_invitation(session, now, email="ana@acme.example")
    submit(
        session,
        invitation_id=result.invitation_id,
        answers=answers_at(),
        locale="en",
        now=now,
        anonymous=True,
    )
    session.commit()
    [ana] = people(session, account_id(session), now)
    assert (ana.responses, ana.strength, ana.last_answered) == (0, None, None)


def test_people_of_another_managers_account_read_as_missing(session, now):
    respond(session, now)
    with pytest.raises(AccountError, match="there is no account"):
        people(session, account_id(session), now, scope=Scope.of_accounts([]))


ALL = ("satisfaction", "trust", "control_mutuality", "commitment", "mindset", "word_of_mouth")


# --- Value-level history ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "levels", [[0], [4, 0], [1, 1, 4], [0, 2, 3, 3], [4, 4, 4, 0, 0], [1, 2, 2, 3, 3, 3, 4, 0]]
)
def test_the_customers_level_is_the_median_category_never_a_mean(levels):
    distribution = {level: levels.count(level) for level in range(5)}
    # numpy's lower median of the answers themselves.
    assert median_level(distribution) == int(np.sort(levels)[(len(levels) - 1) // 2])
    assert median_level(dict.fromkeys(range(5), 0)) is None


def test_the_managers_level_is_kept_with_date_and_author_not_overwritten(session, now):
    respond(session, now - timedelta(days=100), answers_at(VALUE_LEVEL=1))
    respond(session, now - timedelta(days=10), answers_at(VALUE_LEVEL=2), email="bo@acme.example")
    acme = account_id(session)
    assess_value_level(session, acme, 4, author="maria", now=now - timedelta(days=30))
    assess_value_level(session, acme, 3, author="tom", now=now)
    session.commit()
    history = assessment_history(session, acme)
    assert [(h.level, h.author, h.assessed_at) for h in history] == [
        (3, "tom", now),
        (4, "maria", now - timedelta(days=30)),
    ]
    assert session.get(Account, acme).manager_value_level == 3
    quarters = customer_levels_by_quarter(session, acme, now)
    assert list(quarters["n"]) == [1, 1]
    assert list(quarters["median"]) == [1, 2]
    # Levels 1 and 2: the lower median is 1, a level someone chose (a mean would say 1.5).
    [gap] = disagreements(session, now)
    assert (gap.account, gap.manager, gap.customer_level, gap.gap) == ("Acme Tools", 3, 1, 2)
    assert disagreements(session, now, at_least=3) == []
    assert disagreements(session, now, scope=Scope.of_accounts([])) == []
    # My accounts lists them from its ranking's rows, which hold both levels: the same list.
    assert disagreements_among(session, account_health(session, now)) == [gap]
    assert disagreements_among(session, account_health(session, now), at_least=3) == []


def test_a_bad_level_or_missing_author_records_nothing(session, now):
    respond(session, now)
    acme = account_id(session)
    with pytest.raises(AccountError, match="manager value level 7"):
        assess_value_level(session, acme, 7, author="maria", now=now)
    with pytest.raises(AccountError, match="author"):
        assess_value_level(session, acme, 2, author=" ", now=now)
    session.rollback()
    assert assessment_history(session, acme) == []


# --- Comments and tags -----------------------------------------------------------------------


@pytest.fixture
def commented(session, now) -> None:
    respond(
        session,
        now - timedelta(days=3),
        answers_at({"trust": 7}, NPS=2, COMMENT="The delivery was LATE again."),
    )
    respond(session, now - timedelta(days=40), answers_at(NPS=10, COMMENT="Great training, thanks"),
            email="bo@acme.example", touchpoint="onboarding")  # fmt: skip
    formula = answers_at(NPS=9, COMMENT='=HYPERLINK("http://x") deliveries ok')
    respond(session, now - timedelta(days=2), formula, account="Globex", email="gus@globex.example")
    secret, _ = make_invitation(session, now, email="cy@acme.example")
    hidden = answers_at(COMMENT="late late late")
    submit(session, invitation_id=secret.invitation_id, answers=hidden, locale="en", now=now, anonymous=True)
    session.commit()
    add_rule(session, "Delivery", "late, deliver*", actor="admin", now=now)
    add_rule(session, "Training", ["training", "workshop"], actor="admin", now=now)
    session.commit()


def test_comments_carry_the_tags_of_matching_rules_and_never_the_anonymous_ones(session, commented):
    frame = comments(session)
    assert list(frame["comment"]) == [
        '=HYPERLINK("http://x") deliveries ok',
        "The delivery was LATE again.",
        "Great training, thanks",
    ]
    assert list(frame["tags"]) == [["Delivery"], ["Delivery"], ["Training"]]
    assert "late late late" not in set(frame["comment"])


def test_a_few_accounts_and_many_list_the_same_newest_comments(session, commented, now):
    # Six accounts: one is read through the index by account, four by walking the newest first.
    for number, name in enumerate(("Initech", "Umbrella", "Hooli", "Vandelay")):
        for day in range(3):
            said = answers_at(NPS=7, COMMENT=f"{name} {day}")
            when = now - timedelta(days=day * 7 + number)
            respond(session, when, said, account=name, email=f"p{day}@{name.lower()}.example")
    everything = comments(session)
    assert len(everything) == 3 + 4 * 3
    ids = {name: account_id(session, name) for name in ("Acme Tools", "Globex", "Initech", "Umbrella")}
    for chosen in (["Acme Tools"], ["Acme Tools", "Globex", "Initech", "Umbrella"]):
        scope = Scope.of_accounts([ids[name] for name in chosen])
        expected = everything[everything["account"].isin(chosen)].reset_index(drop=True)
        for listed in (
            comments(session, scope=scope),
            comments(session, CommentFilters(account_ids=tuple(ids[name] for name in chosen))),
        ):
            assert list(listed["response_id"]) == list(expected["response_id"])  # newest first
        newest = comments(session, scope=scope, limit=2)
        assert list(newest["response_id"]) == list(expected["response_id"][:2])


def test_comment_filters_narrow_the_list(session, commented, now):
    acme = account_id(session)
    assert len(comments(session, CommentFilters(account_ids=(acme,)))) == 2
    assert list(comments(session, CommentFilters(nps_groups=("detractor",)))["nps"]) == [2]
    assert list(comments(session, CommentFilters(tag="Training"))["touchpoint"]) == ["Onboarding"]
    recent = CommentFilters(start=(now - timedelta(days=10)).date(), end=now.date())
    assert len(comments(session, recent)) == 2
    # Trust 7 of 7 is 100 on 0-100 ("high"); the factory's 5 of 7 is 67 ("middle").
    high = comments(session, CommentFilters(indicator="trust", level="high"))
    assert list(high["comment"]) == ["The delivery was LATE again."]
    assert len(comments(session, CommentFilters(indicator="trust", level="middle"))) == 2
    assert set(comments(session, scope=Scope.of_accounts([acme]))["account"]) == {"Acme Tools"}


def test_counts_by_touchpoint_and_month_and_the_export_is_formula_safe(session, commented):
    frame = comments(session)
    table = counts_by_touchpoint(frame)
    assert table.loc["Delivery"].sum() == 2
    assert table.loc["Training", "Onboarding"] == 1
    assert counts_by_month(frame)["comments"].sum() == 3
    exported = frame_csv(export_frame(frame)).decode("utf-8-sig")
    assert "'=HYPERLINK" in exported
    assert "Delivery" in exported


@pytest.mark.parametrize(
    ("tag", "keywords", "message"),
    [
        ("", "late", "the tag is empty"),
        ("Delivery", "late", "exists already"),
        ("Speed", " , ", "no keywords"),
        ("Speed", "*", "needs letters or digits"),
        ("Speed", "fa*st", "with \\* only at its end"),
        ("x" * 61, "late", "more than the 60 allowed"),
    ],
)
def test_bad_tag_rules_are_refused_and_change_nothing(session, commented, now, tag, keywords, message):
    with pytest.raises(TagRuleError, match=message):
        add_rule(session, tag, keywords, actor="admin", now=now)
    session.rollback()
    assert [r.tag for r in list_rules(session)] == ["Delivery", "Training"]


def test_keywords_match_whole_words_and_phrases():
    from survey.comments.tags import TagRule

    rules = [TagRule(1, "Speed", ("response time", "slow*"), "a"), TagRule(2, "Late", ("late",), "a")]
    assert tags_of("Response  time was too long", rules) == ["Speed"]
    assert tags_of("Slowly getting better, not late", rules) == ["Speed", "Late"]
    assert tags_of("the latest release", rules) == []
    assert tags_of(None, rules) == []


def test_bad_comment_filters_are_named(session):
    with pytest.raises(CommentFilterError, match="unknown NPS group 'angry'"):
        comments(session, CommentFilters(nps_groups=("angry",)))
    with pytest.raises(CommentFilterError, match="starts"):
        comments(session, CommentFilters(start=date(2026, 2, 1), end=date(2026, 1, 1)))


# --- RFM segments ----------------------------------------------------------------------------


def test_rfm_segments_score_tertiles_against_the_whole_base(session, now):
    measures = {
        # account: (days since purchase, sales, volume)
        "Alpha": (5, 30, 90_000.0),
        "Bravo": (10, 20, 50_000.0),
        "Charlie": (400, 25, 70_000.0),
        "Delta": (300, 1, 1_000.0),
        "Echo": (2, 1, 2_000.0),
        "Foxtrot": (None, 0, 0.0),
    }
    for name, (days, sales, volume) in measures.items():
        respond(session, now, account=name, email=f"x@{name.lower()}.example")
        session.add(
            quarter_measures(
                account_id(session, name),
                "2026-Q3",
                sales_transactions=sales,
                days_since_purchase=days,
                days_since_payment=days,
                monetary_volume=volume,
            )
        )
    session.commit()
    frame = rfm_segments(session)
    segments = dict(zip(frame["account"], frame["segment"], strict=True))
    assert segments == {
        "Alpha": "Champions",
        "Bravo": "Loyal",
        "Charlie": "At risk",
        "Delta": "Needs attention",
        "Echo": "New or returning",
        "Foxtrot": "Hibernating",
    }
    # Ranks worst to best, 1 + floor(3 (rank - 1) / 6): never bought ranks worst on recency.
    scores = frame.set_index("account")[["recency", "frequency", "monetary"]]
    assert scores.loc["Foxtrot"].tolist() == [1, 1, 1]
    assert scores.loc["Delta"].tolist() == [2, 1, 1]
    assert scores.loc["Charlie"].tolist() == [1, 3, 3]
    alpha = account_id(session, "Alpha")
    assert accounts_in_segment(session, "Champions") == (alpha,)
    assert accounts_in_segment(session, "Champions", scope=Scope.of_accounts([])) == ()
    with pytest.raises(ValueError, match="unknown RFM segment 'VIP'"):
        accounts_in_segment(session, "VIP")
    # As a dashboard filter the segment becomes its accounts, like a manager's scope.
    bravo = account_id(session, "Bravo")
    assert narrow_to_rfm(session, Filters(rfm_segments=("Champions", "Loyal"))) == Filters(
        account_ids=(alpha, bravo)
    )
    assert narrow_to_rfm(session, Filters(account_ids=(bravo,), rfm_segments=("Champions",))) is None
    with pytest.raises(ValueError, match="narrow them with narrow_to_rfm"):
        where(Filters(rfm_segments=("Loyal",)), lambda name: Account.id)


def test_rfm_rules():
    assert segment_of(3, 3, 1) == "Champions"
    assert segment_of(2, 3, 1) == "Needs attention"
    assert segment_of(2, 2, 2) == "Loyal"


def test_the_response_export_carries_each_comments_tags(session, commented, tmp_path):
    import pandas as pd

    from survey.exports.writers import export

    out = tmp_path / "responses.csv"
    export(session, "csv", out)
    frame = pd.read_csv(out).set_index("COMMENT")
    assert frame.loc["The delivery was LATE again.", "comment_tags"] == "Delivery"
    assert frame.loc["Great training, thanks", "comment_tags"] == "Training"
    # The anonymous comment was removed from sight elsewhere; in the export it is tagged but unnamed.
    assert pd.isna(frame.loc["late late late", "contact_name"])
