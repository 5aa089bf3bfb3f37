"""The loop's commands: webhook add|list|remove, worker --once and loop-metrics --json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlmodel import select

from models.tables import FollowUp, WebhookEndpoint
from survey.cli.main import main
from survey.followup.queue import close
from tests.factories import full_answers, respond
from tests.loop_support import Receiver

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_webhook_add_list_remove(app_db):
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["webhook", "add", "https://crm.example.com/hooks", "--events", "followup.created,followup.closed"],
    )
    assert added.exit_code == 0, added.output
    endpoint = app_db.exec(select(WebhookEndpoint)).one()
    assert added.output.strip().splitlines()[-1] == endpoint.secret
    listed = runner.invoke(main, ["webhook", "list"]).output
    assert f"{endpoint.id}\tactive\tfollowup.created,followup.closed\thttps://crm.example.com/hooks" in listed
    assert endpoint.secret not in listed
    bad = runner.invoke(main, ["webhook", "add", "https://x.example", "--events", "response.deleted"])
    assert bad.exit_code == 1
    assert "unknown event 'response.deleted'" in bad.output
    assert runner.invoke(main, ["webhook", "remove", str(endpoint.id)]).exit_code == 0
    assert "no webhooks yet" in runner.invoke(main, ["webhook", "list"]).output
    assert "there is no webhook endpoint #99" in runner.invoke(main, ["webhook", "remove", "99"]).output


def test_worker_once_delivers_what_is_due_and_says_so(app_db, time_machine):
    time_machine.move_to(NOW, tick=False)
    with Receiver() as receiver:
        receiver.subscribe(app_db, "response.created", NOW)
        respond(app_db, NOW - timedelta(minutes=1), full_answers())
        result = CliRunner().invoke(main, ["worker", "--once"])
        assert result.exit_code == 0, result.output
        assert "webhook response.created to 1: sent HTTP 204" in result.output
        assert CliRunner().invoke(main, ["worker", "--once"]).output == ""
    assert len(receiver.calls) == 1


def test_loop_metrics_as_json(app_db, time_machine):
    time_machine.move_to(NOW, tick=False)
    for number in range(3):
        # One account each: flagged contacts of one account would also open the account's follow-up.
        respond(
            app_db,
            NOW - timedelta(days=5),
            full_answers() | {"NPS": 2},
            email=f"p{number}@acme.example",
            account=f"Customer {number}",
        )
    for number, follow_up in enumerate(app_db.exec(select(FollowUp).order_by(FollowUp.id)).all()):
        close(app_db, follow_up.id, "Called", NOW - timedelta(days=5) + timedelta(hours=12 * (number + 1)))
    app_db.commit()
    result = CliRunner().invoke(main, ["loop-metrics", "--json", "--days", "30"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["follow_ups"] == 3
    assert data["close"]["hours"] == 24.0
    assert data["close"]["n"] == 3
    assert (data["within_sla"]["k"], data["within_sla"]["n"]) == (2, 3)
    assert 0 < data["within_sla"]["low"] < data["within_sla"]["share"] < data["within_sla"]["high"] < 1
    assert data["recovery"] == {"share": None, "low": None, "high": None, "k": 0, "n": 0}
    text = CliRunner().invoke(main, ["loop-metrics", "--days", "30"]).output
    assert "closed within the service level: 67% (95% " in text
