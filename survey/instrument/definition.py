"""The survey instrument: a versioned data file, validated on load.

Each version lives in ``survey/instrument/versions/v<N>.yaml``. Loading checks what the
scoring and the survey page rely on and fails with a message naming the bad entry.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "versions"
ITEMS_PER_INDICATOR = (3, 5)
AGREE_SCALE = "agree7"
LIKELY_SCALE = "likely11"

Text = dict[str, str]

# Like for like: each leader rating statement and our own statement with the same content, by
# indicator. A respondent who rates the leader also rated us on the matching statement, so the
# two ratings are a pair (survey.reporting.gaps). Word of mouth is the weakest match: the
# leader's statement asks what people in the field say, ours what the respondent says.
LEADER_COUNTERPARTS: dict[str, str] = {
    "satisfaction": "SAT1",  # worth what it costs
    "trust": "TRU3",  # keeps its promises
    "control_mutuality": "CTL1",  # a real say
    "commitment": "COM1",  # worth the effort of keeping
    "mindset": "MIN1",  # positive about
    "word_of_mouth": "WOM1",  # spoken well of
}


class InstrumentError(ValueError):
    """The instrument file is not usable; the message names the entry at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    min: int
    max: int
    labels: dict[int, Text]


class Indicator(_Strict):
    code: str
    label: Text
    description: Text


class Item(_Strict):
    code: str
    kind: Literal["agree", "likely", "leader", "choice", "text"]
    text: Text
    indicator: str | None = None
    rates: str | None = None
    facet: str | None = None
    reverse: bool = False
    required: bool = False
    role: Literal["stay", "nps"] | None = None
    options: dict[int | str, Text] | None = None
    max_length: int | None = None


class Section(_Strict):
    code: str
    title: Text
    items: tuple[str, ...]


class Instrument(_Strict):
    instrument: str
    version: int
    released: str
    languages: tuple[str, ...]
    min_answered: str
    scales: dict[str, Scale]
    indicators: tuple[Indicator, ...]
    items: tuple[Item, ...]
    sections: tuple[Section, ...]
    ui: dict[str, Text]

    @field_validator("released", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> str:
        return str(value)

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the item layout: each item's code, kind and place, its scale bounds,
        reverse keying, indicator, leader rating and choice values, and the indicators' order.

        Wording, translations and labels are left out, so rewording an item keeps the
        fingerprint; reordering, re-keying or re-scaling one changes it. Packed export records
        carry it, and a record is decoded only under the layout it was packed with."""
        return hashlib.sha256(
            json.dumps(self.layout_facts(), separators=(",", ":"), sort_keys=True).encode()
        ).hexdigest()

    def layout_facts(self) -> dict[str, Any]:
        """What the fingerprint covers, as plain data (in order)."""
        items = []
        for item in self.items:
            scale = self.scale_for(item)
            items.append(
                {
                    "code": item.code,
                    "kind": item.kind,
                    "scale": None if scale is None else [scale.min, scale.max],
                    "reverse": item.reverse,
                    "indicator": item.indicator,
                    "rates": item.rates,
                    "role": item.role,
                    "choices": None if item.options is None else list(item.options),
                }
            )
        return {"indicators": [indicator.code for indicator in self.indicators], "items": items}

    @property
    def min_share(self) -> Fraction:
        return Fraction(self.min_answered)

    @property
    def agree_scale(self) -> Scale:
        return self.scales[AGREE_SCALE]

    def item(self, code: str) -> Item:
        return self._items_by_code()[code]

    def _items_by_code(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    def indicator_items(self, indicator: str) -> list[Item]:
        return [item for item in self.items if item.indicator == indicator]

    def leader_item(self, indicator: str) -> Item:
        return next(item for item in self.items if item.rates == indicator)

    def leader_counterpart(self, indicator: str) -> Item | None:
        """Our own statement matching the leader rating of ``indicator`` (``LEADER_COUNTERPARTS``),
        when this version asks it, scored on that indicator and not reverse-keyed; else None."""
        item = self._items_by_code().get(LEADER_COUNTERPARTS.get(indicator, ""))
        if item is None or item.indicator != indicator or item.reverse:
            return None
        return item

    def scale_for(self, item: Item) -> Scale | None:
        if item.kind == "agree":
            return self.scales[AGREE_SCALE]
        if item.kind == "likely":
            return self.scales[LIKELY_SCALE]
        return None

    def text(self, key: str, language: str, **values: Any) -> str:
        """A survey-page phrase in ``language`` (English when that language is unknown)."""
        phrases = self.ui[key]
        return phrases.get(language, phrases["en"]).format(**values)

    def language_for(self, wanted: str | None) -> str:
        return wanted if wanted in self.languages else self.languages[0]


def _texts_of(instrument: Instrument) -> list[tuple[str, Text]]:
    """Every translatable text with a readable name of where it sits."""
    named: list[tuple[str, Text]] = []
    for scale_code, scale in instrument.scales.items():
        named += [(f"scale {scale_code} label {k}", t) for k, t in scale.labels.items()]
    for indicator in instrument.indicators:
        named += [(f"indicator {indicator.code} label", indicator.label)]
        named += [(f"indicator {indicator.code} description", indicator.description)]
    for item in instrument.items:
        named.append((f"item {item.code} text", item.text))
        named += [(f"item {item.code} option {k}", t) for k, t in (item.options or {}).items()]
    named += [(f"section {s.code} title", s.title) for s in instrument.sections]
    named += [(f"ui text {key}", text) for key, text in instrument.ui.items()]
    return named


def _check(instrument: Instrument) -> None:
    """Cross-entry rules that a schema alone cannot express."""
    where = f"instrument v{instrument.version}"
    for required_scale in (AGREE_SCALE, LIKELY_SCALE):
        if required_scale not in instrument.scales:
            raise InstrumentError(f"{where}: scale '{required_scale}' is missing")
    try:
        share = instrument.min_share
    except (ValueError, ZeroDivisionError) as exc:
        raise InstrumentError(f"{where}: min_answered '{instrument.min_answered}' is not a fraction") from exc
    if not 0 < share <= 1:
        raise InstrumentError(f"{where}: min_answered must be above 0 and at most 1")

    for name, text in _texts_of(instrument):
        missing = [lang for lang in instrument.languages if not str(text.get(lang, "")).strip()]
        if missing:
            raise InstrumentError(f"{where}: {name} has no {', '.join(missing)} text")

    seen: set[str] = set()
    for item in instrument.items:
        if item.code in seen:
            raise InstrumentError(f"{where}: item code '{item.code}' is used twice")
        seen.add(item.code)

    indicator_codes = [indicator.code for indicator in instrument.indicators]
    if len(set(indicator_codes)) != len(indicator_codes):
        raise InstrumentError(f"{where}: an indicator code is used twice")
    for item in instrument.items:
        for field, target in (("indicator", item.indicator), ("rates", item.rates)):
            if target is not None and target not in indicator_codes:
                raise InstrumentError(f"{where}: item {item.code} names unknown {field} '{target}'")
        if (item.indicator or item.rates or item.reverse) and item.kind != "agree":
            raise InstrumentError(f"{where}: item {item.code} must be an agree item to be scored")
        if item.kind == "choice" and not item.options:
            raise InstrumentError(f"{where}: choice item {item.code} has no options")
    low, high = ITEMS_PER_INDICATOR
    for code in indicator_codes:
        count = len(instrument.indicator_items(code))
        if not low <= count <= high:
            raise InstrumentError(f"{where}: indicator {code} has {count} items; it needs {low} to {high}")
        rating = [item for item in instrument.items if item.rates == code]
        if len(rating) != 1:
            raise InstrumentError(f"{where}: indicator {code} needs exactly one leader rating item")
    for role in ("nps", "stay"):
        if sum(item.role == role for item in instrument.items) != 1:
            raise InstrumentError(f"{where}: there must be exactly one '{role}' item")

    placed = [code for section in instrument.sections for code in section.items]
    for code in placed:
        if code not in seen:
            raise InstrumentError(f"{where}: a section lists unknown item '{code}'")
    for code in seen:
        if placed.count(code) != 1:
            raise InstrumentError(f"{where}: item {code} must appear in exactly one section")


def parse_instrument(data: Any, source: str = "instrument") -> Instrument:
    """Validate already-parsed data as an instrument."""
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InstrumentError(f"{source}: {location}: {first['msg']}") from exc
    _check(instrument)
    return instrument


def load_instrument_file(path: Path) -> Instrument:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{path.name}: not valid YAML ({exc})") from exc
    return parse_instrument(data, source=path.name)


# Versions published through the draft -> validate -> publish workflow live in the database
# (survey/instrument/workflow.py), so that every replica sees them; each process registers
# them here as it reads them. Shipped files and published rows are never changed.
_published: dict[int, Instrument] = {}


def register_published(instrument: Instrument) -> None:
    """Make a version published in the database loadable in this process."""
    _published[instrument.version] = instrument


def forget_published() -> None:
    """Drop what this process registered (a test switching databases)."""
    _published.clear()


@cache
def _file_instrument(version: int) -> Instrument:
    instrument = load_instrument_file(INSTRUMENTS_DIR / f"v{version}.yaml")
    if instrument.version != version:
        raise InstrumentError(f"v{version}.yaml says it is version {instrument.version}")
    return instrument


def load_instrument(version: int | None = None) -> Instrument:
    """The instrument of ``version``, or the newest one."""
    versions = available_versions()
    if not versions:
        raise InstrumentError(f"no instrument files in {INSTRUMENTS_DIR}")
    wanted = versions[-1] if version is None else version
    if wanted not in versions:
        raise InstrumentError(f"instrument version {wanted} does not exist (have {versions})")
    if wanted in _published and wanted not in _file_versions():
        return _published[wanted]
    return _file_instrument(wanted)


@cache
def _file_versions() -> tuple[int, ...]:
    return tuple(
        sorted(int(path.stem[1:]) for path in INSTRUMENTS_DIR.glob("v*.yaml") if path.stem[1:].isdigit())
    )


def available_versions() -> list[int]:
    return sorted(set(_file_versions()) | set(_published))
