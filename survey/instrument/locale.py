"""Dates and numbers as each survey language writes them, by Babel (CLDR data)."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date
from babel.numbers import format_decimal

# Survey language -> the CLDR locale whose conventions it follows.
LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR"}
# How long a day is written in each: German business mail writes 20.11.2026.
DAY_STYLES = {"de": "medium"}


def locale_of(language: str) -> str:
    return LOCALES.get(language, language)


def day(moment: date | datetime, language: str) -> str:
    """A day as the language writes it: "20 November 2026", "20.11.2026", "20 novembre 2026"."""
    return format_date(moment, format=DAY_STYLES.get(language, "long"), locale=locale_of(language))


def number(value: float, language: str, digits: int = 0) -> str:
    """A number with the language's separators: "1,234.5", "1.234,5", "1 234,5"."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale_of(language))
