"""Charts of the accounts-first pages: what works, comment tags over time, value levels."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from survey.charts.common import PALETTE, _layout


def effects_forest(effects: pd.DataFrame, labels: Mapping[str, str], title: str) -> go.Figure:
    """Each action's difference-in-differences per indicator as a dot with its intervals: the
    one corrected for all comparisons shown (thin, wide) and the uncorrected 95% one (thick).

    ``effects``: indicator, estimate, low, high (uncorrected), sim_low, sim_high (corrected), n,
    comparisons (rows without an interval are left out)."""
    drawn = effects.dropna(subset=["low", "high", "sim_low", "sim_high"])
    names = [labels.get(code, code) for code in drawn["indicator"]]
    comparisons = int(drawn["comparisons"].max()) if len(drawn) else 0
    figure = go.Figure()
    for low, high, width, colour, name in (
        ("sim_low", "sim_high", 1.5, "#777777", f"interval over all {comparisons} comparisons (Bonferroni)"),
        ("low", "high", 4, PALETTE[0], "95% interval, uncorrected"),
    ):
        figure.add_trace(
            go.Scatter(
                x=drawn["estimate"].astype(float),
                y=names,
                mode="markers",
                name=name,
                marker={"size": 11, "color": PALETTE[0]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (drawn[high] - drawn["estimate"]).astype(float),
                    "arrayminus": (drawn["estimate"] - drawn[low]).astype(float),
                    "thickness": width,
                    "color": colour,
                    "width": 0 if width > 2 else 6,
                },
                customdata=drawn[["n", "low", "high", "sim_low", "sim_high"]].astype(float),
                hovertemplate="%{y}: %{x:+.1f} points (over all comparisons %{customdata[3]:+.1f} to "
                "%{customdata[4]:+.1f}; uncorrected 95% CI %{customdata[1]:+.1f} to %{customdata[2]:+.1f}; "
                "n = %{customdata[0]:.0f} accounts)<extra></extra>",
            )
        )
    figure.add_vline(x=0, line={"color": "#777777", "width": 1})
    figure.update_xaxes(title_text="Change after the action minus similar accounts' change (points, 0-100)")
    figure.update_yaxes(categoryorder="array", categoryarray=names[::-1])
    return _layout(figure, title, 180 + 34 * max(1, len(names)))


def tags_over_time(counts: pd.DataFrame) -> go.Figure:
    """Comments per month and tag (``month``, ``tag``, ``comments``) as lines."""
    figure = go.Figure()
    for index, (tag, data) in enumerate(counts.groupby("tag", sort=True)):
        figure.add_trace(
            go.Scatter(
                x=data["month"],
                y=data["comments"],
                mode="lines+markers",
                name=str(tag),
                line={"color": PALETTE[index % len(PALETTE)]},
            )
        )
    figure.update_yaxes(title_text="Comments", rangemode="tozero")
    return _layout(figure, "Comments by tag over time")


def value_levels_over_time(customer: pd.DataFrame, manager: pd.DataFrame) -> go.Figure:
    """The customer's median level per quarter (``quarter``, ``median``, ``n``) and the manager's
    assessments as steps (``at``, ``level``)."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=customer["quarter"],
            y=customer["median"],
            mode="lines+markers",
            name="Customer (median of answers)",
            line={"color": PALETTE[0]},
            customdata=customer[["n"]],
            hovertemplate="%{x}: level %{y} (median, n = %{customdata[0]})<extra></extra>",
        )
    )
    if not manager.empty:
        quarters = [f"{at.year}-Q{(at.month - 1) // 3 + 1}" for at in manager["at"]]
        figure.add_trace(
            go.Scatter(
                x=quarters,
                y=manager["level"],
                mode="markers",
                name="Account manager's assessment",
                marker={"color": PALETTE[1], "size": 12, "symbol": "diamond"},
            )
        )
    figure.update_yaxes(range=[-0.2, 4.2], title_text="Value level (0-4)", dtick=1)
    return _layout(figure, "Value level over time")
