"""What an export holds: its columns, their labels and codes, and the codebook that lists them.

One list of ``Column`` drives every format, so that the CSV header, the Excel codebook, the
SPSS variable and value labels and the Parquet schema can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from models.tables import CONTACT_ROLES
from survey.followup.queue import STATUSES
from survey.instrument.definition import Instrument, Item, available_versions, load_instrument
from survey.instrument.forms import FORM_LABELS, FORMS

Kind = Literal["int", "float", "text", "date", "timestamp", "bool"]

# SPSS user-missing codes for items and scores (system-missing would not say why).
NOT_ANSWERED = -1
NOT_ASKED = -2  # the item is not part of the instrument version the response was given on
NOT_SCORED = -1  # too few of the indicator's items were answered
NOT_GIVEN = -9  # a coded text left empty: no follow-up, the role of an anonymous contact
MISSING_LABELS = {NOT_ANSWERED: "Not answered", NOT_ASKED: "Not asked in this instrument version"}

NPS_CATEGORY_CODES = {"promoter": 1, "passive": 2, "detractor": 3}
# Which survey a response answered: in SPSS a number, labelled.
FORM_CODES = {form: number for number, form in enumerate(FORMS, start=1)}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: Kind
    item_code: str = ""
    wording: dict[str, str] = field(default_factory=dict)
    scale: str = ""
    reverse: bool = False
    indicator: str = ""
    # Numeric code -> label; in SPSS a text column with labels is stored as these codes.
    value_labels: dict[int, str] = field(default_factory=dict)
    text_codes: dict[str, int] = field(default_factory=dict)
    missing_codes: dict[int, str] = field(default_factory=dict)
    identity: bool = False  # names the respondent: empty for anonymous responses


def _newest_first() -> list[Instrument]:
    """Every instrument version, the newest first."""
    return [load_instrument(version) for version in sorted(available_versions(), reverse=True)]


def items_of_every_version() -> list[tuple[Item, Instrument]]:
    """Each item code once, in the newest version's order, then codes only older versions had."""
    seen: dict[str, tuple[Item, Instrument]] = {}
    for instrument in _newest_first():
        for item in instrument.items:
            seen.setdefault(item.code, (item, instrument))
    return list(seen.values())


def _scale_text(instrument: Instrument, item: Item) -> str:
    scale = instrument.scale_for(item)
    if scale is not None:
        return f"{scale.min}-{scale.max}"
    if item.kind == "choice":
        return "choice"
    return "text"


def item_column(item: Item, instrument: Instrument) -> Column:
    english = instrument.languages[0]
    scale = instrument.scale_for(item)
    labels: dict[int, str] = {}
    text_codes: dict[str, int] = {}
    kind: Kind = "int"
    if scale is not None:
        labels = {point: text[english] for point, text in scale.labels.items()}
    elif item.kind == "choice" and item.options:
        if all(isinstance(key, int) for key in item.options):
            labels = {int(key): text[english] for key, text in item.options.items()}
        else:  # text codes such as "delighted": numbered in instrument order for SPSS
            kind = "text"
            text_codes = {str(key): number for number, key in enumerate(item.options, start=1)}
            labels = {text_codes[str(key)]: text[english] for key, text in item.options.items()}
    else:
        kind = "text"
    return Column(
        name=item.code,
        label=item.text[english],
        kind=kind,
        item_code=item.code,
        wording=dict(item.text),
        scale=_scale_text(instrument, item),
        reverse=item.reverse,
        indicator=item.indicator or (f"leader {item.rates}" if item.rates else ""),
        value_labels=labels,
        text_codes=text_codes,
        missing_codes=dict(MISSING_LABELS) if kind == "int" else {},
    )


def coded_text(name: str, label: str, values: tuple[str, ...], empty: str, **more: Any) -> Column:
    """A text column whose values come from a closed list: in SPSS each value is a number
    labelled with the text itself (nominal), and an empty one is ``NOT_GIVEN``, user-missing
    and labelled ``empty``; every other format writes the text."""
    codes = {value: number for number, value in enumerate(values, start=1)}
    return Column(
        name,
        label,
        "text",
        value_labels={number: value for value, number in codes.items()},
        text_codes=codes,
        missing_codes={NOT_GIVEN: empty},
        **more,
    )


def _languages() -> tuple[str, ...]:
    """Every language any instrument version is given in, the newest version's first."""
    found: dict[str, None] = {}
    for instrument in _newest_first():
        found |= dict.fromkeys(instrument.languages)
    return tuple(found)


def context_columns() -> list[Column]:
    """Who answered, about what and when: the columns before the answers."""
    return [
        Column("response_id", "Response id", "int"),
        Column("interaction_id", "Interaction id (empty when anonymous)", "int", identity=True),
        Column("account_id", "Account id", "int"),
        Column("account", "Account", "text"),
        Column("segment", "Segment", "text"),
        Column("touchpoint", "Touchpoint", "text"),
        Column("contact_id", "Contact id (empty when anonymous)", "int", identity=True),
        Column("contact_name", "Contact name (empty when anonymous)", "text", identity=True),
        Column("contact_email", "Contact email (empty when anonymous)", "text", identity=True),
        coded_text(
            "contact_role",
            "Contact role (empty when anonymous)",
            CONTACT_ROLES,
            "Not given (anonymous, or no contact)",
            identity=True,
        ),
        Column("anonymous", "Respondent asked for anonymity", "bool", value_labels={0: "No", 1: "Yes"}),
        Column("interaction_date", "Date of the interaction (UTC)", "date"),
        Column("submitted_at", "Submitted at (UTC)", "timestamp"),
        Column("instrument_version", "Instrument version", "int"),
        Column(
            "form",
            "Survey form: pulse (a rotating few statements) or check-up (every statement)",
            "text",
            value_labels={code: FORM_LABELS[form] for form, code in FORM_CODES.items()},
            text_codes=dict(FORM_CODES),
        ),
        coded_text("locale", "Language answered in", _languages(), "Not recorded"),
        Column("duration_seconds", "Time taken to answer (seconds)", "int"),
        coded_text("follow_up_status", "Follow-up status", STATUSES, "No follow-up"),
        Column("follow_up_note", "Follow-up notes", "text"),
        Column("comment_tags", "Comment tags (the admin's keyword rules), separated by '; '", "text"),
    ]


def score_columns(instrument: Instrument) -> list[Column]:
    english = instrument.languages[0]
    columns = []
    for subject, prefix, who in (("own", "", "us"), ("leader", "leader_", "the category leader")):
        for indicator in instrument.indicators:
            label = indicator.label[english]
            if subject == "leader":
                # One statement, not the scale: like for like only with our matching statement.
                counterpart = instrument.leader_counterpart(indicator.code)
                who = f"the category leader, one statement ({instrument.leader_item(indicator.code).code}"
                who += f"; compare as pairs with {counterpart.code})" if counterpart else ")"
            for suffix, scale in (("score", "1-7"), ("100", "0-100")):
                columns.append(
                    Column(
                        name=f"{prefix}{indicator.code}_{suffix}",
                        label=f"{label} of {who} ({scale})",
                        kind="float",
                        scale=scale,
                        indicator=indicator.code if subject == "own" else f"leader {indicator.code}",
                        missing_codes={NOT_SCORED: "Not scored"},
                    )
                )
    return columns


def wide_columns() -> list[Column]:
    """Every column of the one-row-per-response export, in order."""
    newest = load_instrument()
    items = [item_column(item, instrument) for item, instrument in items_of_every_version()]
    nps_category = Column(
        "nps_category",
        "Recommendation category (promoter 9-10, passive 7-8, detractor 0-6)",
        "text",
        value_labels={code: name for name, code in NPS_CATEGORY_CODES.items()},
        text_codes=dict(NPS_CATEGORY_CODES),
        missing_codes={NOT_GIVEN: "Not answered"},
    )
    return [*context_columns(), *items, *score_columns(newest), nps_category]


LONG_CONTEXT: tuple[str, ...] = (
    "response_id",
    "account_id",
    "account",
    "segment",
    "touchpoint",
    "contact_role",
)
LONG_CONTEXT += ("submitted_at", "instrument_version", "form", "locale")


def long_columns() -> list[Column]:
    """One row per scale answer: the response's context, the item and the value."""
    context = [column for column in context_columns() if column.name in LONG_CONTEXT]
    return [
        *context,
        Column("item_code", "Item code", "text"),
        Column("indicator", "Indicator the item belongs to", "text"),
        Column("value", "Answer as given (before reverse keying)", "int"),
    ]


CODEBOOK_HEADER: tuple[str, ...] = (
    "column",
    "label",
    "item_code",
    "wording_en",
    "wording_de",
    "scale",
    "reverse_keyed",
)
CODEBOOK_HEADER += ("indicator", "values", "spss_missing_codes")


def codebook_rows(columns: list[Column]) -> list[tuple[str, ...]]:
    """One row per export column: what an analyst needs to read it."""

    def listed(labels: dict[int, str]) -> str:
        return "; ".join(f"{code} = {text}" for code, text in labels.items())

    rows: list[tuple[str, ...]] = []
    for column in columns:
        values = listed(column.value_labels)
        if column.text_codes:  # CSV, Excel and Parquet hold the text; SPSS holds the number
            values = "; ".join(f"{text} (SPSS {code})" for text, code in column.text_codes.items())
        rows.append(
            (
                column.name,
                column.label,
                column.item_code,
                column.wording.get("en", ""),
                column.wording.get("de", ""),
                column.scale,
                "yes" if column.reverse else "",
                column.indicator,
                values,
                listed(column.missing_codes),
            )
        )
    return rows
