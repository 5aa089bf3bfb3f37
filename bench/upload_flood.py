"""Unauthenticated huge posts at the API: does the server's memory stay put?

Starts ``server.py`` (``streamlit run``) on its own SQLite file, then has ``--clients`` clients
post ``--mb`` megabytes each to ``POST /api/v1/interactions`` at the same instant, without a
key: once declaring the length (``Content-Length``) and once streamed in chunks without one.
The server's resident memory is sampled every 20 ms. One line per case:
``case=… clients=… body_mb=… statuses=… sent_mb=… rss_before_mb=… rss_peak_mb=… seconds=…``.

    python -m bench.upload_flood [--clients 4] [--mb 300]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1 << 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"DATABASE_URL": f"sqlite:///{folder / 'pulse.db'}", "PULSE_DEMO_DATA": "0"}
    command = [sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return process, port
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("the server did not start")


def post(port: int, megabytes: int, declared: bool) -> tuple[int, int]:
    """Send the body until the server stops listening; returns (status, bytes sent)."""
    total = megabytes * CHUNK
    head = (
        f"POST /api/v1/interactions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    )
    head += f"Content-Length: {total}\r\n" if declared else "Transfer-Encoding: chunked\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall((head + "\r\n").encode())
        piece = b"x" * CHUNK
        framed = f"{CHUNK:x}\r\n".encode() + piece + b"\r\n"
        try:
            while sent < total:
                connection.sendall(piece if declared else framed)
                sent += CHUNK
            if not declared:
                connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is not wanted
        try:
            reply = connection.recv(64)
            status = int(reply.split()[1]) if reply.startswith(b"HTTP/") else 0
        except (OSError, ValueError, IndexError):
            status = 0
    return status, sent


def flood(pid: int, port: int, clients: int, megabytes: int, declared: bool) -> str:
    before = rss_mb(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results: list[tuple[int, int]] = []
    started = time.perf_counter()
    threads = [
        threading.Thread(target=lambda: results.append(post(port, megabytes, declared)))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    time.sleep(0.5)
    done.set()
    sampler.join()
    statuses = ",".join(f"{code}x{count}" for code, count in sorted(Counter(s for s, _ in results).items()))
    sent = sum(b for _, b in results) / CHUNK
    case = "declared_length" if declared else "chunked"
    return (
        f"case={case} clients={clients} body_mb={megabytes} statuses={statuses} sent_mb={sent:.0f} "
        f"rss_before_mb={before:.0f} rss_peak_mb={peak:.0f} seconds={seconds:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--mb", type=int, default=300)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, port = start_server(Path(folder))
        try:
            for declared in (True, False):
                print(flood(process.pid, port, options.clients, options.mb, declared), flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
