"""The instrument quality report, cached for the Instrument quality page."""

from __future__ import annotations

from datetime import UTC, date, datetime

import streamlit as st

from models.db import session_scope
from pages.common import engine
from survey.quality.report import QualityReport, quality_report


@st.cache_data(show_spinner="Fitting the factor models…", max_entries=8)
def report(url: str, since: date | None, fit_round: int) -> tuple[QualityReport, datetime]:
    """The report and when it was fitted. ``fit_round`` (``responses.refit_round`` of the newest
    response) is part of the key: the models are fitted again once enough new answers came in."""
    del url, fit_round
    with session_scope(engine()) as session:
        return quality_report(session, since=since), datetime.now(UTC)
