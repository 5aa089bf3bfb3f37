"""Plotly figures. One colour-blind-safe palette (Okabe-Ito) for every chart."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _rgba(hex_colour: str, alpha: float) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def trend_small_multiples(trend: pd.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """One panel per indicator: the monthly mean (0-100) with its 95% interval as a band."""
    codes = list(labels)
    columns = 3
    rows = (len(codes) + columns - 1) // columns
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[labels[code] for code in codes],
        shared_yaxes=True,
        vertical_spacing=0.14,
    )
    for index, code in enumerate(codes):
        data = trend[trend["indicator"] == code]
        row, col = index // columns + 1, index % columns + 1
        colour = PALETTE[index % len(PALETTE)]
        figure.add_trace(
            go.Scatter(
                x=list(data["month"]) + list(data["month"])[::-1],
                y=list(data["high"]) + list(data["low"])[::-1],
                fill="toself",
                fillcolor=_rgba(colour, 0.18),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=f"{labels[code]} 95% interval",
            ),
            row=row,
            col=col,
        )
        figure.add_trace(
            go.Scatter(
                x=data["month"],
                y=data["mean"],
                mode="lines+markers",
                line={"color": colour, "width": 2},
                marker={"size": 4},
                name=labels[code],
                customdata=data[["n", "low", "high"]],
                hovertemplate="%{x}: %{y:.0f} (95% CI %{customdata[1]:.0f}–%{customdata[2]:.0f}, "
                "n = %{customdata[0]})<extra></extra>",
                showlegend=False,
            ),
            row=row,
            col=col,
        )
    figure.update_yaxes(range=[0, 100], title_text="Score (0–100)", col=1)
    figure.update_layout(
        height=260 * rows + 60,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        title={"text": "Indicators by month, with 95% confidence intervals"},
    )
    return figure
