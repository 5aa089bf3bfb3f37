"""The Users page, through AppTest: an admin adds, changes, disables and unlocks users, and
every change is really stored (the page's unit of work commits, not the domain functions)."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from models.tables import Account, AuditEvent, User
from survey.people.users import SignInError, add_user, authenticate
from tests.factories import PASSWORD, make_user, respond, team_app

NEW_PASSWORD = "a much longer secret"


def stored(db: Session, username: str) -> User:
    """The user as the database holds it, read through a session of its own."""
    with Session(db.get_bind(), expire_on_commit=False) as fresh:
        return fresh.exec(select(User).where(User.username == username)).one()


def audited(db: Session, action: str) -> list[tuple[str, str]]:
    with Session(db.get_bind()) as fresh:
        events = fresh.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [(e.actor, e.detail) for e in events.all()]


def users_page(db: Session, role: str = "admin") -> AppTest:
    at = team_app(db, role=role).run()
    return at.switch_page("pages/users.py").run()


def shown_users(at: AppTest) -> dict[str, tuple[str, bool, str]]:
    frame = at.dataframe[0].value
    return {row["User"]: (row["Role"], bool(row["Active"]), row["Password"]) for _, row in frame.iterrows()}


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def add_through_form(at: AppTest, username: str, role: str, password: str, email: str = "") -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input("Tom Baker")
    at.text_input[2].input(email)
    role_box = next(s for s in at.selectbox if s.key is None and s.label == "Role")
    role_box.set_value(role)
    at.text_input[3].input(password)
    return button(at, "Add user").click().run()


def test_the_page_lists_every_user_and_the_account_owners_without_one(db):
    make_user(db, "maria", "manager", email="maria@pulse.example")
    add_user(db, "sso.sam", "analyst", password=None, email="sam@pulse.example", actor="test")
    db.commit()
    respond(db, datetime.now(UTC) - timedelta(days=3), account="Globex")
    globex = db.exec(select(Account).where(Account.name == "Globex")).one()
    globex.owner = "tom"
    db.add(globex)
    db.commit()
    at = users_page(db)
    assert not at.exception
    assert at.title[0].value == "Users"
    assert shown_users(at) == {
        "admin": ("admin", True, "set"),
        "maria": ("manager", True, "set"),
        "sso.sam": ("analyst", True, "single sign-on only"),
    }
    assert any(c.value.endswith("(add them as managers): tom") for c in at.caption)


def test_an_added_user_is_stored_and_can_sign_in(db, now):
    at = users_page(db)
    at = add_through_form(at, " Tom ", "manager", PASSWORD, email="Tom@Pulse.example")
    assert not at.exception
    assert [s.value for s in at.success] == ["Add tom: done."]
    assert not at.error
    assert shown_users(at)["tom"] == ("manager", True, "set")
    tom = stored(db, "tom")
    assert (tom.role, tom.display_name, tom.email, tom.active) == (
        "manager",
        "Tom Baker",
        "tom@pulse.example",
        True,
    )
    with Session(db.get_bind()) as fresh:
        assert authenticate(fresh, "tom", PASSWORD, now=now).role == "manager"
    assert audited(db, "user_added")[-1] == ("admin", "tom as manager")


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("maria", PASSWORD, "Add maria: user 'maria' already exists. Nothing was changed."),
        ("tom", "short", "Add tom: the password must have at least 10 characters. Nothing was changed."),
        ("tom", "", "Add tom: a user needs a password or an email for single sign-on. Nothing was changed."),
    ],
    ids=["existing name", "short password", "neither password nor email"],
)
def test_a_refused_new_user_says_why_and_stores_nothing(db, username, password, message):
    make_user(db, "maria", "manager")
    at = users_page(db)
    at = add_through_form(at, username, "analyst", password)
    assert [e.value for e in at.error] == [message]
    assert not at.success
    with Session(db.get_bind()) as fresh:
        assert fresh.exec(select(User.username).order_by(User.username)).all() == ["admin", "maria"]
    assert stored(db, "maria").role == "manager"
    assert [actor for actor, _ in audited(db, "user_added")] == ["test", "test"]


def test_a_new_role_is_stored(db):
    make_user(db, "maria", "manager")
    at = users_page(db)
    at.selectbox(key="user_to_change").select("maria").run()
    at.selectbox(key="new_role_maria_manager").select("analyst").run()
    at = button(at, "Save role").click().run()
    assert [s.value for s in at.success] == ["Role of maria: done."]
    assert stored(db, "maria").role == "analyst"
    assert shown_users(at)["maria"][0] == "analyst"
    assert audited(db, "user_changed") == [("admin", "maria: role manager -> analyst")]


def test_disabling_and_enabling_a_user_is_stored(db):
    make_user(db, "maria", "manager")
    at = users_page(db)
    at.selectbox(key="user_to_change").select("maria").run()
    at = button(at, "Disable maria").click().run()
    assert [s.value for s in at.success] == ["Disable maria: done."]
    assert stored(db, "maria").active is False
    assert shown_users(at)["maria"][1] is False
    at = button(at, "Enable maria").click().run()
    assert [s.value for s in at.success] == ["Enable maria: done."]
    assert stored(db, "maria").active is True
    assert audited(db, "user_changed") == [("admin", "maria: disabled"), ("admin", "maria: enabled")]


def test_a_new_password_is_stored_and_lifts_a_lock_out(db):
    make_user(db, "maria", "manager")
    for _ in range(5):
        with pytest.raises(SignInError):
            authenticate(db, "maria", "guess guess guess", now=datetime.now(UTC))
        db.commit()
    at = users_page(db)
    locked = at.dataframe[0].value.set_index("User")["Locked until"]
    assert locked["maria"] > datetime.now(UTC)
    assert pd.isna(locked["admin"])
    at.selectbox(key="user_to_change").select("maria").run()
    at.text_input(key="new_pw_maria").input("too short").run()
    at = button(at, "Set password").click().run()
    assert [e.value for e in at.error] == [
        "Password of maria: the password must have at least 10 characters. Nothing was changed."
    ]
    at.text_input(key="new_pw_maria").input(NEW_PASSWORD).run()
    at = button(at, "Set password").click().run()
    assert [s.value for s in at.success] == ["Password of maria: done."]
    assert at.text_input(key="new_pw_maria").value == ""  # used: not one click from the next user
    assert button(at, "Set password").disabled
    assert pd.isna(at.dataframe[0].value.set_index("User")["Locked until"]["maria"])
    with Session(db.get_bind()) as fresh:
        assert authenticate(fresh, "maria", NEW_PASSWORD, now=datetime.now(UTC)).username == "maria"
    with Session(db.get_bind()) as fresh, pytest.raises(SignInError, match="Wrong user name or password"):
        authenticate(fresh, "maria", PASSWORD, now=datetime.now(UTC))


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(db):
    make_user(db, "maria", "manager")
    at = users_page(db)
    assert at.selectbox(key="user_to_change").value == "admin"
    at = button(at, "Disable admin").click().run()
    assert [e.value for e in at.error] == [
        "Disable admin: the last active admin cannot be disabled. Nothing was changed."
    ]
    at.selectbox(key="new_role_admin_admin").select("manager").run()
    at = button(at, "Save role").click().run()
    assert [e.value for e in at.error] == [
        "Role of admin: the last active admin must stay an admin. Nothing was changed."
    ]
    admin = stored(db, "admin")
    assert (admin.role, admin.active) == ("admin", True)
    assert audited(db, "user_changed") == []
    assert shown_users(at)["admin"] == ("admin", True, "set")


def test_choosing_another_user_shows_their_own_role(db):
    make_user(db, "maria", "manager")
    at = users_page(db)
    assert at.selectbox(key="new_role_admin_admin").value == "admin"
    at.selectbox(key="user_to_change").select("maria").run()
    # Her own role, with nothing to save: one click could not make her an admin.
    assert at.selectbox(key="new_role_maria_manager").value == "manager"
    assert button(at, "Save role").disabled


def test_a_new_user_is_offered_the_least_role_first(db):
    at = users_page(db)
    assert next(s for s in at.selectbox if s.key is None and s.label == "Role").value == "analyst"


def test_a_password_typed_for_one_user_is_not_offered_for_the_next(db):
    make_user(db, "maria", "manager")
    at = users_page(db)
    at.selectbox(key="user_to_change").select("maria").run()
    at.text_input(key="new_pw_maria").input(NEW_PASSWORD).run()
    at.selectbox(key="user_to_change").select("admin").run()
    assert at.text_input(key="new_pw_admin").value == ""
    assert button(at, "Set password").disabled
