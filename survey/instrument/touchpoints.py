"""Reference data every database starts with: the touchpoints of the customer journey."""

from __future__ import annotations

from sqlmodel import Session, select

from models.tables import Touchpoint

DEFAULT_TOUCHPOINTS = (
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("purchase", "Purchase"),
    ("delivery", "Delivery"),
    ("onboarding", "Onboarding"),
    ("service", "Service call"),
    ("renewal", "Renewal"),
)


def ensure_touchpoints(session: Session) -> None:
    """Add the default touchpoints that are missing; never changes existing ones."""
    existing = set(session.exec(select(Touchpoint.code)).all())
    for stage, (code, name) in enumerate(DEFAULT_TOUCHPOINTS):
        if code not in existing:
            session.add(Touchpoint(code=code, name=name, stage=stage))
    session.flush()


def touchpoint_names(session: Session) -> dict[str, str]:
    """Touchpoint code to name, in journey order."""
    return dict(session.exec(select(Touchpoint.code, Touchpoint.name).order_by(Touchpoint.stage)).all())


def find_touchpoint(session: Session, name_or_code: str) -> Touchpoint | None:
    wanted = name_or_code.strip().lower()
    for touchpoint in session.exec(select(Touchpoint)).all():
        if wanted in (touchpoint.code.lower(), touchpoint.name.lower()):
            return touchpoint
    return None


def touchpoint_names_by_id(session: Session) -> dict[int, str]:
    """Every touchpoint's name by id, in journey order, for a picker."""
    rows = session.exec(
        select(Touchpoint.id, Touchpoint.name).order_by(Touchpoint.stage, Touchpoint.id)
    ).all()
    return {int(id_ or 0): name for id_, name in rows}
