"""Touchpoints as data: add, rename, set the form rule and delay, retire; history stays."""

from datetime import timedelta

import pytest
from sqlmodel import select

from models.tables import AuditEvent, Invitation, Response, Touchpoint
from survey.collecting.invitations import InviteError
from survey.instrument.touchpoints import (
    TouchpointError,
    add_touchpoint,
    rename_touchpoint,
    retire_touchpoint,
    set_touchpoint_rule,
)
from tests.factories import make_invitation, respond
from tests.test_cli import run


def test_an_added_touchpoint_takes_interactions_with_its_form_rule(session, now, monkeypatch):
    monkeypatch.setenv("PULSE_CHECKUP_DAYS", "90")
    added = add_touchpoint(
        session, code="implementation", name="Technology implementation", actor="ada", form_rule="pulse"
    )
    session.commit()
    assert added.stage == 7  # after the seven default touchpoints
    result, _ = make_invitation(session, now, touchpoint="Technology implementation")
    # A pulse even for a contact never surveyed: the rule says always a pulse.
    assert session.get(Invitation, result.invitation_id).form == "pulse"
    assert session.exec(select(AuditEvent.action)).all() == ["touchpoint_add"]


@pytest.mark.parametrize(
    ("code", "name", "rule", "delay", "message"),
    [
        ("Bad Code", "Training", "auto", 0, "code 'bad code' must start with a letter"),
        ("delivery", "Parcel", "auto", 0, "touchpoint code 'delivery' is already used"),
        ("parcel", "Service call", "auto", 0, "a touchpoint named 'Service call' (service) already exists"),
        ("training", "  ", "auto", 0, "the touchpoint name is empty"),
        ("training", "Training", "sometimes", 0, "form rule 'sometimes' is not one of auto, checkup, pulse"),
        ("training", "Training", "auto", -1, "the survey delay must be 0 to 336 hours, got -1"),
    ],
)
def test_bad_touchpoints_are_named_and_change_nothing(session, code, name, rule, delay, message):
    before = session.exec(select(Touchpoint.code)).all()
    with pytest.raises(TouchpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        add_touchpoint(session, code=code, name=name, actor="ada", form_rule=rule, delay_hours=delay)
    session.rollback()
    assert session.exec(select(Touchpoint.code)).all() == before


def test_renaming_keeps_history_and_retiring_stops_new_interactions(session, now):
    respond(session, now - timedelta(days=3), touchpoint="service")
    rename_touchpoint(session, "service", "Support ticket", actor="ada")
    set_touchpoint_rule(session, "Support ticket", form_rule="checkup", delay_hours=4, actor="ada")
    retire_touchpoint(session, "Support ticket", actor="ada", now=now)
    session.commit()
    touchpoint = session.exec(select(Touchpoint).where(Touchpoint.code == "service")).one()
    assert (touchpoint.name, touchpoint.active, touchpoint.form_rule, touchpoint.survey_delay_hours) == (
        "Support ticket",
        False,
        "checkup",
        4,
    )
    # The response given before stays, at the same touchpoint.
    assert session.exec(select(Response.touchpoint_id)).one() == touchpoint.id
    with pytest.raises(InviteError, match="touchpoint 'Support ticket' is retired"):
        make_invitation(session, now, touchpoint="service")
    history = [e.detail for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert history == [
        "service: 'Service call' -> 'Support ticket'",
        "service: form checkup, delay 4 h",
        "service",
    ]


def test_the_command_line_adds_renames_and_retires(sqlite_url):
    added = run("touchpoint", "add", "packaging", "--name", "Packaging", "--form", "checkup", url=sqlite_url)
    assert added.returncode == 0, added.stderr
    assert "added touchpoint packaging 'Packaging' (form checkup" in added.stdout
    assert run("touchpoint", "rename", "packaging", "Packaging review", url=sqlite_url).returncode == 0
    retired = run("touchpoint", "retire", "Packaging review", url=sqlite_url)
    assert "is retired; its history stays" in retired.stdout
    listed = run("touchpoint", "list", url=sqlite_url).stdout
    assert "packaging\tPackaging review\tcheckup\t0 h\tretired" in listed
    again = run("touchpoint", "retire", "packaging", url=sqlite_url)
    assert again.returncode == 1
    assert "touchpoint 'Packaging review' is already retired" in again.stderr
