"""The user and privacy commands, as an operator types them."""

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlmodel import select

from models.tables import AuditEvent, Contact, Response, User
from survey.cli.main import main
from survey.people.audit import cli_actor
from tests.factories import respond


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_the_first_admin_is_created_with_a_prompted_password(app_db):
    result = run(
        "user", "add", "Boss", "--role", "admin", input="correct horse battery\ncorrect horse battery\n"
    )
    assert result.exit_code == 0, result.output
    assert "user boss added as admin" in result.output
    user = app_db.exec(select(User)).one()
    assert (user.username, user.role) == ("boss", "admin")
    assert "correct horse" not in user.password_hash


def test_user_commands_refuse_bad_input_with_a_message(app_db):
    assert (
        "at least 10 characters"
        in run("user", "add", "tom", "--role", "analyst", "--password", "short").output
    )
    assert run("user", "add", "tom", "--role", "analyst", "--password", "short").exit_code == 1
    assert "--sso-only needs --email" in run("user", "add", "eve", "--role", "analyst", "--sso-only").output
    assert "there is no user 'ghost'" in run("user", "disable", "ghost").output
    assert app_db.exec(select(User)).all() == []


def test_list_disable_enable_role_and_passwd(app_db):
    run("user", "add", "boss", "--role", "admin", "--password", "correct horse battery")
    run("user", "add", "maria", "--role", "manager", "--password", "correct horse battery")
    assert "no users yet" not in run("user", "list").output
    assert run("user", "disable", "maria").exit_code == 0
    assert "maria\tmanager\tdisabled" in run("user", "list").output
    assert run("user", "enable", "maria").exit_code == 0
    assert run("user", "role", "maria", "analyst").output.strip() == "user maria is now analyst"
    assert run("user", "passwd", "maria", input="another long secret\nanother long secret\n").exit_code == 0
    assert "last active admin" in run("user", "disable", "boss").output
    actions = app_db.exec(select(AuditEvent.action).where(AuditEvent.actor == cli_actor())).all()
    assert cli_actor().startswith("cli:")
    assert len(cli_actor()) > len("cli:")
    assert actions.count("user_changed") == 4


def test_erase_contact_and_purge_comments(app_db, monkeypatch):
    now = datetime.now(UTC)
    respond(app_db, now - timedelta(days=400), email="old@acme.example")
    respond(app_db, now - timedelta(days=2), email="anna@acme.example")
    result = run("erase-contact", "--account", "Acme Tools", "--email", "anna@acme.example", "--yes")
    assert "1 response(s) anonymised" in result.output
    assert app_db.exec(select(Contact).where(Contact.email == "anna@acme.example")).first() is None
    assert (
        "has no contact"
        in run("erase-contact", "--account", "Acme Tools", "--email", "x@y.z", "--yes").output
    )
    assert "no retention period set" in run("purge-comments").output
    monkeypatch.setenv("PULSE_COMMENT_RETENTION_MONTHS", "12")
    assert "1 comment(s) older than 12 months purged" in run("purge-comments").output
    app_db.expire_all()
    # Anna's comment went with her erasure, the old one with the retention.
    assert app_db.exec(select(Response.comment)).all() == [None, None]
