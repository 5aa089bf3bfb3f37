"""The instrument quality report, cached for the Instrument quality page."""

from __future__ import annotations

from datetime import date

import streamlit as st

from models.db import session_scope
from pages.common import engine
from survey.quality.report import QualityReport, quality_report


@st.cache_data(show_spinner="Fitting the factor models…", max_entries=8)
def report(url: str, since: date | None, version: tuple[int, int, str]) -> QualityReport:
    # ``version`` (the newest response) is part of the key: new answers are analysed afresh.
    del url, version
    with session_scope(engine()) as session:
        return quality_report(session, since=since)
