"""Plotly figures of the account page, in the palette every chart shares (survey/charts/common.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from survey.charts.common import PALETTE, mean_data, mean_hover, whole_figure


def quarter_range(first: str, last: str) -> list[str]:
    """Every quarter from ``first`` to ``last`` (``YYYY-Qn``), so that empty ones show as gaps."""
    year, quarter = int(first[:4]), int(first[-1])
    quarters = []
    while (label := f"{year}-Q{quarter}") <= last:
        quarters.append(label)
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return quarters


def account_trend(trend: pd.DataFrame, labels: Mapping[str, str], min_n: int) -> go.Figure:
    """One line per indicator: the account's quarterly mean score (0-100), its 95% interval
    as error bars.

    ``trend`` has the columns quarter, indicator, n, mean, low and high; quarters missing from
    it (too few responses) are left as gaps rather than joined across."""
    quarters = quarter_range(min(trend["quarter"]), max(trend["quarter"])) if not trend.empty else []
    codes = list(labels) + sorted(set(trend["indicator"]) - set(labels)) if not trend.empty else list(labels)
    traces: list[dict[str, Any]] = []
    for index, code in enumerate(codes):
        data = trend[trend["indicator"] == code].set_index("quarter").reindex(quarters)
        if data["mean"].isna().all():
            continue
        traces.append(
            {
                "type": "scatter",
                "x": quarters,
                "y": data["mean"].tolist(),
                "mode": "lines+markers",
                "name": labels.get(code, code),
                "line": {"color": PALETTE[index % len(PALETTE)], "width": 2},
                "marker": {"size": 6},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": (data["high"] - data["mean"]).tolist(),
                    "arrayminus": (data["mean"] - data["low"]).tolist(),
                    "thickness": 1,
                },
                "customdata": mean_data(data).to_numpy(),
                "hovertemplate": mean_hover(f"{labels.get(code, code)}, %{{x}}", "%{y:.0f}"),
                "connectgaps": False,
            }
        )
    layout = {
        "yaxis": {"range": [0, 100], "title": {"text": "Score (0–100)"}},
        "xaxis": {"type": "category", "title": {"text": "Quarter"}},
        "height": 380,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "title": {
            "text": f"Indicators by quarter (quarters with fewer than {min_n} responses or people left out)"
        },
        "legend": {"orientation": "h", "y": -0.25},
    }
    return whole_figure(traces, layout)
