"""The instrument quality report, cached for the Instrument quality page and the dashboard's notice."""

from __future__ import annotations

from datetime import date

import streamlit as st

from models.db import session_scope
from pages.common import engine
from survey.quality.report import (
    GroupCheck,
    QualityReport,
    comparison_checks,
    comparison_notices,
    quality_report,
)


@st.cache_data(show_spinner="Fitting the factor models…", max_entries=8)
def report(url: str, since: date | None, version: tuple[int, int, str]) -> QualityReport:
    # ``version`` (the newest response) is part of the key: new answers are analysed afresh.
    del url, version
    with session_scope(engine()) as session:
        return quality_report(session, since=since)


@st.cache_data(show_spinner=False, max_entries=4, ttl=6 * 3600)
def notices(url: str, day: str) -> list[str]:
    """Invariance across languages and versions of all responses, at most once a day per process:
    a property of the instrument, not of one filter's selection."""
    del url, day
    with session_scope(engine()) as session:
        checks: tuple[GroupCheck, ...] = comparison_checks(session)
    return comparison_notices(checks)
