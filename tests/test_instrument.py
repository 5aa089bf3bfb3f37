import copy
from pathlib import Path

import pytest
import yaml

from survey.instrument.definition import (
    INSTRUMENTS_DIR,
    InstrumentError,
    load_instrument,
    load_instrument_file,
    parse_instrument,
)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((INSTRUMENTS_DIR / "v1.yaml").read_text(encoding="utf-8"))


def test_the_shipped_instrument_has_six_indicators_of_three_to_five_items():
    instrument = load_instrument()
    assert [i.code for i in instrument.indicators] == [
        "satisfaction",
        "trust",
        "control_mutuality",
        "commitment",
        "mindset",
        "word_of_mouth",
    ]
    for indicator in instrument.indicators:
        items = instrument.indicator_items(indicator.code)
        assert 3 <= len(items) <= 5
        assert any(item.reverse for item in items), f"{indicator.code} has no reverse-keyed item"
        assert instrument.leader_item(indicator.code).kind == "agree"


def test_trust_covers_honesty_reliability_and_competence():
    facets = {item.facet for item in load_instrument().indicator_items("trust")}
    assert facets == {"honesty", "reliability", "competence"}


def test_word_of_mouth_carries_the_stay_item_and_nps_is_zero_to_ten():
    instrument = load_instrument()
    assert instrument.item("WOM4").role == "stay"
    assert instrument.item("WOM4").indicator == "word_of_mouth"
    nps = instrument.item("NPS")
    assert nps.required
    scale = instrument.scale_for(nps)
    assert (scale.min, scale.max) == (0, 10)


def test_closing_questions_are_present():
    instrument = load_instrument()
    assert sorted(instrument.item("VALUE_LEVEL").options) == [0, 1, 2, 3, 4]
    assert set(instrument.item("MOMENT").options) == {
        "delighted",
        "as_expected",
        "disappointed",
        "frustrated",
    }
    assert instrument.item("COMMENT").max_length == 2000


def test_every_text_exists_in_english_german_and_french():
    instrument = load_instrument()
    assert instrument.languages == ("en", "de", "fr")
    for item in instrument.items:
        assert len({item.text["en"], item.text["de"], item.text["fr"]}) == 3, item.code


def test_a_duplicate_item_code_is_named(raw):
    raw["items"][1]["code"] = "SAT1"
    with pytest.raises(InstrumentError, match="item code 'SAT1' is used twice"):
        parse_instrument(raw)


def test_a_missing_translation_is_named(raw):
    del raw["items"][5]["text"]["de"]
    with pytest.raises(InstrumentError, match="item TRU2 text has no de text"):
        parse_instrument(raw)


def test_a_missing_ui_translation_is_named(raw):
    raw["ui"]["next"]["de"] = "  "
    with pytest.raises(InstrumentError, match="ui text next has no de text"):
        parse_instrument(raw)


def test_an_indicator_without_items_is_named(raw):
    broken = copy.deepcopy(raw)
    broken["items"] = [i for i in raw["items"] if i.get("indicator") != "mindset"]
    for section in broken["sections"]:
        section["items"] = [c for c in section["items"] if not c.startswith("MIN")]
    with pytest.raises(InstrumentError, match="indicator mindset has 0 items; it needs 3 to 5"):
        parse_instrument(broken)


def test_an_item_left_out_of_every_section_is_named(raw):
    raw["sections"][0]["items"].remove("SAT3")
    with pytest.raises(InstrumentError, match="item SAT3 must appear in exactly one section"):
        parse_instrument(raw)


def test_an_unknown_indicator_reference_is_named(raw):
    raw["items"][0]["indicator"] = "happiness"
    with pytest.raises(InstrumentError, match="item SAT1 names unknown indicator 'happiness'"):
        parse_instrument(raw)


def test_a_schema_error_names_its_location(raw):
    raw["items"][0]["kind"] = "slider"
    with pytest.raises(InstrumentError, match=r"items\.0\.kind"):
        parse_instrument(raw)


def test_bad_yaml_is_reported_with_the_file_name(tmp_path: Path):
    path = tmp_path / "v9.yaml"
    path.write_text("items: [unclosed", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"v9\.yaml: not valid YAML"):
        load_instrument_file(path)


def test_an_unknown_version_is_refused():
    with pytest.raises(InstrumentError, match="instrument version 99 does not exist"):
        load_instrument(99)
