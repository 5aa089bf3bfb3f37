"""The filter bar the dashboard and the export share: period, segment, touchpoint, role, account."""

from __future__ import annotations

from typing import Any, Literal, cast

import pandas as pd
import streamlit as st

from survey.behaviour.rfm import RFM_SEGMENTS
from survey.reporting.dashboard import default_filters
from survey.reporting.filters import Filters


def filter_bar(
    options: dict[str, Any],
    *,
    recent_months: int | None,
    grain: bool,
    version: bool = False,
    rfm: bool = False,
) -> Filters:
    """Draw the filters and return them. ``recent_months`` preselects that many last months
    (``None``: the whole history); ``grain`` offers month or quarter for trends; ``version``
    offers the instrument versions answered, when there is more than one; ``rfm`` offers the
    behaviour segments (the caller narrows them to accounts with ``narrow_to_rfm``)."""
    months = list(pd.period_range(options["first_month"], options["last_month"], freq="M").astype(str))
    untouched = default_filters(options, recent_months)
    with st.container(border=True):
        first, second, third = st.columns(3)
        start, end = first.select_slider(
            "Period", options=months, value=(untouched.start, untouched.end), key="period"
        )
        chosen_grain = (
            first.segmented_control(
                "Trend by",
                ["quarter", "month"],
                default=untouched.grain,
                format_func=str.capitalize,
                key="grain",
            )
            if grain
            else None
        )
        segments = second.multiselect(
            "Segment", options["segments"], key="segments", placeholder="All segments"
        )
        behaviour = (
            second.multiselect(
                "RFM segment",
                list(RFM_SEGMENTS),
                key="rfm_segments",
                placeholder="All behaviour segments",
                help="Recency, frequency and monetary segments of the latest transactional measures.",
            )
            if rfm
            else []
        )
        touchpoints = second.multiselect(
            "Touchpoint",
            list(options["touchpoints"]),
            format_func=options["touchpoints"].get,
            key="touchpoints",
            placeholder="All touchpoints",
        )
        roles = third.multiselect(
            "Contact role",
            options["roles"],
            format_func=lambda role: role.replace("_", " ").capitalize(),
            key="roles",
            placeholder="All roles",
        )
        accounts = third.multiselect(
            "Account",
            list(options["accounts"]),
            format_func=options["accounts"].get,
            key="accounts",
            placeholder="All accounts",
        )
    versions = (options.get("versions") or []) if version else []
    chosen_version = (
        st.selectbox(
            "Instrument version",
            versions[::-1],
            index=versions[::-1].index(untouched.version),
            format_func=lambda number: f"Version {number}",
            key="version",
            help="Answers to different versions of the questionnaire are never pooled.",
        )
        if len(versions) > 1
        else None
    )
    return Filters(
        start=start,
        end=end,
        segments=tuple(segments),
        touchpoint_ids=tuple(touchpoints),
        roles=tuple(roles),
        account_ids=tuple(accounts),
        grain=cast(Literal["month", "quarter"], chosen_grain or untouched.grain),
        version=chosen_version,
        rfm_segments=tuple(behaviour),
    )
