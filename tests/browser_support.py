"""What the browser tests share: a real app server on a free port and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_support import ROOT, free_port, running_app  # noqa: F401 - shared with the browser tests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless as root, and no calls home: this machine has no network beyond loopback.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    if os.environ.get("PULSE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"PULSE_REQUIRE_BROWSER=1 but Chromium is missing at {CHROMIUM}")
    pytest.skip(
        "Chromium not installed (apt-get install chromium); browser test skipped", allow_module_level=True
    )


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def settled(page) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=30_000)
    # Long enough for a rerun the last click triggered to have begun, even on a busy machine.
    page.wait_for_timeout(600)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=30_000)


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``python -m survey`` on the app's database; fails the test on an error."""
    done = subprocess.run(
        [sys.executable, "-m", "survey", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
