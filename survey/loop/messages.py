"""Emails the loop sends (alerts, digests, escalations, replies to customers): HTML and plain
text from one pair of templates, queued in the outbox for the worker to deliver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from survey.loop import outbox

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html.j2"]),
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Table:
    heading: str
    columns: list[str]
    rows: list[list[str]]
    empty: str = ""


@dataclass(frozen=True)
class Notice:
    """What one email says. All text is plain: the HTML template escapes it."""

    to: str
    subject: str
    language: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    quote: str | None = None
    tables: list[Table] = field(default_factory=list)
    link: str | None = None
    link_label: str = ""
    footer: str = ""
    reply_to: str | None = None


def _one_line(text: str) -> str:
    """Header text on one line: names from a CRM may carry line breaks, which a header must not."""
    return " ".join(text.split())


def compose(notice: Notice, sender: str) -> EmailMessage:
    context = {
        "language": notice.language,
        "title": notice.title,
        "paragraphs": notice.paragraphs,
        "quote": notice.quote,
        "tables": notice.tables,
        "link": notice.link,
        "link_label": notice.link_label,
        "footer": notice.footer,
    }
    message = EmailMessage()
    message["Subject"] = _one_line(notice.subject)
    message["From"] = _one_line(sender)
    message["To"] = _one_line(notice.to)
    if notice.reply_to:
        message["Reply-To"] = _one_line(notice.reply_to)
    message["Date"] = formatdate(localtime=False)
    # Fixed now: a retry after a lost acknowledgement carries the same id, which mail systems
    # recognise as the same message.
    message["Message-ID"] = make_msgid(domain="relationship-pulse")
    message["Content-Language"] = notice.language
    message.set_content(_env.get_template("notice.txt.j2").render(context))
    message.add_alternative(_env.get_template("notice.html.j2").render(context), subtype="html")
    return message


def queue_email(
    session: Session,
    notice: Notice,
    *,
    topic: str,
    sender: str,
    now: datetime,
    dedupe_key: str | None = None,
    customer: bool = False,
) -> bool:
    """Compose the email now and record it in the outbox, in the caller's transaction.
    ``customer`` marks mail to a contact: it is dropped if they opt out before it goes."""
    message = compose(notice, sender)
    payload = {"raw": message.as_string(), "subject": notice.subject, "customer": customer}
    return outbox.enqueue(
        session,
        channel="email",
        topic=topic,
        target=notice.to,
        payload=payload,
        now=now,
        dedupe_key=dedupe_key,
    )
