"""The Integrations page (admins): webhooks and chat channels, through AppTest."""

from sqlmodel import select

from models.tables import ChatChannel, WebhookEndpoint
from tests.factories import team_app


def open_page(db):
    at = team_app(db, role="admin").run()
    return at.switch_page("pages/integrations.py").run()


def test_an_admin_adds_a_webhook_sees_its_secret_once_and_removes_it(db):
    at = open_page(db)
    at.text_input[0].input("https://crm.example.com/hooks")
    at.button[0].click().run()
    assert not at.exception
    endpoint = db.exec(select(WebhookEndpoint)).one()
    assert endpoint.events == "followup.created"
    assert at.code[0].value == endpoint.secret
    assert endpoint.secret.startswith("whsec_")
    at.run()
    assert not at.code  # shown once
    at.button(key=f"wh_remove_{endpoint.id}").click().run()
    db.expire_all()
    assert db.exec(select(WebhookEndpoint)).all() == []


def test_a_bad_webhook_url_is_named_and_nothing_is_added(db):
    at = open_page(db)
    at.text_input[0].input("ftp://crm.example.com")
    at.button[0].click().run()
    shown = at.error[0].value.replace("\\", "")  # as the reader sees it, without Markdown escapes
    assert shown == "'ftp://crm.example.com' is not an http:// or https:// URL. Nothing was added."
    assert db.exec(select(WebhookEndpoint)).all() == []


def test_an_admin_adds_a_teams_channel_for_one_managers_accounts(db):
    at = open_page(db)
    at.text_input[1].input("Key accounts")
    at.text_input[2].input("https://example.webhook.office.com/webhookb2/abc")
    at.selectbox[0].select("teams")
    at.text_input[3].input("maria")
    at.button[1].click().run()
    assert not at.exception
    channel = db.exec(select(ChatChannel)).one()
    assert (channel.name, channel.style, channel.owner) == ("Key accounts", "teams", "maria")
