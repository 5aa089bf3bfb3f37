"""``apikey create|revoke|list``: keys for the systems that call the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime

import click


@click.group("apikey")
def apikey_group() -> None:
    """Create, revoke and list API keys (for CRMs, help desks and BI tools)."""


def _session():  # noqa: ANN202 - a context manager from models.db
    from models.db import session_scope
    from survey.operations.startup import prepare_database, say_on_stderr

    prepare_database(say=say_on_stderr)
    return session_scope()


@apikey_group.command("create")
@click.option("--name", required=True, help="Which system uses the key, e.g. 'Salesforce'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(["write:interactions", "read:responses"]),
    help="What the key may do (repeatable): write:interactions for a CRM or help desk that reports "
    "interactions, read:responses for a BI tool that pulls responses.",
)
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key that may do only SCOPES and print it once: only its hash is stored."""
    from survey.people.apikeys import SCOPES, ApiKeyError, create_key

    try:
        with _session() as session:
            key = create_key(session, name, now=datetime.now(UTC), scopes=scopes)
    except ApiKeyError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"API key {name!r} created. It may:", err=True)
    for scope in SCOPES:
        if scope in scopes:
            click.echo(f"  {scope}: {SCOPES[scope]}", err=True)
    click.echo("Copy it now; it cannot be shown again:", err=True)
    click.echo(key)


@apikey_group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Stop a key from working, at once."""
    from survey.people.apikeys import ApiKeyError, revoke_key

    try:
        with _session() as session:
            revoke_key(session, name, now=datetime.now(UTC))
    except ApiKeyError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"API key {name!r} revoked")


@apikey_group.command("list")
def list_command() -> None:
    """Every key: name, state, scopes, when created and last used (never the key itself)."""
    from survey.people.apikeys import list_keys, scopes_of

    with _session() as session:
        keys = list_keys(session)
    if not keys:
        click.echo("no API keys yet: create one with `python -m survey apikey create --name NAME`")
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        scopes = ",".join(scopes_of(key)) or "no scope"
        click.echo(f"{key.name}\t{state}\t{scopes}\tcreated {key.created_at:%Y-%m-%d}\tlast used {used}")


@click.command("send-reminders")
def send_reminders_command() -> None:
    """Send the one reminder to contacts who have not answered after PULSE_REMINDER_DAYS (cron)."""
    from models.settings import get_settings
    from survey.sending.delivery import send_reminders
    from survey.sending.mailer import MailSettings

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


@click.command("send-scheduled")
def send_scheduled_command() -> None:
    """Email the invitations held back by their touchpoint's survey delay, once due (cron)."""
    from models.settings import get_settings
    from survey.sending.delivery import send_due_invitations
    from survey.sending.mailer import MailSettings

    settings = get_settings()
    with _session() as session:
        sent = send_due_invitations(
            session, now=datetime.now(UTC), base_url=settings.base_url, mail=MailSettings.from_env()
        )
    for item in sent:
        click.echo(f"invitation #{item.invitation_id} to {item.to}: {item.status} {item.detail}".rstrip())
    click.echo(f"{len(sent)} scheduled invitation(s) sent")


@click.command("expire")
def expire_command() -> None:
    """Drop the saved answers of links that expired unanswered (cron; safe to run again)."""
    from survey.sending.delivery import expire

    with _session() as session:
        dropped = expire(session, now=datetime.now(UTC))
    click.echo(f"{dropped} unfinished survey(s) of expired links dropped")


@click.command("import-crm")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--map",
    "mappings",
    multiple=True,
    help="field=column where the file names it otherwise, e.g. --map contact_email=E-Mail (repeatable).",
)
@click.option(
    "--send", is_flag=True, help="Email the new invitations (SMTP from PULSE_SMTP_*, else the outbox)."
)
def import_crm_command(file: str, mappings: tuple[str, ...], send: bool) -> None:
    """Import accounts, contacts and interactions from a CRM export (CSV or .xlsx), all or nothing."""
    from pathlib import Path

    from models.settings import get_settings
    from survey.imports.crm import FIELDS, guess_mapping, import_rows, parse
    from survey.imports.tabular import TableImportError, header_of
    from survey.sending.delivery import send_all
    from survey.sending.mailer import MailSettings

    data = Path(file).read_bytes()
    try:
        header = header_of(data, filename=file)
    except TableImportError as error:
        raise click.ClickException(str(error)) from error
    mapping = guess_mapping(header)
    for pair in mappings:
        ours, _, theirs = pair.partition("=")
        if ours not in FIELDS or not theirs:
            raise click.ClickException(
                f"--map {pair!r}: use field=column with a field of {', '.join(FIELDS)}"
            )
        mapping[ours] = theirs
    settings = get_settings()
    now = datetime.now(UTC)
    try:
        with _session() as session:
            rows = parse(session, data, mapping, filename=file)
            result = import_rows(
                session, rows, now=now, base_url=settings.base_url,
                valid_days=settings.link_valid_days, fatigue_days=settings.fatigue_days,
                mail=MailSettings.from_env(),
            )  # fmt: skip
    except TableImportError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"{file} was not imported: {len(error.problems)} problem(s); nothing was changed"
        ) from error
    click.echo(
        f"{result.interactions_added} interaction(s) added, {result.already_there} already there, "
        f"{len(result.invitations)} invitation(s), {len(result.skipped)} skipped"
    )
    for row, email, why in result.skipped:
        click.echo(f"skipped row {row} ({email}): {why}")
    if send and result.invitations:
        with _session() as session:
            sent = send_all(
                session, result.invitations, now=now, mail=MailSettings.from_env(), messages=result.messages
            )
        statuses = {
            status: sum(1 for s in sent if s.status == status)
            for status in ("sent", "outbox", "failed", "scheduled")
        }
        click.echo(", ".join(f"{count} {status}" for status, count in statuses.items() if count))
    elif result.invitations:
        # Only their hashes are stored: printed now or never.
        click.echo("not emailed (no --send); the links, which cannot be shown again:", err=True)
        for invitation_id, link in result.invitations:
            click.echo(f"invitation #{invitation_id}\t{link or 'scheduled: emailed by send-scheduled'}")
