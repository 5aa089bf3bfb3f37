"""Commands about people: ``user …`` for sign-in, ``erase-contact`` and ``purge-comments``
for privacy requests. Everything they change is in the audit log, as ``cli:`` and the
operating-system user who ran the command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from models.settings import get_settings
from survey.people.audit import cli_actor

if TYPE_CHECKING:
    from sqlmodel import Session

ACTOR = cli_actor()


@click.group("user")
def user_group() -> None:
    """Add, change, disable and list the people who sign in."""


def _password_option(prompt: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--password",
        prompt=prompt,
        hide_input=True,
        confirmation_prompt=True,
        help="Asked for when not given (hidden, twice); at least 10 characters.",
    )


def _change(change: Callable[[Session], object]) -> None:
    from models.db import session_scope
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.people.users import UserError

    prepare_database(say=say_on_stderr)
    try:
        with session_scope() as session:
            change(session)
    except UserError as refused:
        raise click.ClickException(str(refused)) from refused


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "manager", "analyst"]), required=True)
@click.option("--name", "display_name", default="", help="Full name, shown in the app.")
@click.option("--email", default=None, help="Email for single sign-on through the identity provider.")
@click.option("--sso-only", is_flag=True, help="No password: the user signs in only through single sign-on.")
@click.option(
    "--password", default=None, help="Asked for when not given (hidden, twice); at least 10 characters."
)
def add_command(
    username: str, role: str, display_name: str, email: str | None, sso_only: bool, password: str | None
) -> None:
    """Create a user. Managers' user names are the owner names on their accounts."""
    from survey.people.users import add_user

    if sso_only and not email:
        raise click.ClickException("--sso-only needs --email: it is how the identity provider names the user")
    if not sso_only and password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _change(
        lambda s: add_user(
            s,
            username,
            role,
            password=None if sso_only else password,
            display_name=display_name,
            email=email,
            actor=ACTOR,
        )
    )
    click.echo(f"user {username.strip().lower()} added as {role}")


@user_group.command("passwd")
@click.argument("username")
@_password_option("New password")
def passwd_command(username: str, password: str) -> None:
    """Set a new password; it also lifts a lock-out."""
    from survey.people.users import set_password

    _change(lambda s: set_password(s, username, password, actor=ACTOR))
    click.echo(f"password of {username} changed")


@user_group.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Stop a user from signing in; their open sessions end at their next click."""
    from survey.people.users import set_active

    _change(lambda s: set_active(s, username, False, actor=ACTOR))
    click.echo(f"user {username} disabled")


@user_group.command("enable")
@click.argument("username")
def enable_command(username: str) -> None:
    """Let a disabled user sign in again."""
    from survey.people.users import set_active

    _change(lambda s: set_active(s, username, True, actor=ACTOR))
    click.echo(f"user {username} enabled")


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "manager", "analyst"]))
def role_command(username: str, role: str) -> None:
    """Give a user another role."""
    from survey.people.users import set_role

    _change(lambda s: set_role(s, username, role, actor=ACTOR))
    click.echo(f"user {username} is now {role}")


@user_group.command("list")
def list_command() -> None:
    """Every user with role, state and last sign-in, one per line."""
    from models.db import session_scope
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.people.users import list_users

    prepare_database(say=say_on_stderr)
    with session_scope() as session:
        users = list_users(session)
    if not users:
        click.echo("no users yet: add the first admin with `python -m survey user add NAME --role admin`")
    for user in users:
        state = "active" if user.active else "disabled"
        last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never"
        click.echo(f"{user.username}\t{user.role}\t{state}\tlast sign-in {last}\t{user.email or ''}")


@click.command("erase-contact")
@click.option("--account", "account_name", required=True, help="The contact's account, by name.")
@click.option("--email", required=True, help="The contact's email.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_contact_command(account_name: str, email: str, yes: bool) -> None:
    """Erase a contact's personal data for good; their scores stay in the totals, anonymised."""
    from sqlmodel import col, select

    from models.db import session_scope
    from models.tables import Account, Contact
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.people.privacy import PrivacyError, erase_contact

    prepare_database(say=say_on_stderr)
    with session_scope() as session:
        contact = session.exec(
            select(Contact)
            .join(Account, col(Account.id) == Contact.account_id)
            .where(col(Account.name) == account_name, col(Contact.email) == email.strip().lower())
        ).first()
        if contact is None:
            raise click.ClickException(f"account {account_name!r} has no contact {email!r}")
        if not yes:
            click.confirm(f"Erase {email} of {account_name} for good?", abort=True)
        try:
            done = erase_contact(session, contact.id or 0, actor=ACTOR, now=datetime.now(UTC))
        except PrivacyError as refused:
            raise click.ClickException(str(refused)) from refused
    click.echo(f"contact #{done.contact_id} erased: {done.responses} response(s) anonymised")


@click.command("purge-comments")
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=None,
    help="Purge comments older than this; default PULSE_COMMENT_RETENTION_MONTHS.",
)
def purge_comments_command(months: int | None) -> None:
    """Clear free-text comments older than the retention period (for a daily cron job)."""
    from models.db import session_scope
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.people.privacy import purge_comments

    months = months or get_settings().comment_retention_months
    if months < 1:
        click.echo("no retention period set (PULSE_COMMENT_RETENTION_MONTHS): nothing purged")
        return
    prepare_database(say=say_on_stderr)
    with session_scope() as session:
        purged = purge_comments(session, months=months, now=datetime.now(UTC), actor=ACTOR)
    click.echo(f"{purged} comment(s) older than {months} months purged")


@click.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The backup file to write.")
def backup_command(out: str) -> None:
    """Copy the live SQLite database consistently, while the app keeps running, signed with
    PULSE_BACKUP_KEY (FILE.hmac beside it)."""
    from pathlib import Path

    from survey.operations.backup import BackupError, backup

    try:
        checked = backup(get_settings().database_url, Path(out))
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"backup written to {out}: schema {checked.version}, {checked.responses} responses, integrity ok"
    )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(file: str, yes: bool) -> None:
    """Replace the SQLite database with a signed, checked backup (stop the app first); keeps a .bak."""
    from pathlib import Path

    from survey.operations.backup import BackupError, backup_key, check, restore, verify_signature

    try:
        verify_signature(Path(file), backup_key())
        checked = check(Path(file))
        if not yes:
            click.confirm(f"Replace the database with {file} ({checked.responses} responses)?", abort=True)
        restore(get_settings().database_url, Path(file))
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"restored {file}: schema {checked.version}, {checked.responses} responses")
