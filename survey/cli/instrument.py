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


@click.group("instrument")
def instrument_group() -> None:
    """New instrument versions: draft, validate, publish. Published versions never change."""


def _version_step(step: Callable[[Session], str]) -> None:
    from models.db import session_scope
    from survey.instrument.definition import InstrumentError
    from survey.instrument.workflow import VersionError
    from survey.operations.startup import prepare_database

    prepare_database()
    try:
        with session_scope() as session:
            message = step(session)
    except (VersionError, InstrumentError) as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(message)


@instrument_group.command("draft")
@click.option(
    "--from-file",
    "source",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Take the draft's text from this YAML file (else a copy of the newest version).",
)
def draft_command(source: str | None) -> None:
    """Start the next version's draft and print its number."""
    from pathlib import Path

    from survey.instrument.workflow import save_draft, start_draft

    def step(session: Session) -> str:
        now = datetime.now(UTC)
        draft = start_draft(session, actor=ACTOR, now=now)
        if source:
            save_draft(session, draft.version, Path(source).read_text(encoding="utf-8"), actor=ACTOR, now=now)
        return f"draft v{draft.version} started"

    _version_step(step)


@instrument_group.command("show")
@click.argument("version", type=int)
def show_command(version: int) -> None:
    """Print a draft's (or a published version's) YAML text."""
    from survey.instrument.workflow import version_text

    _version_step(lambda session: version_text(session, version))


@instrument_group.command("edit")
@click.argument("version", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def edit_command(version: int, file: str) -> None:
    """Replace draft VERSION's text with FILE."""
    from pathlib import Path

    from survey.instrument.workflow import save_draft

    def step(session: Session) -> str:
        save_draft(
            session, version, Path(file).read_text(encoding="utf-8"), actor=ACTOR, now=datetime.now(UTC)
        )
        return f"draft v{version} saved"

    _version_step(step)


@instrument_group.command("validate")
@click.argument("version", type=int)
def validate_command(version: int) -> None:
    """List every problem of draft VERSION (none: it can be published)."""
    from survey.instrument.workflow import validate

    problems: list[str] = []

    def step(session: Session) -> str:
        problems.extend(validate(session, version))
        return "\n".join(problems) if problems else f"draft v{version} is valid and can be published"

    _version_step(step)
    if problems:
        raise SystemExit(1)


@instrument_group.command("publish")
@click.argument("version", type=int)
def publish_command(version: int) -> None:
    """Publish draft VERSION: new invitations use it; it never changes again."""
    from survey.instrument.workflow import publish

    def step(session: Session) -> str:
        instrument = publish(session, version, actor=ACTOR, now=datetime.now(UTC))
        return f"v{version} published (fingerprint {instrument.fingerprint})"

    _version_step(step)
