"""What the pages share: the cached engine, first-start preparation and safe text."""

from __future__ import annotations

import re

import streamlit as st
from sqlalchemy import Engine

from models.db import make_engine
from models.settings import get_settings
from survey.setup import prepare_database, seed_demo_if_empty

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The process-wide engine for the configured database."""
    return _engine_for(get_settings().database_url)


@st.cache_resource(show_spinner="Preparing the database…")
def _prepared(url: str, demo: bool) -> bool:
    prepare_database(_engine_for(url))
    if demo:
        seed_demo_if_empty(_engine_for(url))
    return True


def prepare() -> None:
    """Upgrade the schema once per process and, on a first start, add demo data."""
    settings = get_settings()
    _prepared(settings.database_url, settings.demo_data)


def plain(text: str) -> str:
    """Text from users or imports, escaped so that Markdown never formats or links it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
