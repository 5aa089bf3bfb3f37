"""The Instrument versions page, for admins: draft, validate, publish."""

from sqlmodel import select

from models.tables import InstrumentVersion
from survey.instrument.definition import load_instrument
from tests.factories import team_app
from tests.test_instrument_versions import NEXT, reworded


def open_page(db):
    at = team_app(db, role="admin").run()
    return at.switch_page("pages/instrument.py").run()


def button(at, label: str):
    [found] = [b for b in at.button if b.label == label]
    return found


def test_an_admin_publishes_a_new_version_with_one_reworded_statement(db):
    at = open_page(db)
    assert not at.exception
    published = [f"v{v}" for v in range(1, NEXT)]
    assert list(at.dataframe[0].value["Version"]) == published
    button(at, "Start a draft").click().run()
    assert f"v{NEXT} is valid and can be published." in [s.value for s in at.success]

    # Reworded under the same code: refused, naming the statement.
    at.text_area[0].input(reworded(at.text_area[0].value, new_code=None)).run()
    button(at, "Save and validate").click().run()
    [warning] = at.warning
    assert "item SAT2: its de, en, fr wording changed" in warning.value
    assert button(at, f"Publish v{NEXT}").disabled

    at.text_area[0].input(reworded(at.text_area[0].value, new_code="SAT5")).run()
    button(at, "Save and validate").click().run()
    button(at, f"Publish v{NEXT}").click().run()
    assert f"Publish v{NEXT}: done." in [s.value for s in at.success]
    assert list(at.dataframe[0].value["Version"]) == [*published, f"v{NEXT}"]
    row = db.exec(select(InstrumentVersion)).one()
    assert (row.status, row.fingerprint) == ("published", load_instrument(NEXT).fingerprint)
