"""Published instrument files never change, and a pack is read only under its own item layout."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime

import pytest
import yaml

from models.tables import Response
from survey.exports import packs
from survey.instrument.definition import (
    INSTRUMENTS_DIR,
    available_versions,
    load_instrument,
    parse_instrument,
)

# Each published version: the SHA-256 of its file and the fingerprint of its item layout.
# A published file is never edited: answers stored under it would be read under other items.
PUBLISHED = {
    1: (
        "7eef1557b029967c91f1b34c56bd1a7785b81606bfef9e5fa46228ae0cd8de95",
        "40eef0e39339bf0cd2cfd7e65c88a8862c9860d12dbdc415b964d04a35d8ceaf",
    ),
    2: (
        "31a8588854ae04d23744fdb209726f1d7c8c243b57e4975c78c3bd936be2d716",
        "40eef0e39339bf0cd2cfd7e65c88a8862c9860d12dbdc415b964d04a35d8ceaf",  # v1's layout, with French
    ),
}

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize("version", available_versions())
def test_a_published_instrument_file_is_never_changed(version):
    path = INSTRUMENTS_DIR / f"v{version}.yaml"
    file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    fingerprint = load_instrument(version).fingerprint
    assert version in PUBLISHED, (
        f"v{version}.yaml is not in the table of published versions: when it is released, add "
        f'{version}: ("{file_hash}", "{fingerprint}") to PUBLISHED'
    )
    published_hash, published_fingerprint = PUBLISHED[version]
    assert fingerprint == published_fingerprint, (
        f"the item layout of published v{version}.yaml changed (an item moved, was added or dropped, "
        "or its scale, keying or choices changed): responses stored under it would be read under "
        "other items. Restore the file and publish a new version instead."
    )
    assert file_hash == published_hash, (
        f"published v{version}.yaml was edited: publish a new version instead "
        "(wording-only fixes keep the item layout, but still need a new version and a new row here)"
    )


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((INSTRUMENTS_DIR / "v1.yaml").read_text(encoding="utf-8"))


def test_rewording_keeps_the_fingerprint(raw):
    reworded = copy.deepcopy(raw)
    reworded["items"][0]["text"] = {"en": "Something else entirely", "de": "Etwas ganz anderes"}
    reworded["indicators"][0]["label"] = {"en": "Contentment", "de": "Zufriedenheit"}
    reworded["scales"]["agree7"]["labels"][1] = {"en": "Not at all", "de": "Gar nicht"}
    assert parse_instrument(reworded).fingerprint == parse_instrument(raw).fingerprint


def _section_of(data: dict, code: str) -> list[str]:
    return next(section["items"] for section in data["sections"] if code in section["items"])


@pytest.mark.parametrize(
    "change",
    [
        "swap two items",
        "flip reverse keying",
        "change a scale bound",
        "change a choice value",
        "move indicators",
    ],
)
def test_the_item_layout_changes_the_fingerprint(raw, change):
    changed = copy.deepcopy(raw)
    items = changed["items"]
    if change == "swap two items":
        items[0], items[1] = items[1], items[0]
    elif change == "flip reverse keying":
        item = next(item for item in items if item.get("reverse"))
        item["reverse"] = False
    elif change == "change a scale bound":
        changed["scales"]["likely11"]["max"] = 9
        del changed["scales"]["likely11"]["labels"][10]
    elif change == "change a choice value":
        item = next(item for item in items if item["kind"] == "choice" and "delighted" in item["options"])
        item["options"]["thrilled"] = item["options"].pop("delighted")
    else:
        indicators = changed["indicators"]
        indicators[0], indicators[1] = indicators[1], indicators[0]
    assert parse_instrument(changed).fingerprint != parse_instrument(raw).fingerprint


def _response() -> Response:
    return Response(
        id=7, invitation_id=1, interaction_id=11, account_id=3, contact_id=5, touchpoint_id=2,
        instrument_version=1, locale="en", started_at=WHEN, submitted_at=WHEN, duration_seconds=30,
        nps=9, value_level=2, moment="delighted",
    )  # fmt: skip


def test_a_pack_is_never_decoded_under_a_reordered_layout(raw, monkeypatch):
    """The pack carries its layout's fingerprint; the same version reordered refuses to read it."""
    original = load_instrument(1)
    codes = packs.layout(1).items
    answers = {codes[0]: 1, codes[1]: 7}
    data = packs.pack(_response(), WHEN, answers, [])
    [(_, _, records)] = packs.unpack([data], [7]).versions
    assert records[0]["layout"].tobytes().hex() == original.fingerprint
    assert list(records[0]["answers"][:2]) == [1, 7]

    reordered = copy.deepcopy(raw)
    first = next(i for i, item in enumerate(reordered["items"]) if item["code"] == codes[0])
    second = next(i for i, item in enumerate(reordered["items"]) if item["code"] == codes[1])
    items = reordered["items"]
    items[first], items[second] = items[second], items[first]
    tampered = parse_instrument(reordered)
    assert tampered.version == 1
    assert tampered.fingerprint != original.fingerprint
    monkeypatch.setattr(packs, "load_instrument", lambda version: tampered)
    packs.layout.cache_clear()
    try:
        assert packs.layout(1).items[:2] == (codes[1], codes[0])  # same size, other order
        with pytest.raises(packs.PackError, match=r"response 7 was packed with item layout .*publish a new"):
            packs.unpack([data], [7])
    finally:
        packs.layout.cache_clear()
