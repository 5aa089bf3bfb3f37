"""The touchpoints of the customer journey, kept as data an admin manages.

Every database starts with the seven default touchpoints; admins add more (a technology
implementation, packaging, training), rename them and retire them. A touchpoint has a form
rule (which survey its interactions get, see ``survey.collecting.forms``) and a survey
delay. Retiring keeps its interactions, responses and roll-ups: it only stops new
interactions from naming it. Every change is written to the audit log, which is the
touchpoint's history.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from models.tables import Touchpoint
from survey.people.audit import record

DEFAULT_TOUCHPOINTS = (
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("purchase", "Purchase"),
    ("delivery", "Delivery"),
    ("onboarding", "Onboarding"),
    ("service", "Service call"),
    ("renewal", "Renewal"),
)
FORM_RULES = ("auto", "checkup", "pulse")
FORM_RULE_LABELS = {
    "auto": "Pulse; a check-up when none in the period",
    "checkup": "Always a check-up",
    "pulse": "Always a pulse",
}
MAX_DELAY_HOURS = 24 * 14
_CODE = re.compile(r"[a-z][a-z0-9_]{0,49}")


class TouchpointError(ValueError):
    """A touchpoint change that cannot be made; the message names what is wrong."""


def ensure_touchpoints(session: Session) -> None:
    """Add the default touchpoints that are missing; never changes existing ones."""
    existing = set(session.exec(select(Touchpoint.code)).all())
    for stage, (code, name) in enumerate(DEFAULT_TOUCHPOINTS):
        if code not in existing:
            session.add(Touchpoint(code=code, name=name, stage=stage))
    session.flush()


def touchpoint_names(session: Session) -> dict[str, str]:
    """Touchpoint code to name, in journey order."""
    return dict(session.exec(select(Touchpoint.code, Touchpoint.name).order_by(col(Touchpoint.stage))).all())


def find_touchpoint(session: Session, name_or_code: str, *, active_only: bool = False) -> Touchpoint | None:
    wanted = name_or_code.strip().lower()
    for touchpoint in session.exec(select(Touchpoint)).all():
        if wanted in (touchpoint.code.lower(), touchpoint.name.lower()):
            if active_only and not touchpoint.active:
                return None
            return touchpoint
    return None


def touchpoint_names_by_id(session: Session) -> dict[int, str]:
    """Every touchpoint's name by id, in journey order, for a picker."""
    rows = session.exec(
        select(Touchpoint.id, Touchpoint.name).order_by(col(Touchpoint.stage), col(Touchpoint.id))
    ).all()
    return {int(id_ or 0): name for id_, name in rows}


def list_touchpoints(session: Session, *, include_retired: bool = True) -> list[Touchpoint]:
    query = select(Touchpoint).order_by(col(Touchpoint.stage), col(Touchpoint.id))
    if not include_retired:
        query = query.where(Touchpoint.active)
    return list(session.exec(query).all())


def survey_due_at(touchpoint: Touchpoint, occurred_at: datetime) -> datetime:
    """When an interaction at ``touchpoint`` is surveyed: its time plus the touchpoint's survey
    delay. An invitation due later than its creation is scheduled and sent once due
    (``survey.sending.delivery.send_due_invitations``)."""
    return occurred_at + timedelta(hours=touchpoint.survey_delay_hours)


def _check_name(session: Session, name: str, keep: Touchpoint | None = None) -> str:
    name = name.strip()
    if not name:
        raise TouchpointError("the touchpoint name is empty")
    if len(name) > 100:
        raise TouchpointError(f"a touchpoint name is at most 100 characters, got {len(name)}")
    if any(ord(char) < 32 for char in name):
        raise TouchpointError("the touchpoint name contains a control character")
    other = find_touchpoint(session, name)
    if other is not None and other is not keep:
        raise TouchpointError(f"a touchpoint named '{other.name}' ({other.code}) already exists")
    return name


def _check_rule(form_rule: str, delay_hours: int) -> None:
    if form_rule not in FORM_RULES:
        raise TouchpointError(f"form rule '{form_rule}' is not one of {', '.join(FORM_RULES)}")
    if not 0 <= delay_hours <= MAX_DELAY_HOURS:
        raise TouchpointError(f"the survey delay must be 0 to {MAX_DELAY_HOURS} hours, got {delay_hours}")


def add_touchpoint(
    session: Session,
    *,
    code: str,
    name: str,
    actor: str,
    form_rule: str = "auto",
    delay_hours: int = 0,
) -> Touchpoint:
    """A new touchpoint at the end of the journey; its code is its stable key (lower case,
    digits and ``_``), its name what people read."""
    code = code.strip().lower()
    if not _CODE.fullmatch(code):
        raise TouchpointError(
            f"code '{code}' must start with a letter and use only a-z, 0-9 and _ (at most 50)"
        )
    if session.exec(select(Touchpoint).where(Touchpoint.code == code)).first() is not None:
        raise TouchpointError(f"touchpoint code '{code}' is already used")
    name = _check_name(session, name)
    _check_rule(form_rule, delay_hours)
    stage = (session.exec(select(func.max(Touchpoint.stage))).one() or 0) + 1
    touchpoint = Touchpoint(
        code=code, name=name, stage=stage, form_rule=form_rule, survey_delay_hours=delay_hours
    )
    session.add(touchpoint)
    session.flush()
    record(session, actor, "touchpoint_add", f"{code}: '{name}', form {form_rule}, delay {delay_hours} h")
    return touchpoint


def _get(session: Session, name_or_code: str) -> Touchpoint:
    touchpoint = find_touchpoint(session, name_or_code)
    if touchpoint is None:
        known = ", ".join(session.exec(select(Touchpoint.code).order_by(col(Touchpoint.stage))).all())
        raise TouchpointError(f"unknown touchpoint '{name_or_code}' (known: {known})")
    return touchpoint


def rename_touchpoint(session: Session, name_or_code: str, new_name: str, *, actor: str) -> Touchpoint:
    """A new name; the code, and with it every past interaction and response, stays."""
    touchpoint = _get(session, name_or_code)
    new_name = _check_name(session, new_name, keep=touchpoint)
    old = touchpoint.name
    touchpoint.name = new_name
    session.add(touchpoint)
    session.flush()
    record(session, actor, "touchpoint_rename", f"{touchpoint.code}: '{old}' -> '{new_name}'")
    return touchpoint


def set_touchpoint_rule(
    session: Session, name_or_code: str, *, form_rule: str, delay_hours: int, actor: str
) -> Touchpoint:
    touchpoint = _get(session, name_or_code)
    _check_rule(form_rule, delay_hours)
    touchpoint.form_rule = form_rule
    touchpoint.survey_delay_hours = delay_hours
    session.add(touchpoint)
    session.flush()
    record(session, actor, "touchpoint_rule", f"{touchpoint.code}: form {form_rule}, delay {delay_hours} h")
    return touchpoint


def retire_touchpoint(session: Session, name_or_code: str, *, actor: str, now: datetime) -> Touchpoint:
    """No new interactions at this touchpoint; its history stays and keeps counting."""
    touchpoint = _get(session, name_or_code)
    if not touchpoint.active:
        raise TouchpointError(f"touchpoint '{touchpoint.name}' is already retired")
    touchpoint.active = False
    touchpoint.retired_at = now
    session.add(touchpoint)
    session.flush()
    record(session, actor, "touchpoint_retire", touchpoint.code)
    return touchpoint


def restore_touchpoint(session: Session, name_or_code: str, *, actor: str) -> Touchpoint:
    touchpoint = _get(session, name_or_code)
    touchpoint.active = True
    touchpoint.retired_at = None
    session.add(touchpoint)
    session.flush()
    record(session, actor, "touchpoint_restore", touchpoint.code)
    return touchpoint
