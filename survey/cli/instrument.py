"""Commands about what is asked: ``touchpoint …`` for the touchpoints of the journey.
Every change is in the audit log, as ``cli``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import click
from sqlmodel import Session

ACTOR = "cli"
RULES = ["auto", "checkup", "pulse"]


def _change(change: Callable[[Session], str]) -> None:
    from models.db import session_scope
    from survey.instrument.touchpoints import TouchpointError
    from survey.operations.startup import prepare_database

    prepare_database()
    try:
        with session_scope() as session:
            message = change(session)
    except TouchpointError as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(message)


@click.group("touchpoint")
def touchpoint_group() -> None:
    """Add, rename, retire and list the touchpoints interactions happen at."""


@touchpoint_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="What people read, e.g. 'Technology implementation'.")
@click.option(
    "--form",
    "form_rule",
    type=click.Choice(RULES),
    default="auto",
    show_default=True,
    help="auto: a pulse, or a check-up when the contact had none in the period.",
)
@click.option(
    "--delay-hours", type=int, default=0, show_default=True, help="Hours from interaction to survey."
)
def add_command(code: str, name: str, form_rule: str, delay_hours: int) -> None:
    """Add a touchpoint with a stable CODE (a-z, 0-9, _)."""
    from survey.instrument.touchpoints import add_touchpoint

    def change(session: Session) -> str:
        added = add_touchpoint(
            session, code=code, name=name, actor=ACTOR, form_rule=form_rule, delay_hours=delay_hours
        )
        return f"added touchpoint {added.code} '{added.name}' (form {added.form_rule}, delay {delay_hours} h)"

    _change(change)


@touchpoint_group.command("rename")
@click.argument("touchpoint")
@click.argument("new_name")
def rename_command(touchpoint: str, new_name: str) -> None:
    """Give TOUCHPOINT (code or name) a NEW_NAME; its history stays with it."""
    from survey.instrument.touchpoints import rename_touchpoint

    def change(session: Session) -> str:
        renamed = rename_touchpoint(session, touchpoint, new_name, actor=ACTOR)
        return f"touchpoint {renamed.code} is now '{renamed.name}'"

    _change(change)


@touchpoint_group.command("rule")
@click.argument("touchpoint")
@click.option("--form", "form_rule", type=click.Choice(RULES), required=True)
@click.option("--delay-hours", type=int, default=0, show_default=True)
def rule_command(touchpoint: str, form_rule: str, delay_hours: int) -> None:
    """Set which survey TOUCHPOINT's interactions get, and after how long."""
    from survey.instrument.touchpoints import set_touchpoint_rule

    def change(session: Session) -> str:
        changed = set_touchpoint_rule(
            session, touchpoint, form_rule=form_rule, delay_hours=delay_hours, actor=ACTOR
        )
        return f"touchpoint {changed.code}: form {changed.form_rule}, delay {changed.survey_delay_hours} h"

    _change(change)


@touchpoint_group.command("retire")
@click.argument("touchpoint")
def retire_command(touchpoint: str) -> None:
    """Stop TOUCHPOINT from taking new interactions; its responses keep counting."""
    from survey.instrument.touchpoints import retire_touchpoint

    def change(session: Session) -> str:
        retired = retire_touchpoint(session, touchpoint, actor=ACTOR, now=datetime.now(UTC))
        return f"touchpoint {retired.code} '{retired.name}' is retired; its history stays"

    _change(change)


@touchpoint_group.command("list")
def list_command() -> None:
    """Every touchpoint, retired ones too."""
    from survey.instrument.touchpoints import list_touchpoints

    def change(session: Session) -> str:
        lines = [
            "\t".join(
                (
                    t.code,
                    t.name,
                    t.form_rule,
                    f"{t.survey_delay_hours} h",
                    "active" if t.active else "retired",
                )
            )
            for t in list_touchpoints(session)
        ]
        return "\n".join(lines)

    _change(change)
