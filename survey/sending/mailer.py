"""Invitation emails: HTML and plain text from Jinja2 templates, in the contact's language,
sent over SMTP, or written to an outbox folder when no SMTP server is configured."""

from __future__ import annotations

import os
import smtplib
import tomllib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from models.settings import PROJECT_ROOT
from survey.instrument import locale

TEMPLATES = Path(__file__).parent / "templates"
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html.j2"]),
    keep_trailing_newline=True,
)

# The phrases of each message, per language; account and touchpoint names come from the CRM
# and are escaped by the HTML template.
TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "invitation": {
        "en": {
            "subject": "{account}: how did the {touchpoint} on {date} go?",
            "greeting": "Hello {name},",
            "body": "thank you for working with us. How did the {touchpoint} on {date} go for {account}? "
            "Your answers take about five minutes and go straight to your account team.",
            "button": "Answer the survey",
            "valid": "The link is personal and works until {expires}.",
            "closing": "Thank you!",
            "unsubscribe": "No more survey emails to this address? Unsubscribe:",
        },
        "de": {
            "subject": "{account}: Wie war {touchpoint} am {date}?",
            "greeting": "Guten Tag {name},",
            "body": "danke für die Zusammenarbeit. Wie lief {touchpoint} am {date} für {account}? "
            "Die Antworten dauern etwa fünf Minuten und gehen direkt an Ihr Betreuungsteam.",
            "button": "Zur Umfrage",
            "valid": "Der Link ist persönlich und gilt bis {expires}.",
            "closing": "Vielen Dank!",
            "unsubscribe": "Keine Umfrage-E-Mails mehr an diese Adresse? Abmelden:",
        },
        "fr": {
            "subject": "{account} : comment s'est passé l'échange « {touchpoint} » du {date} ?",
            "greeting": "Bonjour {name},",
            "body": "merci de travailler avec nous. Comment s'est passé l'échange « {touchpoint} » du {date} "
            "pour {account} ? Vos réponses prennent environ cinq minutes et vont directement à votre "
            "équipe de suivi.",
            "button": "Répondre à l'enquête",
            "valid": "Le lien est personnel et valable jusqu'au {expires}.",
            "closing": "Merci !",
        },
    },
    "reminder": {
        "en": {
            "subject": "Reminder — {account}: how did the {touchpoint} on {date} go?",
            "greeting": "Hello {name},",
            "body": "a short reminder: we would still like to hear how the {touchpoint} on {date} went for "
            "{account}. It takes about five minutes; answers you already gave are kept.",
            "button": "Answer the survey",
            "valid": "The link is personal and works until {expires}.",
            "closing": "Thank you!",
            "unsubscribe": "No more survey emails to this address? Unsubscribe:",
        },
        "de": {
            "subject": "Erinnerung — {account}: Wie war {touchpoint} am {date}?",
            "greeting": "Guten Tag {name},",
            "body": "eine kurze Erinnerung: Wir würden gern noch erfahren, wie {touchpoint} am {date} für "
            "{account} lief. Es dauert etwa fünf Minuten; bereits gegebene Antworten bleiben erhalten.",
            "button": "Zur Umfrage",
            "valid": "Der Link ist persönlich und gilt bis {expires}.",
            "closing": "Vielen Dank!",
            "unsubscribe": "Keine Umfrage-E-Mails mehr an diese Adresse? Abmelden:",
        },
        "fr": {
            "subject": "Rappel — {account} : comment s'est passé l'échange « {touchpoint} » du {date} ?",
            "greeting": "Bonjour {name},",
            "body": "un petit rappel : nous aimerions encore savoir comment s'est passé l'échange "
            "« {touchpoint} » du {date} pour {account}. Cela prend environ cinq minutes ; les réponses "
            "déjà données sont conservées.",
            "button": "Répondre à l'enquête",
            "valid": "Le lien est personnel et valable jusqu'au {expires}.",
            "closing": "Merci !",
        },
    },
}


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool
    outbox: Path

    @classmethod
    def from_env(cls, secrets_file: Path = SECRETS_FILE) -> MailSettings:
        """Environment variables (``PULSE_SMTP_*``), else the ``[smtp]`` section of
        ``.streamlit/secrets.toml`` (host, port, user, password, from, starttls)."""
        data_dir = Path(os.environ.get("PULSE_DATA_DIR", PROJECT_ROOT / "data"))
        section = _secrets_section(secrets_file)

        def value(name: str, default: str = "") -> str:
            return os.environ.get(f"PULSE_SMTP_{name.upper()}") or str(section.get(name, default))

        return cls(
            host=value("host") or None,
            port=int(value("port", "587")),
            user=value("user") or None,
            password=value("password") or None,
            sender=value("from", "Relationship Pulse <pulse@localhost>"),
            starttls=value("starttls", "1").lower() not in ("0", "false", "no"),
            outbox=Path(os.environ.get("PULSE_OUTBOX", data_dir / "outbox")),
        )


def _secrets_section(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        section = tomllib.load(handle).get("smtp", {})
    return section if isinstance(section, dict) else {}


@dataclass(frozen=True)
class Letter:
    kind: str  # invitation or reminder
    language: str
    to: str
    name: str
    account: str
    touchpoint: str
    occurred_at: datetime
    expires_at: datetime
    link: str
    # The personal unsubscribe link (RFC 8058 one-click and a visible link), when there is one.
    unsubscribe: str | None = None
    # The 0-10 question in the contact's language, its end labels, and one link per answer:
    # the first answer can be given in the email itself.
    first_question: str = ""
    first_ends: tuple[str, str] = ("", "")
    first_links: tuple[str, ...] = ()


def compose(letter: Letter, sender: str) -> EmailMessage:
    texts = TEXTS[letter.kind]
    language = letter.language if letter.language in texts else "en"
    values = {
        "account": letter.account,
        "touchpoint": letter.touchpoint,
        "date": locale.day(letter.occurred_at, language),
        "expires": locale.day(letter.expires_at, language),
        "name": letter.name or letter.to,
    }
    phrases = {key: text.format(**values) for key, text in texts[language].items()}
    context = {
        "t": phrases,
        "link": letter.link,
        "language": language,
        "unsubscribe": letter.unsubscribe,
        "question": letter.first_question,
        "ends": letter.first_ends,
        "answers": list(enumerate(letter.first_links)),
    }
    message = EmailMessage()
    message["Subject"] = phrases["subject"]
    message["From"] = sender
    message["To"] = letter.to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="relationship-pulse")
    message["Content-Language"] = language
    if letter.unsubscribe:
        message["List-Unsubscribe"] = f"<{letter.unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(_env.get_template("invitation.txt.j2").render(context))
    message.add_alternative(_env.get_template("invitation.html.j2").render(context), subtype="html")
    return message


class SendFailed(RuntimeError):
    """The mail server refused or could not be reached; the message says why."""


def deliver(message: EmailMessage, settings: MailSettings) -> str:
    """Send over SMTP, or write an .eml file to the outbox; returns ``sent`` or ``outbox``."""
    if settings.host is None:
        # The messages hold live survey links: readable by the app's own user only.
        settings.outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.outbox.chmod(0o700)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_").replace("/", "_")
        descriptor = os.open(settings.outbox / f"{name}.eml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(bytes(message))
        return "outbox"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
            if settings.starttls and smtp.has_extn("starttls"):
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise SendFailed(f"{type(error).__name__}: {error}"[:500]) from error
    return "sent"
