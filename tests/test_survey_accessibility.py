"""The survey in a real headless Chromium: axe-core finds no serious or critical WCAG 2.1 AA
violation on any survey screen at phone and desktop sizes, and a pulse can be answered and
submitted with the keyboard alone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session, select

from models.db import make_engine
from models.tables import Answer, Response
from tests.browser_support import browser, cli, running_app, settled

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
BLOCKING = ("serious", "critical")

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # a fixture, used by name
REPORT: dict[str, list[str]] = {}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with running_app(tmp_path) as running:
        yield running


def invite(env: dict[str, str], email: str, *, pulse: bool) -> str:
    """A link to a pulse (the contact had a check-up a moment ago) or to a check-up."""
    args = ["invite", "--account", "Lumen Labs", "--contact", email, "--touchpoint", "delivery"]
    # No rest period here: the same contact is invited twice in a row to get a pulse.
    forms = env | {"PULSE_CHECKUP_DAYS": "90", "PULSE_FATIGUE_DAYS": "0"}
    if pulse:
        cli(forms, *args)
    return cli(forms, *args).strip().splitlines()[-1]


def violations(page, screen: str) -> list[str]:
    """Serious and critical axe-core violations of WCAG 2.1 A and AA on the page as it is."""
    results = Axe().run(page, options=WCAG_AA)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]
    REPORT[screen] = [
        f"{v['id']} ({v['impact']}) {[n.get('html', '')[:150] for n in v['nodes']][:4]}"
        for v in results.response["violations"]
    ]
    return found


def focused(page) -> tuple[str, str]:
    return tuple(page.evaluate("[document.activeElement.getAttribute('role') || '', "
                               "(document.activeElement.innerText || '').trim()]"))  # fmt: skip


def tab_to(page, role: str, text: str, limit: int = 60) -> None:
    """Press Tab until the focused element has ``role`` and ends with ``text``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now_role, label = focused(page)
        if now_role == role and label.endswith(text):
            return
    raise AssertionError(f"{text!r} is never reached with Tab")


def choose_with_arrows(page, first: str, wanted: str) -> None:
    """In a row of options (one Tab stop, arrows move), go from ``first`` to ``wanted`` and take it."""
    tab_to(page, "radio", first)
    for _ in range(int(wanted) - int(first)):
        page.keyboard.press("ArrowRight")
    assert focused(page) == ("radio", wanted)
    page.keyboard.press("Space")
    settled(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_survey_screen_has_no_serious_violation(server, browser, viewport):
    base_url, env = server
    size = "phone" if viewport is PHONE else "desktop"
    page = browser.new_page(viewport=viewport)
    problems: dict[str, list[str]] = {}

    page.goto(invite(env, f"pulse-{size}@lumen.example", pulse=True) + "&nps=8")
    page.get_by_role("button", name="Submit my answers").wait_for()
    settled(page)
    problems["pulse"] = violations(page, f"{size} pulse")
    page.get_by_role("button", name="Submit my answers").click()
    page.get_by_text("Thank you!").wait_for()
    settled(page)
    problems["thanks"] = violations(page, f"{size} thanks")

    page.goto(invite(env, f"check-{size}@lumen.example", pulse=False))
    for part in range(1, 9):
        page.get_by_text(f"Part {part} of 8").wait_for()
        settled(page)
        problems[f"check-up part {part}"] = violations(page, f"{size} check-up part {part}")
        if part < 8:
            if part == 6:  # the 0-10 question is required
                group = page.locator("[data-testid='stButtonGroup']").last
                group.locator("button", has_text=re.compile("^7$")).click()
                settled(page)
            page.get_by_role("button", name="Next").click()

    page.goto(f"{base_url}/?t=not-a-real-link")
    page.get_by_text("This link is incomplete or damaged").wait_for()
    settled(page)
    problems["bad link"] = violations(page, f"{size} bad link")
    print(json.dumps(REPORT, indent=1))  # what axe reported, every impact, for the record
    assert {screen: found for screen, found in problems.items() if found} == {}


def test_a_pulse_is_answered_and_submitted_with_the_keyboard_alone(server, browser):
    _, env = server
    page = browser.new_page(viewport=PHONE)
    page.goto(invite(env, "keys@lumen.example", pulse=True))
    page.get_by_role("button", name="Submit my answers").wait_for()
    settled(page)
    choose_with_arrows(page, "1", "6")  # the first statement: agree 6
    choose_with_arrows(page, "0", "9")  # the 0-10 question is the only row starting at 0
    tab_to(page, "", "Submit my answers")
    page.keyboard.press("Enter")
    page.get_by_text("Thank you!").wait_for()
    engine = make_engine(env["DATABASE_URL"])
    with Session(engine) as session:
        response = session.exec(select(Response).where(Response.form == "pulse")).one()
        answers = session.exec(select(Answer.value).where(Answer.response_id == response.id)).all()
    engine.dispose()
    assert response.nps == 9
    assert sorted(answers) == [6, 9]
