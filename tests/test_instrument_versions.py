"""Instrument versions as a workflow: draft, validate, publish; published never changes."""

from datetime import timedelta

import pytest
import yaml
from sqlmodel import select

from models.tables import AuditEvent, Invitation, Response
from survey.collecting.responses import submit
from survey.instrument.definition import load_instrument
from survey.instrument.workflow import (
    VersionError,
    publish,
    save_draft,
    start_draft,
    validate,
    version_breaks,
)
from tests.factories import full_answers, make_invitation, respond
from tests.test_cli import run

NEXT = load_instrument().version + 1  # the version a new draft gets


def reworded(body: str, *, new_code: str | None = "SAT5") -> str:
    """The draft with SAT2 reworded: under a new code, or (new_code None) under its old one."""
    data = yaml.safe_load(body)
    for item in data["items"]:
        if item["code"] == "SAT2":
            item["text"] = {
                "en": "What we deliver is of the quality you need.",
                "de": "Unsere Leistungen haben die Qualität, die Sie brauchen.",
                "fr": "Nos prestations ont la qualité dont vous avez besoin.",
            }
            if new_code:
                item["code"] = new_code
    for section in data["sections"]:
        section["items"] = [new_code or "SAT2" if code == "SAT2" else code for code in section["items"]]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_a_reworded_statement_under_a_new_code_is_published_and_used(session, now):
    respond(session, now - timedelta(days=40))
    draft = start_draft(session, actor="ada", now=now - timedelta(days=30))
    assert draft.version == NEXT
    save_draft(session, NEXT, reworded(draft.body), actor="ada", now=now - timedelta(days=30))
    assert validate(session, NEXT) == []
    published = publish(session, NEXT, actor="ada", now=now - timedelta(days=30))
    session.commit()
    assert load_instrument().version == NEXT

    result, _ = make_invitation(session, now - timedelta(days=2), email="bo@acme.example")
    assert session.get(Invitation, result.invitation_id).instrument_version == NEXT
    answers = full_answers()
    answers["SAT5"] = answers.pop("SAT2")
    response_id = submit(
        session, invitation_id=result.invitation_id, answers=answers, locale="en", now=now - timedelta(days=2)
    )
    session.commit()
    response = session.get(Response, response_id)
    assert (response.instrument_version, response.instrument_fingerprint) == (NEXT, published.fingerprint)
    assert published.fingerprint != load_instrument(NEXT - 1).fingerprint

    [change] = version_breaks(session)
    assert (change.version, change.month) == (NEXT, f"{now - timedelta(days=2):%Y-%m}")
    assert (change.changes.added, change.changes.dropped) == (("SAT5",), ("SAT2",))
    assert "SAT2" not in change.changes.kept
    assert "SAT1" in change.changes.kept
    assert change.describe() == f"v{NEXT}: new SAT5; dropped SAT2"
    actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("instrument_publish") == 1


def test_rewording_under_the_same_code_is_refused_and_names_the_item(session, now):
    draft = start_draft(session, actor="ada", now=now)
    save_draft(session, NEXT, reworded(draft.body, new_code=None), actor="ada", now=now)
    [problem] = validate(session, NEXT)
    assert problem.startswith(
        "item SAT2: its de, en, fr wording changed; a reworded statement needs a new code"
    )
    with pytest.raises(VersionError, match=f"v{NEXT} cannot be published: item SAT2"):
        publish(session, NEXT, actor="ada", now=now)
    assert load_instrument().version == NEXT - 1


def test_a_broken_draft_names_the_bad_entry(session, now):
    draft = start_draft(session, actor="ada", now=now)
    save_draft(session, NEXT, draft.body.replace("de: Vertrauen", "de: ''"), actor="ada", now=now)
    assert validate(session, NEXT) == [f"instrument v{NEXT}: indicator trust label has no de text"]


def test_a_published_version_never_changes(session, now):
    draft = start_draft(session, actor="ada", now=now)
    publish(session, NEXT, actor="ada", now=now)
    with pytest.raises(VersionError, match=f"version {NEXT} is published and cannot change"):
        save_draft(session, NEXT, draft.body, actor="ada", now=now)
    with pytest.raises(VersionError, match="version 1 is published and cannot change"):
        save_draft(session, 1, draft.body, actor="ada", now=now)
    start_draft(session, actor="ada", now=now)
    with pytest.raises(VersionError, match=f"draft v{NEXT + 1} is already open"):
        start_draft(session, actor="ada", now=now)


def test_the_command_line_drafts_validates_and_publishes(sqlite_url, tmp_path):
    n = str(NEXT)
    assert run("instrument", "draft", url=sqlite_url).stdout.strip() == f"draft v{n} started"
    body = run("instrument", "show", n, url=sqlite_url).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(reworded(body, new_code=None), encoding="utf-8")
    assert run("instrument", "edit", n, str(bad), url=sqlite_url).returncode == 0
    refused = run("instrument", "validate", n, url=sqlite_url)
    assert refused.returncode == 1
    assert "item SAT2: its de, en, fr wording changed" in refused.stdout
    good = tmp_path / "good.yaml"
    good.write_text(reworded(body), encoding="utf-8")
    run("instrument", "edit", n, str(good), url=sqlite_url)
    published = run("instrument", "publish", n, url=sqlite_url)
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith(f"v{n} published (fingerprint ")
    again = run("instrument", "edit", n, str(good), url=sqlite_url)
    assert f"version {n} is published and cannot change" in again.stderr


# The published files themselves are frozen in tests/test_published_instruments.py.
