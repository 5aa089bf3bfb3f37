"""A real app server (``streamlit run server.py``) on a free port, for tests over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    # The server's output goes to a file: a pipe nobody reads fills up and stops the server.
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in ``finally``
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
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
                output = (tmp_path / "server.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"the app did not start:\n{output}")
            time.sleep(0.3)
        yield base_url, env | {"PID": str(process.pid)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            output = (tmp_path / "server.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the app did not stop within 20 s:\n{output}") from None
        finally:
            log.close()
