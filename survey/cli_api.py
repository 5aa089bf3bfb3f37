"""``apikey create|revoke|list``: keys for the systems that call the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime

import click


@click.group("apikey")
def apikey_group() -> None:
    """Create, revoke and list API keys (for CRMs, help desks and BI tools)."""


def _session():  # noqa: ANN202 - a context manager from models.db
    from models.db import session_scope
    from survey.setup import prepare_database

    prepare_database()
    return session_scope()


@apikey_group.command("create")
@click.option("--name", required=True, help="Which system uses the key, e.g. 'Salesforce'.")
def create_command(name: str) -> None:
    """Create a key and print it once: only its hash is stored."""
    from survey.apikeys import ApiKeyError, create_key

    try:
        with _session() as session:
            key = create_key(session, name, now=datetime.now(UTC))
    except ApiKeyError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"API key {name!r} created. Copy it now; it cannot be shown again:", err=True)
    click.echo(key)


@apikey_group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Stop a key from working, at once."""
    from survey.apikeys import ApiKeyError, revoke_key

    try:
        with _session() as session:
            revoke_key(session, name, now=datetime.now(UTC))
    except ApiKeyError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"API key {name!r} revoked")


@apikey_group.command("list")
def list_command() -> None:
    """Every key: name, state, when created and last used (never the key itself)."""
    from survey.apikeys import list_keys

    with _session() as session:
        keys = list_keys(session)
    if not keys:
        click.echo("no API keys yet: create one with `python -m survey apikey create --name NAME`")
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(f"{key.name}\t{state}\tcreated {key.created_at:%Y-%m-%d}\tlast used {used}")


@click.command("send-reminders")
def send_reminders_command() -> None:
    """Send the one reminder to contacts who have not answered after PULSE_REMINDER_DAYS (cron)."""
    from models.settings import get_settings
    from survey.mailer import MailSettings
    from survey.sending import send_reminders

    settings = get_settings()
    with _session() as session:
        sent = send_reminders(
            session,
            now=datetime.now(UTC),
            after_days=settings.reminder_days,
            base_url=settings.base_url,
            mail=MailSettings.from_env(),
        )
    for item in sent:
        click.echo(f"invitation #{item.invitation_id} to {item.to}: {item.status} {item.detail}".rstrip())
    click.echo(f"{len(sent)} reminder(s)")


@click.command("expire")
def expire_command() -> None:
    """Drop the saved answers of links that expired unanswered (cron; safe to run again)."""
    from survey.sending import expire

    with _session() as session:
        dropped = expire(session, now=datetime.now(UTC))
    click.echo(f"{dropped} unfinished survey(s) of expired links dropped")
