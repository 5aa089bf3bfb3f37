"""Closing the loop from the command line: ``worker``, ``webhook add|list|remove``,
``process-bounces`` and ``loop-metrics``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click


def _session():  # noqa: ANN202 - a context manager from models.db
    from models.db import session_scope
    from survey.operations.startup import prepare_database

    prepare_database()
    return session_scope()


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass (due escalations, digests, deliveries), then stop.")
@click.option("--poll", type=click.FloatRange(min=0.5), default=None, help="Seconds between passes.")
def worker_command(once: bool, poll: float | None) -> None:
    """Deliver the outbox: alerts, digests, escalations, chat messages and webhook calls.

    The app does this itself; run it on its own where several replicas share one database
    (with PULSE_WORKER=0 for the app processes), as many as you like: each event goes once."""
    import threading

    from models.db import default_engine
    from models.settings import get_settings
    from survey.loop.worker import Outcome, run_forever, run_once
    from survey.operations.startup import prepare_database

    prepare_database()

    def report(outcomes: list[Outcome]) -> None:
        for item in outcomes:
            line = (
                f"#{item.event_id} {item.channel} {item.topic} to {item.target}: {item.status} {item.detail}"
            )
            click.echo(line.rstrip())

    if once:
        report(run_once(default_engine(), now=datetime.now(UTC)))
        return
    stop = threading.Event()
    click.echo("delivering the outbox; stop with Ctrl+C", err=True)
    try:
        run_forever(default_engine(), stop, poll=poll or get_settings().worker_poll_seconds, report=report)
    except KeyboardInterrupt:
        stop.set()


@click.group("webhook")
def webhook_group() -> None:
    """Outbound webhooks: other systems told about responses and follow-ups, signed per Standard Webhooks."""


@webhook_group.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help="Comma-separated: response.created, followup.created, followup.closed.",
)
def webhook_add_command(url: str, events: str) -> None:
    """Call URL on EVENTS; prints the endpoint's signing secret (give it to the receiver)."""
    from survey.loop.webhooks import WebhookError, add_endpoint

    try:
        with _session() as session:
            endpoint = add_endpoint(session, url, events, now=datetime.now(UTC))
    except WebhookError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"webhook #{endpoint.id} added: {endpoint.url} on {endpoint.events}", err=True)
    click.echo("signing secret (verify webhook-signature with it):", err=True)
    click.echo(endpoint.secret)


@webhook_group.command("list")
def webhook_list_command() -> None:
    """Every endpoint: id, state, events and URL (not the secret)."""
    from survey.loop.webhooks import list_endpoints

    with _session() as session:
        endpoints = list_endpoints(session)
    if not endpoints:
        click.echo(
            "no webhooks yet: add one with `python -m survey webhook add URL --events followup.created`"
        )
    for endpoint in endpoints:
        state = "active" if endpoint.active else "disabled"
        click.echo(f"{endpoint.id}\t{state}\t{endpoint.events}\t{endpoint.url}")


@webhook_group.command("remove")
@click.argument("endpoint_id", type=int)
def webhook_remove_command(endpoint_id: int) -> None:
    """Remove the endpoint ENDPOINT_ID; calls still waiting for it are cancelled."""
    from survey.loop.webhooks import WebhookError, remove_endpoint

    try:
        with _session() as session:
            endpoint = remove_endpoint(session, endpoint_id)
    except WebhookError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"webhook #{endpoint_id} removed ({endpoint.url})")


@click.command("process-bounces")
@click.argument("path", type=click.Path(path_type=Path))
def process_bounces_command(path: Path) -> None:
    """Read delivery-failure reports from PATH (a maildir folder or an mbox file) and mark the
    invitations of addresses that failed for good as bounced; safe to run again."""
    from survey.sending.bounces import BounceError, process

    try:
        with _session() as session:
            result = process(session, path, now=datetime.now(UTC))
    except BounceError as error:
        raise click.ClickException(str(error)) from error
    for address in result.addresses:
        note = " (never invited)" if address in result.unknown else ""
        click.echo(f"bounced for good: {address}{note}")
    click.echo(
        f"{result.messages} message(s), {result.reports} failure report(s), "
        f"{len(result.addresses)} address(es), {result.invitations} invitation(s) marked bounced"
    )


@click.command("loop-metrics")
@click.option(
    "--days", type=click.IntRange(min=1), default=90, show_default=True, help="Follow-ups of the last N days."
)
@click.option("--owner", default=None, help="Only the accounts this account manager owns (sign-in name).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines of text.")
def loop_metrics_command(days: int, owner: str | None, as_json: bool) -> None:
    """Median hours to first action and to close, share closed within the service level, and
    recovery rate, each with its 95% interval and n."""
    from survey.followup.metrics import loop_metrics
    from survey.people.access import EVERYTHING, owner_scope

    with _session() as session:
        scope = owner_scope(session, owner) if owner else EVERYTHING
        metrics = loop_metrics(session, now=datetime.now(UTC), days=days, scope=scope)
    if as_json:
        click.echo(json.dumps(metrics.as_json_dict()))
        return

    def interval(low: float | None, high: float | None, fmt: str) -> str:
        return "" if low is None or high is None else f" (95% {low:{fmt}}–{high:{fmt}})"

    click.echo(f"{metrics.follow_ups} follow-up(s) opened in the last {days} days")
    for label, median in (("to first action", metrics.first_action), ("to close", metrics.close)):
        value = "—" if median.hours is None else f"{median.hours:.1f} h"
        click.echo(f"median hours {label}: {value}{interval(median.low, median.high, '.1f')}, n = {median.n}")
    for label, share in (
        ("closed within the service level", metrics.within_sla),
        ("recovery rate", metrics.recovery),
    ):
        value = "—" if share.share is None else f"{share.share:.0%}"
        click.echo(f"{label}: {value}{interval(share.low, share.high, '.0%')}, {share.k} of {share.n}")
