"""``action add|list`` (the action log) and ``check-accounts`` (account-level warnings)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click


def _session():  # noqa: ANN202 - a context manager from models.db
    from models.db import session_scope
    from survey.operations.startup import prepare_database

    prepare_database()
    return session_scope()


def _account_id(session, name: str) -> int:  # noqa: ANN001 - a sqlmodel Session
    from sqlmodel import or_, select

    from models.tables import Account

    found = session.exec(
        select(Account.id).where(or_(Account.name == name, Account.external_id == name))
    ).first()
    if found is None:
        raise click.ClickException(f"there is no account named {name!r} (or with that CRM id)")
    return int(found)


@click.group("action")
def action_group() -> None:
    """Record and list what the team did for an account (business reviews, visits, fixes…)."""


@action_group.command("add")
@click.option("--account", "account_name", required=True, help="Account name or CRM id.")
@click.option("--type", "kind", required=True, help="executive_visit, business_review, fix_delivered, …")
@click.option("--date", "day", required=True, help="The day it happened, YYYY-MM-DD.")
@click.option("--owner", required=True, help="Who did it.")
@click.option("--note", default="", help="What was done.")
@click.option("--follow-up", "follow_up_id", type=int, default=None, help="The closed follow-up it answered.")
def add_command(
    account_name: str, kind: str, day: str, owner: str, note: str, follow_up_id: int | None
) -> None:
    """Add an action to an account's log; prints its id."""
    from survey.accounts.actions import ACTION_TYPES, ActionError, record_action

    try:
        occurred_on = date.fromisoformat(day)
    except ValueError as error:
        raise click.ClickException(f"--date {day!r} is not a day such as 2026-11-20") from error
    if kind not in ACTION_TYPES:
        raise click.ClickException(f"unknown action type {kind!r} (use one of {', '.join(ACTION_TYPES)})")
    try:
        with _session() as session:
            action = record_action(
                session,
                account_id=_account_id(session, account_name),
                kind=kind,
                occurred_on=occurred_on,
                owner=owner,
                note=note,
                follow_up_id=follow_up_id,
                recorded_by="cli",
                now=datetime.now(UTC),
            )
            action_id = action.id
    except ActionError as error:
        raise click.ClickException(f"{error}; nothing was recorded") from error
    click.echo(f"recorded action #{action_id}: {ACTION_TYPES[kind]} at {account_name} on {occurred_on}")


@action_group.command("list")
@click.option("--account", "account_name", default=None, help="Only this account (name or CRM id).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(account_name: str | None, as_json: bool) -> None:
    """List logged actions, newest first."""
    from survey.accounts.actions import list_actions

    with _session() as session:
        account_id = None if account_name is None else _account_id(session, account_name)
        rows = list_actions(session, account_id=account_id)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row.as_json(), ensure_ascii=False))
        else:
            link = f" (follow-up #{row.follow_up_id})" if row.follow_up_id else ""
            click.echo(
                f"#{row.id} {row.occurred_on} {row.account}: {row.label} by {row.owner}{link} — {row.note}"
            )


@click.command("check-accounts")
def check_accounts_command() -> None:
    """Open account-level follow-ups where an account declines beyond its uncertainty, several
    contacts were flagged within 30 days or a decision maker has gone quiet (daily, from cron)."""
    from models.settings import get_settings
    from survey.accounts.warnings import check_accounts

    with _session() as session:
        opened = check_accounts(
            session, datetime.now(UTC), silent_days=get_settings().silent_decision_maker_days
        )
        lines = [f"#{f.id} account {f.account_id}: {f.reasons}" for f in opened]
    for line in lines:
        click.echo(f"opened {line}")
    click.echo(f"{len(lines)} account follow-up(s) opened")
