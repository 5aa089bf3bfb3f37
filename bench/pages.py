"""Benchmark: every team page in a real browser, on a built base, as an admin and as a manager.

    .venv/bin/python -m bench.pages --db FILE [--manager alex.morgan] [--port N]
        [--pages "Dashboard,Account timeline"] [--roles admin,manager] [--rounds 3] [--cold]

``FILE`` is a base ``bench.base`` built (``python -m bench.base --out FILE``). The benchmark
adds two users to it when missing (``bench-admin``, an admin, and the manager, who owns
accounts in the base), starts the real server (``streamlit run server.py``) on it, and in
headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright) signs in as each and
opens every page of that user's menu in turn (read from the sidebar, each entry by its exact
title). Before each page one new response is submitted
through the survey's own submit transaction (to an account the manager owns), so every
timing is the first open after a new response. A page is timed from the click on its menu
entry until the app's script has run (``data-test-script-state`` back to ``notRunning``
after having run) and nothing on the page is stale (``data-stale``) or spinning
(``stSpinner``) for ``SETTLE_MS`` (not counted).

The server reads each reader's first figures as it starts (``survey.operations.warming``)
and fits the Instrument quality page's models; the benchmark waits until it says it has done
both (the benchmark's admin is active), and logs how long that took. ``--cold`` starts it
without (``PULSE_WARM_FIGURES=0``): each page's first open then reads its figures whole, as
when someone opens a page before the warming is done or on filters nobody opened before.

Within a page, what a reader turns on and then waits for (``ACTIONS``: the Dashboard's falls
account by account) is timed the same way after the page opened, again the first after a new
response, from the click on the toggle (``page=Dashboard:falls_account_by_account``).

Signing in is timed the same way, from the click on "Sign in" until the landing page has
settled (``page=Sign-in`` in the lines): it is the landing page's first open, after the
password's check.

The whole walk (signing in, then every page) is made ``--rounds`` times, each round in a new
browser context, on the same server: one open of a page is at the mercy of whatever else the
two cores do at that moment (the browser drawing, the server's background work), so a page's
figure is the median of its rounds' opens, each still the first open after a new response.

Progress goes to stderr; stdout gets one line per page and role, after the last round:
``page=<title> role=<admin|manager> start=<kept|cold> open_ms=<median> first_ms=<round 1>
max_ms=<slowest> rounds=<n> target_ms=2000 ok=<yes|no>`` (``ok``: the median under the target).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# Run as a file (``python bench/pages.py``) the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Locator, Page, sync_playwright
from sqlmodel import Session

from bench.dashboard import new_response
from bench.measure import log
from models.db import make_engine
from survey.people.access import owner_scope
from survey.people.users import UserError, add_user, set_active, set_password, set_role

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PASSWORD = "bench password 123"
ADMIN = "bench-admin"
SETTLE_MS = 300
TARGET_MS = 2000
WARMED = "first figures kept for"  # what the server says once it has read them
FITTED = "instrument quality "  # then, with an admin or analyst active, once it fitted the models

# True once the script has run since ``window.__pulseArmed`` and the page then stayed
# settled (not running, nothing stale, no spinner) for SETTLE_MS.
SETTLED_JS = """
(settleMs) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app) return false;
  const running = app.getAttribute("data-test-script-state") !== "notRunning";
  if (running) window.__pulseRan = true;
  const busy = running || document.querySelector("[data-stale='true'], [data-testid='stSpinner']");
  const now = performance.now();
  if (busy || !(window.__pulseRan || now - window.__pulseArmed > 1500)) {
    window.__pulseCalm = null;
    return false;
  }
  window.__pulseCalm = window.__pulseCalm || now;
  return now - window.__pulseCalm >= settleMs;
}
"""
ARM_JS = """
() => {
  window.__pulseRan = false; window.__pulseCalm = null; window.__pulseArmed = performance.now();
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    if (app.getAttribute("data-test-script-state") !== "notRunning") window.__pulseRan = true;
  }).observe(app, {attributes: true});
}
"""


def ensure_users(url: str, manager: str) -> int:
    """The admin and the manager exist, active, with their role and ``PASSWORD`` (a user already
    there, made by another tool, gets them too); returns an account the manager owns."""
    engine = make_engine(url)
    with Session(engine) as session:
        for name, role in ((ADMIN, "admin"), (manager, "manager")):
            try:
                add_user(session, name, role=role, password=PASSWORD, actor="bench")
            except UserError:  # already there
                session.rollback()
                set_password(session, name, PASSWORD, actor="bench")
                set_role(session, name, role, actor="bench")
                set_active(session, name, True, actor="bench")
            session.commit()
        owned = owner_scope(session, manager).account_ids or frozenset()
    engine.dispose()
    if not owned:
        raise SystemExit(f"bench.pages: {manager} owns no account in this base")
    return min(owned)


@contextmanager
def server(url: str, port: int, *, warm: bool) -> Iterator[str]:
    env = os.environ | {
        "DATABASE_URL": url,
        "PULSE_DEMO_DATA": "0",
        "PULSE_BASE_URL": f"http://127.0.0.1:{port}",
        "PULSE_WARM_FIGURES": "1" if warm else "0",
    }
    command = [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        log_file = Path(folder) / "server.log"
        with log_file.open("a") as said:
            yield from _served(command, env, port, said, log_file, warm=warm)


def _served(
    command: list[str], env: dict[str, str], port: int, said: IO[str], log_file: Path, *, warm: bool
) -> Iterator[str]:
    """The server started with its stderr appended to ``said`` (``log_file``, read apart)."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=said)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("bench.pages: the server did not start")
            time.sleep(0.5)
        while warm:
            lines = log_file.read_text(errors="replace").splitlines()
            kept = next((line for line in lines if line.startswith(WARMED)), None)
            fitted = next((line for line in lines if line.startswith(FITTED)), None)
            if kept is not None and fitted is not None:
                log(
                    f"server: {kept.strip()}; {fitted.strip()} "
                    f"({time.monotonic() - started:.1f} s after its start)"
                )
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("bench.pages: the server did not say its first figures were kept")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_settled(page: Page, timeout_ms: int = 600_000) -> None:
    page.wait_for_function(SETTLED_JS, arg=SETTLE_MS, polling=25, timeout=timeout_ms)


def sign_in(page: Page, base: str, username: str) -> float:
    """Sign in as ``username``: the time from the click until the landing page has settled."""
    page.goto(base)
    page.get_by_label("User name").wait_for(timeout=600_000)
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.evaluate(ARM_JS)
    started = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    wait_settled(page)
    took = (time.perf_counter() - started) * 1000 - SETTLE_MS
    refused = page.locator("[data-testid='stAlertContentError']")
    if refused.count():
        raise SystemExit(f"bench.pages: {username} could not sign in: {refused.first.inner_text()}")
    return took


def report(title: str, role: str, start: str, opens: Sequence[float]) -> None:
    """One page's line: the median of its rounds' opens, the first and the slowest."""
    median = statistics.median(opens)
    print(
        f"page={title.replace(' ', '_')} role={role} start={start} open_ms={median:.0f}",
        f"first_ms={opens[0]:.0f} max_ms={max(opens):.0f} rounds={len(opens)}",
        f"target_ms={TARGET_MS} ok={'yes' if median < TARGET_MS else 'no'}",
        flush=True,
    )


def _expanded(page: Page) -> Locator:
    """The sidebar menu, with every entry shown (a long menu shows its first entries only)."""
    nav = page.locator("[data-testid='stSidebarNav']")
    more = nav.get_by_role("button", name=re.compile(r"View \d+ more"))
    if more.count():
        more.first.click()
    return nav


def menu(page: Page) -> list[str]:
    """Every page of the signed-in user's menu, in menu order, read from the sidebar: a link's
    text is its icon's name, then its title. A slow landing page can settle before the menu is
    drawn: its first link is waited for."""
    page.locator("[data-testid='stSidebarNav']").get_by_role("link").first.wait_for(timeout=600_000)
    return [text.split("\n")[-1].strip() for text in _expanded(page).get_by_role("link").all_inner_texts()]


def open_page(page: Page, title: str) -> float:
    # By exact name: "Account" must not open "My accounts".
    link = _expanded(page).get_by_role("link", name=title, exact=True)
    page.evaluate(ARM_JS)
    started = time.perf_counter()
    link.click()
    wait_settled(page)
    return (time.perf_counter() - started) * 1000 - SETTLE_MS


# What a reader turns on within a page and waits for, timed like a page after it opened (first
# after a new response): the line's page is ``<page>:<what>``.
ACTIONS = {"Dashboard": ("falls_account_by_account", "Also look for falls account by account")}


def turn_on(page: Page, label: str) -> float:
    """Click the toggle ``label``: the time from the click until the page has settled again."""
    toggle = page.get_by_text(label, exact=True)
    toggle.wait_for(timeout=600_000)
    page.evaluate(ARM_JS)
    started = time.perf_counter()
    toggle.click()
    wait_settled(page)
    return (time.perf_counter() - started) * 1000 - SETTLE_MS


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a base built by bench.base (SQLite)")
    parser.add_argument("--manager", default="alex.morgan")
    parser.add_argument("--port", type=int, default=8631)
    parser.add_argument("--cold", action="store_true", help="start the server without reading figures ahead")
    parser.add_argument(
        "--pages", default="", help="comma-separated menu titles to open (default: every page of the menu)"
    )
    parser.add_argument("--roles", default="admin,manager", help="comma-separated, of admin, manager")
    parser.add_argument("--rounds", type=int, default=3, help="walks through every page (at least 1)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    only = {title.strip() for title in args.pages.split(",") if title.strip()}
    roles = {role.strip() for role in args.roles.split(",") if role.strip()}
    if not roles or not roles <= {"admin", "manager"}:
        parser.error(f"--roles: choose among admin, manager (got {args.roles!r})")
    if not args.db.exists():
        parser.error(f"{args.db} does not exist: build it with python -m bench.base --out {args.db}")
    url = f"sqlite:///{args.db.resolve()}"
    account_id = ensure_users(url, args.manager)
    writer = make_engine(url)
    number = 0
    start = "cold" if args.cold else "kept"
    with server(url, args.port, warm=not args.cold) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        opens: dict[tuple[str, str], list[float]] = {}
        for round_number in range(1, args.rounds + 1):
            for role, username in (("admin", ADMIN), ("manager", args.manager)):
                if role not in roles:
                    continue
                context = browser.new_context(viewport={"width": 1440, "height": 1000})
                page = context.new_page()
                opens.setdefault(("Sign-in", role), []).append(sign_in(page, base, username))
                titles = menu(page)
                unknown = only - set(titles)
                if unknown and round_number == 1:
                    log(f"{username}: not in this menu, skipped: {', '.join(sorted(unknown))}")
                # The landing page first: open another page, then come back to it.
                for title in (*titles[1:], titles[0]):
                    if only and title not in only:
                        continue
                    number += 1
                    new_response(writer, account_id, number)
                    opens.setdefault((title, role), []).append(open_page(page, title))
                    log(f"round {round_number}, {role}: {title} {opens[title, role][-1]:.0f} ms")
                    if title in ACTIONS:
                        action, label = ACTIONS[title]
                        number += 1
                        new_response(writer, account_id, number)
                        name = f"{title}:{action}"
                        opens.setdefault((name, role), []).append(turn_on(page, label))
                        log(f"round {round_number}, {role}: {name} {opens[name, role][-1]:.0f} ms")
                context.close()
            log(f"round {round_number} of {args.rounds} done")
        browser.close()
    for (title, role), times in sorted(opens.items(), key=lambda item: item[0][1]):
        report(title, role, start, times)
    writer.dispose()


if __name__ == "__main__":
    main()
