"""The comments page, through AppTest: comments in scope as plain text, admin keyword rules, counts."""

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models.tables import Account, CommentTagRule
from survey.collecting.responses import submit
from tests.factories import answers_at, make_invitation, respond, team_app


def book(db) -> None:
    now = datetime.now(UTC)
    respond(
        db,
        now - timedelta(days=3),
        answers_at(NPS=2, COMMENT="Delivery was **late** [again](http://evil.example)"),
    )
    lovely = answers_at(NPS=9, COMMENT="Lovely onboarding")
    respond(db, now - timedelta(days=2), lovely, email="bo@acme.example", touchpoint="onboarding")
    respond(db, now - timedelta(days=1), answers_at(COMMENT="Globex is late too"), account="Globex",
            email="gus@globex.example")  # fmt: skip
    secret, _ = make_invitation(db, now, email="cy@acme.example")
    hidden = answers_at(COMMENT="Secret words")
    submit(db, invitation_id=secret.invitation_id, answers=hidden, locale="en", now=now, anonymous=True)
    db.commit()
    for account in db.exec(select(Account)).all():
        account.owner = "maria" if account.name == "Acme Tools" else "tom"
        db.add(account)
    db.commit()


def open_page(db, role="admin", username=None) -> AppTest:
    at = team_app(db, role=role, username=username).run()
    at.switch_page("pages/comments.py").run()
    assert not at.exception
    return at


def listed(at: AppTest):
    return next(f.value for f in at.dataframe if "comment" in f.value.columns)


def test_comments_are_listed_as_text_and_never_the_anonymous_ones(db):
    book(db)
    at = open_page(db)
    comments = listed(at)
    assert list(comments["comment"]) == [
        "Globex is late too",
        "Lovely onboarding",
        "Delivery was **late** [again](http://evil.example)",
    ]
    assert "Secret words" not in " ".join(m.value for m in at.markdown)


def test_an_admin_adds_a_rule_and_comments_carry_its_tag_with_counts(db):
    book(db)
    at = open_page(db)
    at.text_input(key="rule_tag").input("Delivery")
    at.text_input(key="rule_keywords").input("late, deliver*")
    at.button[[b.label for b in at.button].index("Add rule")].click().run()
    assert not at.exception
    assert "Added the tag 'Delivery'." in at.success[0].value
    comments = listed(at)
    assert list(comments["tags"]) == ["Delivery", "", "Delivery"]
    counts = next(f.value for f in at.dataframe if "Delivery" in f.value.index)
    assert counts.loc["Delivery"].sum() == 2
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {trace["name"] for trace in figure["data"]} == {"Delivery", "(no tag)"}
    at.selectbox(key="cm_tag").set_value("Delivery").run()
    assert len(listed(at)) == 2


def test_a_bad_rule_is_named_and_adds_nothing(db):
    book(db)
    at = open_page(db)
    at.text_input(key="rule_tag").input("Speed")
    at.text_input(key="rule_keywords").input(" , ")
    at.button[[b.label for b in at.button].index("Add rule")].click().run()
    assert "the rule has no keywords" in at.error[0].value
    assert db.exec(select(CommentTagRule)).all() == []


def test_a_manager_sees_only_their_accounts_comments_and_cannot_edit_rules(db):
    book(db)
    at = open_page(db, role="manager", username="maria")
    assert set(listed(at)["account"]) == {"Acme Tools"}
    assert "Add rule" not in [b.label for b in at.button]


def test_filters_narrow_the_comments(db):
    book(db)
    at = open_page(db)
    at.multiselect(key="cm_nps").set_value(["detractor"]).run()
    assert list(listed(at)["nps"]) == [2]
