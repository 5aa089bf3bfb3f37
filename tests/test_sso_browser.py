"""Single sign-on end to end, offline: a local OpenID provider, the app started with an
``[auth]`` section, and a real browser signing in as a known and an unknown person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_support import browser, cli, free_port, playwright_api, running_app, settled

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # a fixture, used by name
oidc_mock = pytest.importorskip("oidc_provider_mock")

PEOPLE = [
    oidc_mock.User(
        sub="maria", claims={"email": "Maria@Acme.example", "email_verified": True, "name": "Maria"}
    ),
    oidc_mock.User(sub="eve", claims={"email": "eve@elsewhere.example", "email_verified": True}),
]


@pytest.fixture
def app_with_sso(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with oidc_mock.run_server_in_thread(user_claims=PEOPLE) as provider:
        port = free_port()
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            'cookie_secret = "a long random test secret for the sign-in cookie"\n'
            'client_id = "relationship-pulse"\n'
            'client_secret = "not-a-real-secret"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"\n',
            encoding="utf-8",
        )
        with running_app(tmp_path, "--secrets.files", str(secrets), port=port, host="localhost") as running:
            yield running


def sign_in_as(browser, base_url: str, who: str):
    page = browser.new_context().new_page()
    page.goto(base_url)
    settled(page)
    page.get_by_role("button", name="Sign in with your organisation").click()
    page.get_by_role("heading", name="Authorize Client").wait_for()
    page.get_by_role("button", name=who, exact=True).click()
    page.wait_for_url(f"{base_url}/**")
    settled(page)
    return page


def test_a_known_email_signs_in_with_its_role_and_an_unknown_one_is_refused(app_with_sso, browser):
    base_url, env = app_with_sso
    cli(env, "user", "add", "maria", "--role", "manager", "--email", "maria@acme.example", "--sso-only")

    page = sign_in_as(browser, base_url, "maria")
    playwright_api.expect(page.get_by_text("Signed in as maria · manager")).to_be_visible(timeout=30_000)
    playwright_api.expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    stranger = sign_in_as(browser, base_url, "eve")
    playwright_api.expect(stranger.get_by_text("no user of this app has your email")).to_be_visible(
        timeout=30_000
    )
    assert stranger.get_by_role("heading", name="Overview").count() == 0
    audit = cli(env, "user", "list")
    assert "maria\tmanager\tactive\tlast sign-in 20" in audit
