"""What the loop's tests share: a webhook receiver on loopback that checks every signature
with the ``standardwebhooks`` package, and a manager who owns an account."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from survey.loop.webhooks import add_endpoint
from tests.test_sending import Inbox, free_port


class Receiver:
    """An HTTP server on 127.0.0.1 that accepts only correctly signed Standard Webhooks calls."""

    def __init__(self, *, delay: float = 0.0, status: int = 204) -> None:
        self.secret: str | None = None
        self.calls: list[dict[str, Any]] = []
        self.refused = 0
        self.delay = delay
        self.status = status
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    payload = Webhook(receiver.secret or "").verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    with receiver._lock:
                        receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.calls.append(
                        {"id": self.headers["webhook-id"], "payload": payload, "at": time.monotonic()}
                    )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pulse"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subscribe(self, session: Session, events: str, now: datetime) -> int:
        endpoint = add_endpoint(session, self.url, events, now=now)
        session.commit()
        self.secret = endpoint.secret
        return endpoint.id or 0

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["payload"]["type"] == event_type]

    def ids(self) -> Counter[str]:
        return Counter(call["id"] for call in self.calls)


@contextmanager
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback (aiosmtpd) that the app's mail settings point at."""
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("PULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PULSE_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("PULSE_SMTP_STARTTLS", "0")
    monkeypatch.setenv("PULSE_SMTP_FROM", "Relationship Pulse <pulse@pulse.example>")
    try:
        yield received
    finally:
        controller.stop()
