"""``python -m survey apikey …`` as an operator types it."""

from click.testing import CliRunner
from sqlmodel import select

from models.tables import ApiKey
from survey.cli.main import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_key_is_printed_once_stored_hashed_listed_and_revoked(app_db):
    created = run("apikey", "create", "--name", "Salesforce", "--scope", "write:interactions")
    assert created.exit_code == 0
    assert "write:interactions: report interactions" in created.stderr
    assert "read:responses" not in created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rp_")
    assert len(key) > 40
    stored = app_db.exec(select(ApiKey)).one()
    assert key not in stored.key_hash
    assert "Salesforce\tactive\twrite:interactions\t" in run("apikey", "list").output
    assert key not in run("apikey", "list").output
    again = run("apikey", "create", "--name", "Salesforce", "--scope", "read:responses")
    assert "exists already" in again.output
    assert run("apikey", "revoke", "Salesforce").exit_code == 0
    assert "Salesforce\trevoked" in run("apikey", "list").output
    assert "there is no key named 'Zendesk'" in run("apikey", "revoke", "Zendesk").output


def test_a_key_needs_a_scope_and_may_have_both(app_db):
    missing = run("apikey", "create", "--name", "BI")
    assert missing.exit_code != 0
    assert "--scope" in missing.output
    both = run(
        "apikey", "create", "--name", "BI", "--scope", "read:responses", "--scope", "write:interactions"
    )
    assert both.exit_code == 0
    assert "BI\tactive\twrite:interactions,read:responses\t" in run("apikey", "list").output
