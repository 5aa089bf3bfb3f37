"""End to end in a real headless Chromium: a link from ``invite`` answered on a phone-sized
screen, stored, and read back on the team's overview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Answer, IndicatorScore, Response
from survey.instrument.definition import load_instrument
from tests.browser_support import browser, cli, playwright_api, running_app, settled

PHONE = {"width": 390, "height": 844}
SCALE_CODES = [item.code for item in load_instrument().items if item.indicator]

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # a fixture, used by name


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with running_app(tmp_path) as running:
        yield running


def option(group, value: str):
    """The button of ``value`` in a segmented control or a row of pills."""
    return group.locator("button", has_text=re.compile(f"^{re.escape(value)}$"))


def choose(group, value: str) -> None:
    button = option(group, value)
    button.click()
    playwright_api.expect(button).to_have_attribute("aria-checked", "true")
    settled(group.page)


def choose_in_every_scale(page, value: str) -> None:
    groups = page.locator("[data-testid='stButtonGroup']")
    for index in range(groups.count()):
        choose(groups.nth(index), value)


def next_part(page, part: int) -> None:
    page.get_by_role("button", name="Next").click()
    page.get_by_text(f"Part {part} of 8").wait_for()
    settled(page)


def test_a_link_from_invite_is_answered_on_a_phone_and_shows_on_the_overview(server, browser, tmp_path):
    base_url, env = server
    # The very first request of a fresh server, straight at an admin page, shows no admin page.
    intruder = browser.new_page()
    intruder.goto(f"{base_url}/users")
    settled(intruder)
    intruder.get_by_text("Sign in").first.wait_for()
    assert intruder.get_by_text("Add a user").count() == 0
    intruder.close()
    cli(env, "user", "add", "boss", "--role", "admin", "--password", "correct horse battery")

    invited = cli(env, "invite", "--account", "Lumen Labs", "--contact", "kim@lumen.example",
                  "--touchpoint", "onboarding")  # fmt: skip
    link = invited.strip().splitlines()[-1]
    assert link.startswith(base_url)

    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(link)
    page.get_by_text("Part 1 of 8").wait_for()
    settled(page)
    assert page.get_by_text("Survey for Lumen Labs").is_visible()
    # Nothing may stick out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    for part in range(2, 7):  # satisfaction .. mind-set: agree 6 with every statement
        choose_in_every_scale(page, "6")
        next_part(page, part)
    choose_in_every_scale(page, "6")  # word-of-mouth statements, then the 0-10 question
    choose(page.locator("[data-testid='stButtonGroup']").last, "10")
    next_part(page, 7)
    page.get_by_text("I can't say").click()
    settled(page)
    next_part(page, 8)
    page.get_by_text("It went as expected").click()
    settled(page)
    page.get_by_label("Is there anything else you would like to tell us? (optional)").fill(
        "Great onboarding."
    )
    page.keyboard.press("Tab")
    settled(page)
    page.screenshot(path=str(tmp_path / "phone-before-submit.png"), full_page=True)
    page.get_by_role("button", name="Submit my answers").click()
    page.get_by_text("Your answers have been saved").wait_for()

    engine = make_engine(env["DATABASE_URL"])
    with Session(engine) as session:
        response = session.exec(select(Response)).one()
        scores = session.exec(select(IndicatorScore).where(IndicatorScore.response_id == response.id)).all()
        given = session.exec(
            select(Answer.item_code, Answer.value).where(Answer.response_id == response.id)
        ).all()
    engine.dispose()
    assert dict(given) == {code: 6 for code in SCALE_CODES} | {"NPS": 10}
    assert (response.nps, response.nps_category, response.moment) == (10, "promoter", "as_expected")
    assert response.comment == "Great onboarding."
    # Every statement answered 6: reverse-keyed ones count as 2, so each indicator is 5 (66.7).
    by_indicator = {score.indicator: round(score.score, 4) for score in scores}
    assert by_indicator["satisfaction"] == round((6 + 6 + 6 + 2) / 4, 4)
    assert by_indicator["mindset"] == round((6 + 6 + 2) / 3, 4)
    assert len(by_indicator) == 6

    page.goto(link)  # the same link again
    settled(page)
    assert page.get_by_text("This survey was already answered").is_visible()

    overview = browser.new_page(viewport={"width": 1280, "height": 900})
    overview.goto(base_url)
    settled(overview)
    overview.get_by_label("User name").fill("boss")
    overview.get_by_label("Password", exact=True).fill("correct horse battery")
    overview.get_by_role("button", name="Sign in").click()
    settled(overview)
    overview.get_by_text("Latest responses").wait_for()
    latest = overview.locator("[data-testid='stTable']")
    playwright_api.expect(latest).to_contain_text("Lumen Labs")
    playwright_api.expect(latest).to_contain_text("Onboarding")
    playwright_api.expect(latest).to_contain_text("promoter")


def test_the_api_is_served_by_the_same_process_as_the_app(server):
    import json
    import urllib.error
    import urllib.request

    base_url, env = server
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=10) as answer:
        assert json.load(answer) == {"status": "ok"}
    body = {
        "crm_interaction_id": "HD-1",
        "account": {"name": "Lumen Labs"},
        "contact": {"email": "kim@lumen.example"},
        "touchpoint": "service",
        "occurred_at": "2026-11-20T09:30:00+01:00",
    }

    def post(headers: dict[str, str]) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{base_url}/api/v1/interactions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as refused:
            return refused.code, json.load(refused)

    # The schema is ready before anyone opens a page: a CRM may call first.
    assert post({"Authorization": "Bearer rp_not-a-key"})[0] == 401
    key = (
        cli(env, "apikey", "create", "--name", "Help desk", "--scope", "write:interactions")
        .strip()
        .splitlines()[-1]
    )
    assert post({})[0] == 401
    status, created = post({"Authorization": f"Bearer {key}"})
    assert status == 201
    assert created["link"].startswith(f"{base_url}/?t=")
    assert post({"Authorization": f"Bearer {key}"})[0] == 200
