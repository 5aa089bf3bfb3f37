"""The Instrument versions page, for admins: draft, validate, publish."""

from sqlmodel import select

from models.tables import InstrumentVersion
from survey.instrument.definition import load_instrument
from tests.factories import team_app
from tests.test_instrument_versions import reworded


def open_page(db):
    at = team_app(db, role="admin").run()
    return at.switch_page("pages/instrument.py").run()


def button(at, label: str):
    [found] = [b for b in at.button if b.label == label]
    return found


def test_an_admin_publishes_a_version_2_with_one_reworded_statement(db):
    at = open_page(db)
    assert not at.exception
    assert list(at.dataframe[0].value["Version"]) == ["v1"]
    button(at, "Start a draft").click().run()
    assert "v2 is valid and can be published." in [s.value for s in at.success]

    # Reworded under the same code: refused, naming the statement.
    at.text_area[0].input(reworded(at.text_area[0].value, new_code=None)).run()
    button(at, "Save and validate").click().run()
    [warning] = at.warning
    assert "item SAT2: its de, en wording changed" in warning.value
    assert button(at, "Publish v2").disabled

    at.text_area[0].input(reworded(at.text_area[0].value, new_code="SAT5")).run()
    button(at, "Save and validate").click().run()
    button(at, "Publish v2").click().run()
    assert "Publish v2: done." in [s.value for s in at.success]
    assert list(at.dataframe[0].value["Version"]) == ["v1", "v2"]
    row = db.exec(select(InstrumentVersion)).one()
    assert (row.status, row.fingerprint) == ("published", load_instrument(2).fingerprint)
