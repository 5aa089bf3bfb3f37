"""Team chat channels (Slack and Microsoft Teams incoming webhooks) that hear about new
follow-ups on the accounts they follow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlmodel import Session, col, select

from models.tables import ChatChannel
from survey.loop import outbox
from survey.loop.webhooks import TIMEOUT_SECONDS, DeliveryFailed, WebhookError, check_url

STYLES = ("slack", "teams")
NAME_MAX = 100


def add_channel(
    session: Session, name: str, url: str, style: str, *, owner: str = "", now: datetime
) -> ChatChannel:
    """A channel that hears about follow-ups on every account, or on one owner's accounts."""
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise WebhookError("the channel name is empty")
    if len(clean) > NAME_MAX:
        raise WebhookError(f"the channel name is longer than {NAME_MAX} characters")
    if style not in STYLES:
        raise WebhookError(f"unknown chat format {style!r} (use slack or teams)")
    if session.exec(select(ChatChannel.id).where(ChatChannel.name == clean)).first() is not None:
        raise WebhookError(f"a channel named {clean!r} exists already")
    channel = ChatChannel(name=clean, url=check_url(url), style=style, owner=owner.strip(), created_at=now)
    session.add(channel)
    session.flush()
    return channel


def list_channels(session: Session) -> list[ChatChannel]:
    return list(session.exec(select(ChatChannel).order_by(col(ChatChannel.name))).all())


def remove_channel(session: Session, channel_id: int) -> None:
    channel = session.get(ChatChannel, channel_id)
    if channel is None:
        raise WebhookError(f"there is no chat channel #{channel_id}")
    session.delete(channel)
    session.flush()


def announce(session: Session, *, owner: str, text: str, subject: str, now: datetime) -> int:
    """Record one message per active channel following ``owner``'s accounts (or every account)."""
    channels = session.exec(
        select(ChatChannel.id).where(col(ChatChannel.active), col(ChatChannel.owner).in_(("", owner)))
    ).all()
    recorded = 0
    for channel_id in channels:
        recorded += outbox.enqueue(
            session,
            channel="chat",
            topic="followup.alert",
            target=str(channel_id),
            payload={"text": text},
            now=now,
            dedupe_key=f"chat:{subject}:{channel_id}",
        )
    return recorded


def escape_slack(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions): text from customers is escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body_for(style: str, text: str) -> dict[str, Any]:
    if style == "slack":
        return {"text": escape_slack(text)}
    # An Adaptive Card. Its TextBlock reads a little Markdown (bold, italic, links): the
    # characters that start those are escaped, so a customer's comment stays plain text.
    escaped = "".join(f"\\{ch}" if ch in "\\*_[]`" else ch for ch in text)
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": escaped, "wrap": True}],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def post(url: str, style: str, text: str) -> str:
    try:
        answer = httpx.post(url, json=body_for(style, text), timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}"[:500]) from error
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"HTTP {answer.status_code}: {answer.text[:200]}")
    return f"HTTP {answer.status_code}"
