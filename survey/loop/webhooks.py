"""Outbound webhooks: other systems (a CRM, a chat bot, a BI tool) are told when a response
arrives and when a follow-up opens or closes.

Each call is signed per the Standard Webhooks specification (``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<HMAC-SHA256>``) with the endpoint's own secret,
so the receiver can check it with the ``standardwebhooks`` package. Events go through the
outbox: a slow or failing endpoint never slows the submit that caused them, and each attempt is
logged and retried with backoff.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update
from sqlmodel import Session, col, select
from standardwebhooks.webhooks import Webhook

from models.tables import OutboxEvent, WebhookEndpoint
from survey.loop import outbox

EVENT_TYPES = ("response.created", "followup.created", "followup.closed")
URL_MAX = 2000
TIMEOUT_SECONDS = 10.0


class WebhookError(ValueError):
    """An endpoint could not be added or changed; the message says why. Nothing was changed."""


class DeliveryFailed(RuntimeError):
    """The receiver could not be reached or did not answer 2xx; the message says what happened."""


def check_url(url: str) -> str:
    """The URL stripped, or ``WebhookError`` naming what is wrong with it."""
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise WebhookError("the URL is empty")
    if len(text) > URL_MAX:
        raise WebhookError(f"the URL has {len(text)} characters, more than the {URL_MAX} allowed")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"'{text[:100]}' is not an http:// or https:// URL")
    if any(ch.isspace() for ch in text):
        raise WebhookError("the URL contains a space or line break")
    return text


def check_events(events: str | list[str] | tuple[str, ...]) -> list[str]:
    names = events.split(",") if isinstance(events, str) else list(events)
    chosen = [name.strip() for name in names if name.strip()]
    if not chosen:
        raise WebhookError(f"name at least one event ({', '.join(EVENT_TYPES)})")
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise WebhookError(f"unknown event {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
    return [name for name in EVENT_TYPES if name in chosen]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def add_endpoint(session: Session, url: str, events: str | list[str], *, now: datetime) -> WebhookEndpoint:
    """A new endpoint with its own signing secret (shown to the admin to give the receiver)."""
    endpoint = WebhookEndpoint(
        url=check_url(url), events=",".join(check_events(events)), secret=new_secret(), created_at=now
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))).all())


def _find(session: Session, endpoint_id: Any) -> WebhookEndpoint:
    if isinstance(endpoint_id, bool) or not isinstance(endpoint_id, int):
        raise WebhookError(f"{endpoint_id!r} is not an endpoint id")
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookError(f"there is no webhook endpoint #{endpoint_id}")
    return endpoint


def _cancel_pending(session: Session, endpoint_id: int, why: str) -> None:
    session.execute(
        update(OutboxEvent)
        .where(
            col(OutboxEvent.channel) == "webhook",
            col(OutboxEvent.target) == str(endpoint_id),
            col(OutboxEvent.status) == "pending",
        )
        .values(status="cancelled", last_error=why)
    )


def remove_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """Delete the endpoint; what was still waiting for it is cancelled."""
    endpoint = _find(session, endpoint_id)
    _cancel_pending(session, endpoint_id, "the endpoint was removed")
    session.delete(endpoint)
    session.flush()
    return endpoint


def set_active(session: Session, endpoint_id: int, active: bool) -> WebhookEndpoint:
    """Pause or resume an endpoint; pausing cancels what was waiting for it."""
    endpoint = _find(session, endpoint_id)
    endpoint.active = active
    if not active:
        _cancel_pending(session, endpoint_id, "the endpoint was disabled")
    session.add(endpoint)
    session.flush()
    return endpoint


@cache
def _active_endpoints() -> Any:
    """Built once: every submission asks."""
    return select(WebhookEndpoint.id, WebhookEndpoint.events).where(col(WebhookEndpoint.active))


def subscribers(session: Session, event_type: str) -> list[int]:
    """Ids of the active endpoints that subscribed to ``event_type``."""
    endpoints = session.connection().execute(_active_endpoints()).all()
    return [endpoint_id or 0 for endpoint_id, events in endpoints if event_type in events.split(",")]


def publish(
    session: Session, event_type: str, subject_id: int | str, data: dict[str, Any], *, now: datetime
) -> int:
    """Record one call per active endpoint that subscribed to ``event_type``, in the caller's
    transaction; returns how many. The same event and subject are never recorded twice."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    recorded = 0
    for endpoint_id in subscribers(session, event_type):
        body = {
            "type": event_type,
            "timestamp": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        # The id stays the same on every retry: receivers use it to ignore a repeat.
        payload = {"id": f"msg_{uuid.uuid4().hex}", "body": body}
        recorded += outbox.enqueue(
            session,
            channel="webhook",
            topic=event_type,
            target=str(endpoint_id),
            payload=payload,
            now=now,
            dedupe_key=f"webhook:{event_type}:{subject_id}:{endpoint_id}",
        )
    return recorded


@dataclass(frozen=True)
class Signed:
    body: str
    headers: dict[str, str]


def sign(secret: str, message_id: str, body: dict[str, Any], at: datetime) -> Signed:
    """The body and Standard Webhooks headers for one attempt at ``at``."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    signature = Webhook(secret).sign(message_id, at, text)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "user-agent": "RelationshipPulse-Webhooks/1",
    }
    return Signed(text, headers)


def post(url: str, secret: str, payload: dict[str, Any]) -> str:
    """One signed attempt; returns what the receiver answered, or raises ``DeliveryFailed``."""
    # Signed at the moment of sending: receivers refuse timestamps more than 5 minutes off.
    signed = sign(secret, payload["id"], payload["body"], datetime.now(UTC))
    try:
        answer = httpx.post(
            url,
            content=signed.body.encode("utf-8"),
            headers=signed.headers,
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}"[:500]) from error
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"HTTP {answer.status_code}: {answer.text[:200]}")
    return f"HTTP {answer.status_code}"
