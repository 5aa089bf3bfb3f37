"""What every response of the server carries, and what it never serves.

* Headers that keep the app out of other sites' frames and stop browsers guessing types or
  passing survey links (whose token is in the address) on as a referrer.
* ``/_stcore/metrics`` (Streamlit's internal counters) answers 404 unless ``PULSE_METRICS=1``:
  nobody outside needs it.

Strict-Transport-Security is not set here: only the TLS-terminating proxy knows the site is
served over HTTPS (see the README, *Deploying safely*).
"""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
HIDDEN_PATHS = ("/_stcore/metrics",)


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering): adds ``SECURITY_HEADERS`` to every HTTP
    response and answers 404 for ``HIDDEN_PATHS``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = os.environ.get("PULSE_METRICS", "").strip() in {"1", "true", "yes"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.metrics and scope["path"].rstrip("/") in HIDDEN_PATHS:
            await send({"type": "http.response.start", "status": 404, "headers": list(SECURITY_HEADERS)})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
