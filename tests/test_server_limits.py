"""The real server (``streamlit run server.py``) under unauthenticated floods, and the headers
every response carries."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.server_support import running_app

MB = 1 << 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def post_huge(port: int, megabytes: int, chunked: bool, statuses: list[int]) -> None:
    head = "POST /api/v1/interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {megabytes * MB}\r\n"
    piece = b"{" * MB
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall((head + "\r\n").encode())
        try:
            for _ in range(megabytes):
                connection.sendall(f"{MB:x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
        except OSError:
            pass  # answered and closed early
        try:
            statuses.append(int(connection.recv(32).split()[1]))
        except (OSError, ValueError, IndexError):
            statuses.append(0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with running_app(tmp_path_factory.mktemp("server")) as (base_url, env):
        yield base_url, int(env["PID"])


@pytest.mark.parametrize("chunked", [False, True])
def test_four_unauthenticated_300_mb_posts_leave_the_server_under_500_mb(server, chunked):
    base_url, pid = server
    port = int(base_url.rsplit(":", 1)[1])
    peak = rss_mb(pid)
    statuses: list[int] = []
    clients = [threading.Thread(target=post_huge, args=(port, 300, chunked, statuses)) for _ in range(4)]
    for client in clients:
        client.start()
    while any(client.is_alive() for client in clients):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.02)
    assert peak < 500, f"the server grew to {peak:.0f} MB"
    assert sorted(statuses) == ([401] * 4 if chunked else [413] * 4)


def test_every_response_carries_the_security_headers_and_metrics_are_hidden(server):
    base_url, _ = server
    for path in ("/", "/healthz", "/_stcore/health"):
        with urllib.request.urlopen(base_url + path, timeout=10) as answer:
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            assert answer.headers["Referrer-Policy"] == "no-referrer"
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
    with pytest.raises(urllib.error.HTTPError) as hidden:
        urllib.request.urlopen(base_url + "/_stcore/metrics", timeout=10)
    assert hidden.value.code == 404


def test_a_running_server_neither_watches_nor_reloads_the_project_files():
    """A file watcher over the whole project (.venv included) overflows and floods the log
    whenever files change nearby; a server in production never reloads its own code."""
    import tomllib

    config = tomllib.loads(
        (Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text()
    )
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False
