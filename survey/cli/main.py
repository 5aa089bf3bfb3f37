"""The command line: ``python -m survey COMMAND``. Each command calls the same domain
functions as the app, on the database that ``DATABASE_URL`` names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import click

from models.settings import get_settings

# Each command imports what it needs (pandas, SciPy, Alembic take seconds to load), so that
# `--help` and the quick commands answer at once.


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Relationship Pulse: post-interaction surveys for B2B relationships."""


@main.command("migrate")
def migrate_command() -> None:
    """Upgrade the database schema to the newest version."""
    from survey.operations.startup import prepare_database, say_on_stderr

    prepare_database(say=say_on_stderr)
    click.echo("database schema is up to date")


@main.command("demo")
@click.option("--seed", default=7, show_default=True, help="Random seed, for a repeatable data set.")
def demo_command(seed: int) -> None:
    """Fill an empty database with two years of demo accounts and responses."""
    from models.db import session_scope
    from survey.demo.data import is_empty, seed_demo
    from survey.operations.startup import prepare_database, say_on_stderr

    prepare_database(say=say_on_stderr)
    with session_scope() as session:
        if not is_empty(session):
            raise click.ClickException(
                "the database already has accounts; demo data goes only into an empty one"
            )
        summary = seed_demo(session, now=datetime.now(UTC), seed=seed)
    click.echo(
        f"demo data: {summary.accounts} accounts, {summary.contacts} contacts, "
        f"{summary.interactions} interactions, {summary.responses} responses"
    )


@main.command("invite")
@click.option("--account", "account_name", required=True, help="Account name; created if new.")
@click.option("--contact", "contact_email", required=True, help="Contact's email; created if new.")
@click.option("--touchpoint", required=True, help="Touchpoint code or name, e.g. delivery or 'Service call'.")
@click.option("--name", "contact_name", default="", help="Contact's name, for a new contact.")
@click.option("--language", default="en", show_default=True, help="Survey language, for a new contact.")
@click.option("--valid-days", type=click.IntRange(min=1), default=None, help="Days until the link expires.")
@click.option("--send", is_flag=True, help="Also email the link (SMTP from PULSE_SMTP_*, else the outbox).")
def invite_command(
    account_name: str,
    contact_email: str,
    touchpoint: str,
    contact_name: str,
    language: str,
    valid_days: int | None,
    send: bool,
) -> None:
    """Record an interaction now and print the contact's survey link (last line).

    At a touchpoint with a survey delay the invitation is scheduled instead: no link is printed,
    and `send-scheduled` (cron) emails it once the delay has passed.

    A contact who opted out, bounced, or was surveyed within PULSE_FATIGUE_DAYS is not invited:
    the interaction is recorded, the reason printed, and the command fails."""
    from models.db import session_scope
    from survey.collecting.invitations import InviteError
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.sending.rules import record_and_invite

    settings = get_settings()
    prepare_database(say=say_on_stderr)
    try:
        with session_scope() as session:
            outcome = record_and_invite(
                session,
                account_name=account_name,
                contact_email=contact_email,
                touchpoint=touchpoint,
                contact_name=contact_name,
                language=language,
                now=datetime.now(UTC),
                base_url=settings.base_url,
                valid_days=valid_days or settings.link_valid_days,
                fatigue_days=settings.fatigue_days,
            )
    except InviteError as exc:
        raise click.ClickException(str(exc)) from exc
    result = outcome.invitation
    if result is None:
        for line in outcome.created:
            click.echo(f"created {line}")
        raise click.ClickException(f"{contact_email} was not invited: {outcome.not_invited}")
    if result.scheduled_for is not None:
        # The touchpoint's survey delay: `send-scheduled` (cron) emails it once due.
        for line in result.created:
            click.echo(f"created {line}")
        return
    if send:
        from survey.sending.delivery import send_invitation
        from survey.sending.mailer import MailSettings

        with session_scope() as session:
            sent = send_invitation(
                session,
                result.invitation_id,
                result.link,
                now=datetime.now(UTC),
                mail=MailSettings.from_env(),
            )
        result.created.append(f"email to {sent.to}: {sent.status} {sent.detail}".rstrip())
    for line in result.created:
        click.echo(f"created {line}")
    click.echo(result.link)


@main.command("import-transactions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_transactions_command(file: Path) -> None:
    """Import transactional measures per account and period from a CSV or Excel FILE.

    Columns: account (CRM id or name), period (2026, 2026-Q2 or 2026-05), sales_transactions,
    information_requests, positive_service_events, referral_sales, days_since_purchase,
    days_since_payment, monetary_volume (survey/imports/templates/README.md). Every problem is
    listed by row and column and then nothing is imported; importing again replaces rows.
    """
    from models.db import session_scope
    from survey.imports.transactions import TransactionImportError, import_transactions
    from survey.operations.startup import prepare_database, say_on_stderr

    prepare_database(say=say_on_stderr)
    try:
        with session_scope() as session:
            summary = import_transactions(session, file.read_bytes(), file.name)
    except TransactionImportError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{file.name} was not imported: {len(exc.problems)} problem(s)") from exc
    click.echo(f"imported {file.name}: {summary.added} added, {summary.updated} updated")


def _item_list(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise click.ClickException(f"{option} has an empty item name: {text!r}")
    return names


@main.command("reliability")
@click.option(
    "--csv",
    "csv_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file (UTF-8, header in row 1), one column per item; empty cells are missing answers.",
)
@click.option("--items", required=True, help="Item columns of the scale, comma-separated, e.g. A1,A2,A3.")
@click.option("--reverse", default="", help="Reverse-keyed items among --items, mirrored as min+max-x.")
@click.option("--min", "low", type=float, required=True, help="Lowest answer on the scale, e.g. 1.")
@click.option("--max", "high", type=float, required=True, help="Highest answer on the scale, e.g. 6.")
def reliability_command(csv_path: Path, items: str, reverse: str, low: float, high: float) -> None:
    """Cronbach's alpha of a scale in a CSV file, as R psych::alpha reports raw_alpha.

    Missing answers are handled pairwise; the 95% interval is Feldt's (psych alpha.ci) with n =
    every data row. Prints one JSON object: alpha, ci95, n and alpha_if_dropped (item: alpha
    without it; empty for two items). Needs no database.
    """
    from survey.reporting.reliability import (
        ReliabilityInputError,
        alpha_from_frame,
        load_item_csv,
        reverse_keyed,
    )

    item_names = _item_list(items, "--items")
    reverse_names = _item_list(reverse, "--reverse") if reverse.strip() else []
    try:
        frame = load_item_csv(csv_path, item_names, low, high)
        result = alpha_from_frame(reverse_keyed(frame, reverse_names, low, high))
    except ReliabilityInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result.as_json_dict()))


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "sav", "parquet"]), required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--start", default=None, help="First month submitted, YYYY-MM.")
@click.option("--end", default=None, help="Last month submitted, YYYY-MM (inclusive).")
@click.option("--segment", "segments", multiple=True, help="Only this segment (repeatable).")
@click.option("--touchpoint", "touchpoints", multiple=True, help="Touchpoint code or name (repeatable).")
@click.option("--role", "roles", multiple=True, help="Contact role, e.g. decision_maker (repeatable).")
@click.option("--account", "accounts", multiple=True, help="Account name or id (repeatable).")
@click.option("--owner", default=None, help="Only the accounts this account manager owns (sign-in name).")
@click.option("--long", "long_format", is_flag=True, help="One row per answer instead of per response.")
@click.option("--bom", is_flag=True, help="CSV: start with a byte-order mark, for Excel.")
def export_command(
    fmt: str,
    out: Path,
    start: str | None,
    end: str | None,
    segments: tuple[str, ...],
    touchpoints: tuple[str, ...],
    roles: tuple[str, ...],
    accounts: tuple[str, ...],
    owner: str | None,
    long_format: bool,
    bom: bool,
) -> None:
    """Export responses for SPSS, R or Excel, with the dashboard's filters; prints the row count."""
    from models.db import session_scope
    from survey.exports.names import filters_from_names
    from survey.exports.rows import ExportError, ExportRequest
    from survey.exports.writers import Format, export
    from survey.operations.startup import prepare_database, say_on_stderr
    from survey.people import audit
    from survey.people.access import Scope, owner_scope

    prepare_database(say=say_on_stderr)

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done:,} of {total:,} responses", nl=False, err=True)

    try:
        with session_scope() as session:
            filters = filters_from_names(
                session,
                start=start,
                end=end,
                segments=segments,
                touchpoints=touchpoints,
                roles=roles,
                accounts=accounts,
            )
            scope = owner_scope(session, owner) if owner else Scope.everything()
            request = ExportRequest(filters=filters, scope=scope, long=long_format)
            rows = export(session, cast(Format, fmt), out, request, bom=bom, progress=progress)
            whose = f", accounts of {owner}" if owner else ""
            audit.record(session, audit.cli_actor(), "export", f"{rows} rows as {fmt} to {out}{whose}")
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("", err=True)
    click.echo(f"{rows} rows written to {out}")


def _add_people_commands() -> None:
    from survey.cli.keys import (
        apikey_group,
        expire_command,
        import_crm_command,
        send_reminders_command,
        send_scheduled_command,
    )
    from survey.cli.people import (
        backup_command,
        erase_contact_command,
        purge_comments_command,
        restore_command,
        user_group,
    )

    commands = (
        user_group,
        erase_contact_command,
        purge_comments_command,
        apikey_group,
        backup_command,
        restore_command,
    )
    from survey.cli.loop import (
        loop_metrics_command,
        process_bounces_command,
        webhook_group,
        worker_command,
    )

    loop_commands = (worker_command, webhook_group, process_bounces_command, loop_metrics_command)
    from survey.cli.instrument import instrument_group, touchpoint_group

    for command in (
        *commands,
        *loop_commands,
        send_reminders_command,
        send_scheduled_command,
        expire_command,
        import_crm_command,
        touchpoint_group,
        instrument_group,
    ):
        main.add_command(command)
    from survey.cli.quality import cfa_command

    main.add_command(cfa_command)


_add_people_commands()


def _add_account_commands() -> None:
    from survey.cli.accounts import action_group, check_accounts_command

    main.add_command(action_group)
    main.add_command(check_accounts_command)


_add_account_commands()
