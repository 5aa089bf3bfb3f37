"""The Touchpoints page, for admins."""

from sqlmodel import select

from models.tables import Touchpoint
from tests.factories import team_app


def open_page(db):
    at = team_app(db, role="admin").run()
    return at.switch_page("pages/touchpoints.py").run()


def test_an_admin_adds_a_touchpoint_and_sees_it_listed(db):
    at = open_page(db)
    assert not at.exception
    at.text_input[0].input("Technology implementation")
    at.text_input[1].input("implementation")
    at.selectbox(key="new_rule").set_value("checkup")
    at.button[0].click().run()
    assert "Add Technology implementation: done." in [s.value for s in at.success]
    added = db.exec(select(Touchpoint).where(Touchpoint.code == "implementation")).one()
    assert (added.name, added.form_rule) == ("Technology implementation", "checkup")
    shown = at.dataframe[0].value
    assert "Technology implementation" in list(shown["Name"])


def test_a_bad_code_is_named_and_nothing_is_added(db):
    at = open_page(db)
    at.text_input[0].input("Training")
    at.text_input[1].input("2training")
    at.button[0].click().run()
    [error] = at.error
    assert "code '2training' must start with a letter" in error.value
    assert "Nothing was changed." in error.value
    assert db.exec(select(Touchpoint).where(Touchpoint.name == "Training")).first() is None


def test_an_admin_retires_a_touchpoint(db):
    at = open_page(db)
    at.selectbox[1].set_value("marketing").run()
    [retire] = [b for b in at.button if b.label == "Retire Marketing"]
    retire.click().run()
    db.expire_all()
    assert db.exec(select(Touchpoint.active).where(Touchpoint.code == "marketing")).one() is False
    assert "retired" in at.dataframe[0].value.set_index("Code").loc["marketing", "Status"]
