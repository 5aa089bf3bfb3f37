"""The phrases of the loop's emails and chat messages, in English and German."""

from __future__ import annotations

LANGUAGES = ("en", "de")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "alert_subject": "Follow-up #{id}: {account} needs you ({reasons})",
        "alert_title": "{account} needs a follow-up",
        "alert_intro": "A response just opened follow-up #{id} on {account}, one of your accounts.",
        "alert_contact": "Contact: {contact}",
        "alert_anonymous": "Contact: asked to stay anonymous",
        "alert_touchpoint": "Touchpoint: {touchpoint}, answered {when}",
        "alert_why": "Why: {detail}",
        "alert_due": "Due: {due}",
        "alert_scores": "Scores of this response (0-100)",
        "alert_comment": "Their comment:",
        "open_followup": "Open the follow-up",
        "indicator": "Indicator",
        "score": "Score",
        "reason_detractor": "detractor",
        "reason_moment": "bad moment",
        "reason_drop": "sharp drop",
        "reason_decline": "the account's indicators fell",
        "reason_flagged_contacts": "several contacts flagged",
        "reason_silent_decision_maker": "a decision maker has gone quiet",
        "daily_subject": "Daily follow-up digest: {count} new",
        "daily_title": "New follow-ups on your accounts in the last 24 hours",
        "daily_table": "New follow-ups",
        "account": "Account",
        "contact": "Contact",
        "touchpoint": "Touchpoint",
        "why": "Why",
        "due": "Due",
        "followup": "Follow-up",
        "weekly_subject": "Your week in Relationship Pulse: {scope}",
        "weekly_subject_all": "every account",
        "weekly_subject_mine": "your {count} accounts",
        "weekly_title": "Week to {day}: {scope}",
        "weekly_intro": "Indicators over the last 90 days against the 90 before "
        "(0-100, 95% interval of the change); "
        "figures from fewer than {min_n} responses or people are left out.",
        "weekly_indicators": "Indicators",
        "now": "Last 90 days",
        "change": "Change",
        "interval": "95% interval",
        "n": "n",
        "weekly_rate": "Response rate of the last 28 days: {rate} ({completed} of {invited} invitations).",
        "weekly_rate_none": "No invitations in the last 28 days.",
        "weekly_followups": "Follow-ups: {open} open, {overdue} of them overdue.",
        "weekly_detractors": "New detractors this week",
        "weekly_detractors_none": "No new detractors this week.",
        "weekly_quiet": "Accounts not heard from in 90 days",
        "weekly_quiet_none": "Every account answered within the last 90 days.",
        "last_answer": "Last answer",
        "never": "never",
        "recommendation": "Recommendation",
        "open_app": "Open Relationship Pulse",
        "footer": "You get this email as a user of Relationship Pulse. "
        "Change what you receive on the My alerts page.",
        "escalation_subject": "{count} follow-up(s) overdue",
        "escalation_title": "Follow-ups left open past their due time",
        "escalation_intro": "These follow-ups went past their due time without being closed. "
        "This is the one reminder each of them gets.",
        "owner": "Account manager",
        "chat": "Follow-up #{id} on {account} ({reasons}): {detail}. Touchpoint {touchpoint}. {link}",
        "reply_subject": "What we did about your feedback",
        "reply_default": "Hello {name},\n\nthank you for telling us how the {touchpoint} went. "
        "You were right to raise it, and here is what we did: \n\n…\n\nBest regards,\n{owner}",
    },
    "de": {
        "alert_subject": "Nachfassen #{id}: {account} braucht Sie ({reasons})",
        "alert_title": "{account}: bitte nachfassen",
        "alert_intro": "Eine Antwort hat soeben Nachfassen #{id} bei {account} ausgelöst, "
        "einem Ihrer Kunden.",
        "alert_contact": "Kontakt: {contact}",
        "alert_anonymous": "Kontakt: möchte anonym bleiben",
        "alert_touchpoint": "Kontaktpunkt: {touchpoint}, beantwortet am {when}",
        "alert_why": "Grund: {detail}",
        "alert_due": "Fällig: {due}",
        "alert_scores": "Werte dieser Antwort (0-100)",
        "alert_comment": "Kommentar:",
        "open_followup": "Zum Nachfassen",
        "indicator": "Indikator",
        "score": "Wert",
        "reason_detractor": "Kritiker",
        "reason_moment": "schlechter Moment",
        "reason_drop": "starker Rückgang",
        "reason_decline": "die Werte des Kunden sind gesunken",
        "reason_flagged_contacts": "mehrere Kontakte auffällig",
        "reason_silent_decision_maker": "ein Entscheider meldet sich nicht mehr",
        "daily_subject": "Tägliche Übersicht: {count} neue Fälle zum Nachfassen",
        "daily_title": "Neue Fälle bei Ihren Kunden in den letzten 24 Stunden",
        "daily_table": "Neue Fälle",
        "account": "Kunde",
        "contact": "Kontakt",
        "touchpoint": "Kontaktpunkt",
        "why": "Grund",
        "due": "Fällig",
        "followup": "Fall",
        "weekly_subject": "Ihre Woche in Relationship Pulse: {scope}",
        "weekly_subject_all": "alle Kunden",
        "weekly_subject_mine": "Ihre {count} Kunden",
        "weekly_title": "Woche bis {day}: {scope}",
        "weekly_intro": "Indikatoren der letzten 90 Tage gegenüber den 90 davor (0-100, 95-%-Intervall der "
        "Veränderung); Werte aus weniger als {min_n} Antworten oder Personen werden nicht gezeigt.",
        "weekly_indicators": "Indikatoren",
        "now": "Letzte 90 Tage",
        "change": "Veränderung",
        "interval": "95-%-Intervall",
        "n": "n",
        "weekly_rate": "Rücklaufquote der letzten 28 Tage: {rate} ({completed} von {invited} Einladungen).",
        "weekly_rate_none": "Keine Einladungen in den letzten 28 Tagen.",
        "weekly_followups": "Nachfassen: {open} offen, davon {overdue} überfällig.",
        "weekly_detractors": "Neue Kritiker dieser Woche",
        "weekly_detractors_none": "Keine neuen Kritiker in dieser Woche.",
        "weekly_quiet": "Kunden ohne Antwort seit 90 Tagen",
        "weekly_quiet_none": "Alle Kunden haben in den letzten 90 Tagen geantwortet.",
        "last_answer": "Letzte Antwort",
        "never": "nie",
        "recommendation": "Empfehlung",
        "open_app": "Relationship Pulse öffnen",
        "footer": "Sie erhalten diese E-Mail als Nutzer von Relationship Pulse. Was Sie erhalten, ändern Sie "
        "auf der Seite Meine Benachrichtigungen.",
        "escalation_subject": "{count} Fall/Fälle überfällig",
        "escalation_title": "Offene Fälle nach ihrer Frist",
        "escalation_intro": "Diese Fälle sind über ihre Frist hinaus offen. "
        "Dies ist die einzige Erinnerung je Fall.",
        "owner": "Betreuer",
        "chat": "Nachfassen #{id} bei {account} ({reasons}): {detail}. Kontaktpunkt {touchpoint}. {link}",
        "reply_subject": "Was wir aus Ihrer Rückmeldung gemacht haben",
        "reply_default": "Guten Tag {name},\n\ndanke, dass Sie uns gesagt haben, wie {touchpoint} lief. "
        "Sie hatten recht, es anzusprechen. Das haben wir getan:\n\n…\n\nMit freundlichen Grüßen\n{owner}",
    },
}

DATE_FORMATS = {"en": "%d %B %Y %H:%M UTC", "de": "%d.%m.%Y %H:%M UTC"}
DAY_FORMATS = {"en": "%d %B %Y", "de": "%d.%m.%Y"}


def language_of(language: str | None) -> str:
    return language if language in LANGUAGES else "en"


def text(language: str, key: str, **values: object) -> str:
    return TEXTS[language_of(language)][key].format(**values)


def reasons_label(language: str, reasons: str) -> str:
    return ", ".join(text(language, f"reason_{r}") for r in reasons.split(",") if r)
