"""What the browser tests share: a real app server on a free port and headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_app(
    tmp_path: Path, *extra_args: str, port: int | None = None, host: str = "127.0.0.1"
) -> Iterator[tuple[str, dict[str, str]]]:
    """The app served by ``streamlit run`` on its own SQLite file; yields its URL and env."""
    port = port or free_port()
    base_url = f"http://{host}:{port}"
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pulse.db'}",
        "PULSE_BASE_URL": base_url,
        "PULSE_DEMO_DATA": "0",
    }
    command = [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", *extra_args]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the app did not start")
            time.sleep(0.3)
        yield base_url, env
    finally:
        process.terminate()
        process.wait(timeout=20)


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
