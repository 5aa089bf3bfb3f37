"""Plotly figures. One colour-blind-safe palette (Okabe-Ito) for every chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _rgba(hex_colour: str, alpha: float) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def whole_figure(traces: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure built in one step from its traces and layout as plain specs.

    Built piece by piece (``add_trace``, ``update_layout``), Plotly checks every property
    each time it is set, which took most of the Dashboard's script time for its six trend
    charts. The specs every page draws are checked against Plotly's schema in the page tests
    (``tests.factories.drawn_figures``) instead of at each drawing."""
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def mean_data(frame: pd.DataFrame) -> pd.DataFrame:
    """A mean's hover data: n, the interval and the effective n (the raw n where none)."""
    data = frame.reindex(columns=["n", "low", "high", "n_eff"])
    return data.assign(n_eff=data["n_eff"].fillna(data["n"]))


def mean_hover(point: str, value: str, series: str = "") -> str:
    """A mean's hover text over ``mean_data``: the point, the mean, its 95% interval, its n
    and effective n (the clustered intervals rest on fewer independent answers than n)."""
    return (
        f"{point}: {value} (95% CI %{{customdata[1]:.0f}}–%{{customdata[2]:.0f}}, "
        f"n = %{{customdata[0]}}, effective n %{{customdata[3]:.0f}})<extra>{series}</extra>"
    )


@lru_cache(maxsize=32)
def _grid_layout(titles: tuple[str, ...], columns: int, vertical_spacing: float) -> dict[str, Any]:
    """The layout of a grid of panels sharing their y axis, one title each (Plotly's own
    geometry, computed once per set of titles)."""
    rows = (len(titles) + columns - 1) // columns
    grid = make_subplots(
        rows=rows, cols=columns, subplot_titles=list(titles), shared_yaxes=True,
        vertical_spacing=vertical_spacing,
    )  # fmt: skip
    return grid.layout.to_plotly_json()


def _panel(index: int) -> str:
    """The number Plotly gives the axes of the grid's panel ``index`` (0 first, row by row):
    none for the first (``x``, ``xaxis``), then 2, 3, …"""
    return "" if index == 0 else str(index + 1)


def _panel_axes(index: int) -> dict[str, str]:
    """A trace's references to the axes of the grid's panel ``index``."""
    return {"xaxis": f"x{_panel(index)}", "yaxis": f"y{_panel(index)}"}


def trend_small_multiples(trend: pd.DataFrame, labels: Mapping[str, str]) -> go.Figure:
    """One panel per indicator: the monthly mean (0-100) with its 95% interval as a band."""
    codes = list(labels)
    columns = 3
    rows = (len(codes) + columns - 1) // columns
    traces: list[dict[str, Any]] = []
    for index, code in enumerate(codes):
        data = trend[trend["indicator"] == code]
        colour = PALETTE[index % len(PALETTE)]
        months = data["month"].tolist()
        traces += [
            {
                "type": "scatter",
                "x": months + months[::-1],
                "y": data["high"].tolist() + data["low"].tolist()[::-1],
                "fill": "toself",
                "fillcolor": _rgba(colour, 0.18),
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": f"{labels[code]} 95% interval",
                **_panel_axes(index),
            },
            {
                "type": "scatter",
                "x": data["month"].to_numpy(),
                "y": data["mean"].to_numpy(),
                "mode": "lines+markers",
                "line": {"color": colour, "width": 2},
                "marker": {"size": 4},
                "name": labels[code],
                "customdata": mean_data(data).to_numpy(),
                "hovertemplate": mean_hover("%{x}", "%{y:.0f}"),
                "showlegend": False,
                **_panel_axes(index),
            },
        ]
    layout = deepcopy(_grid_layout(tuple(labels[code] for code in codes), columns, 0.14))
    for row in range(rows):
        # The first column's axis carries the scale; the others share it.
        layout[f"yaxis{_panel(row * columns)}"] |= {
            "range": [0, 100],
            "title": {"text": "Score (0–100)"},
        }
    layout |= {
        "height": 260 * rows + 60,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "title": {"text": "Indicators by month, with 95% confidence intervals"},
    }
    return whole_figure(traces, layout)


# Diverging palette for 1..7 agreement (ColorBrewer BrBG, safe for colour-vision deficiencies).
AGREE_COLOURS = ("#8c510a", "#d8b365", "#f6e8c3", "#d9d9d9", "#c7eae5", "#5ab4ac", "#01665e")
PNG_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
OURS = PALETTE[0]


def _layout_spec(title: str, height: int = 360) -> dict[str, Any]:
    """The layout every chart shares: its title, height, margins, legend and font."""
    return {
        "title": {"text": title},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        # Right of the plot, clear of the title and the axis labels.
        "legend": {"orientation": "v", "yanchor": "top", "y": 1, "x": 1.02, "xanchor": "left"},
        "font": {"size": 13},
    }


def _layout(figure: go.Figure, title: str, height: int = 360) -> go.Figure:
    figure.update_layout(**_layout_spec(title, height))
    return figure


def series_colours(names: list[str]) -> dict[str, str]:
    """One colour per benchmark series, the same on every chart of a page (ours is the first)."""
    return {name: PALETTE[(index + 1) % len(PALETTE)] for index, name in enumerate(sorted(set(names)))}


def indicator_trend(
    label: str,
    ours: pd.DataFrame,
    leaders: pd.DataFrame,
    figures: pd.DataFrame,
    periods: list[str],
    colours: dict[str, str],
    breaks: Sequence[tuple[str, str]] = (),
) -> go.Figure:
    """Our trend with its 95% band, the named leaders' ratings and published figures;
    ``breaks`` marks the periods where a new instrument version starts, with a note."""
    own_periods = ours["period"].tolist()
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": own_periods + own_periods[::-1],
            "y": ours["high"].tolist() + ours["low"].tolist()[::-1],
            "fill": "toself",
            "fillcolor": _rgba(OURS, 0.15),
            "mode": "lines",
            "line": {"width": 0},
            "hoverinfo": "skip",
            "name": "Our 95% interval",
        },
        {
            "type": "scatter",
            "x": ours["period"].to_numpy(),
            "y": ours["mean"].to_numpy(),
            "mode": "lines+markers",
            "name": "Us",
            "line": {"color": OURS, "width": 3},
            "customdata": mean_data(ours).to_numpy(),
            "hovertemplate": mean_hover("%{x}", "%{y:.0f}", "Us"),
        },
    ]
    for name, rows in leaders.groupby("name", sort=True):
        traces.append(
            {
                "type": "scatter",
                "x": rows["period"].to_numpy(),
                "y": rows["mean"].to_numpy(),
                "mode": "lines+markers",
                # The leader is rated on one statement per indicator, not on the whole scale:
                # the gaps table compares it with our matching statement, as pairs.
                "name": f"{name} (one statement, rated by our customers)",
                "line": {"color": colours.get(str(name), PALETTE[1]), "dash": "dot"},
                # Each rating with its interval, as ours: error bars, not a band, so the
                # leaders' lines stay readable beside our band.
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["high"] - rows["mean"]).to_numpy(),
                    "arrayminus": (rows["mean"] - rows["low"]).to_numpy(),
                    "thickness": 1,
                },
                "customdata": mean_data(rows).to_numpy(),
                "hovertemplate": mean_hover("%{x}", "%{y:.0f}", str(name)),
            }
        )
    for name, rows in figures.groupby("name", sort=True):
        # Each published figure is a flat segment over the periods it covers; gaps between them.
        xs: list[str | None] = []
        ys: list[float | None] = []
        notes: list[str] = []
        for row in rows.sort_values("period_start").itertuples(index=False):
            covered = [period for period in periods if row.first_period <= period <= row.last_period]
            xs += [*covered, None]
            ys += [*([row.value_100] * len(covered)), None]
            notes += [f"{row.source} ({row.period})"] * len(covered) + [""]
        if not any(x is not None for x in xs):
            continue
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines+markers",
                "marker": {"symbol": "diamond", "size": 8},
                "line": {"color": colours.get(str(name), PALETTE[4]), "dash": "dash", "width": 2},
                "name": f"{name} (published)",
                "customdata": notes,
                "hovertemplate": "%{y:.0f} — %{customdata}<extra>" + str(name) + "</extra>",
                "connectgaps": False,
            }
        )
    # Where a new instrument version starts: the line links only through unchanged statements.
    marked = [(period, note) for period, note in breaks if period in periods]
    marks = {
        "shapes": [
            {
                "type": "line",
                "x0": period,
                "x1": period,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": "#4b5563", "dash": "dot", "width": 1.5},
            }
            for period, _ in marked
        ],
        "annotations": [
            {
                "x": period,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": note,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11, "color": "#374151"},
            }
            for period, note in marked
        ],
    }
    layout = (
        _layout_spec(label, 380 + 22 * len(traces))
        | (marks if marked else {})
        | {
            "yaxis": {"range": [0, 100], "title": {"text": "Score (0–100)"}},
            "xaxis": {"type": "category", "categoryorder": "array", "categoryarray": periods},
            # Many series here: the legend goes under the plot, one entry per line.
            "legend": {"orientation": "v", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"},
            "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        }
    )
    return whole_figure(traces, layout)


def profile_dots(profile: pd.DataFrame, labels: dict[str, str], names: dict[int, str]) -> go.Figure:
    """Dot plot: each indicator on 0-100, us (with 95% interval) and each named leader."""
    order = list(labels)
    traces: list[dict[str, Any]] = []
    for index, ((subject, competitor), rows) in enumerate(profile.groupby(["subject", "competitor_id"])):
        rows = rows.set_index("indicator").reindex(order).dropna(subset=["mean"])
        own = subject == "own"
        name = "Us" if own else f"{names.get(int(competitor), 'Another provider')} (one statement, rated)"
        traces.append(
            {
                "type": "scatter",
                "x": rows["mean"].to_numpy(),
                "y": [labels[code] for code in rows.index],
                "mode": "markers",
                "name": name,
                "marker": {
                    "size": 14 if own else 10,
                    "color": OURS if own else PALETTE[(index + 1) % len(PALETTE)],
                    "symbol": "circle" if own else "diamond",
                },
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["high"] - rows["mean"]).to_numpy(),
                    "arrayminus": (rows["mean"] - rows["low"]).to_numpy(),
                },
                "customdata": mean_data(rows).to_numpy(),
                "hovertemplate": mean_hover("%{y}", "%{x:.0f}", name),
            }
        )
    layout = _layout_spec("Indicator profile: us and the providers our customers see as leaders", 420) | {
        "xaxis": {"range": [0, 100], "title": {"text": "Score (0–100)"}},
        "yaxis": {"categoryorder": "array", "categoryarray": [labels[code] for code in order][::-1]},
    }
    return whole_figure(traces, layout)


def profile_radar(profile: pd.DataFrame, labels: dict[str, str], names: dict[int, str]) -> go.Figure:
    """The same profile as a radar, with a fixed axis order and one 0-100 scale."""
    order = list(labels)
    theta = [labels[code] for code in order]
    traces: list[dict[str, Any]] = []
    for index, ((subject, competitor), rows) in enumerate(profile.groupby(["subject", "competitor_id"])):
        means = rows.set_index("indicator").reindex(order)["mean"].tolist()
        traces.append(
            {
                "type": "scatterpolar",
                "r": [*means, means[0]],
                "theta": [*theta, theta[0]],
                "name": "Us"
                if subject == "own"
                else f"{names.get(int(competitor), 'Another provider')} (rated)",
                "line": {"color": OURS if subject == "own" else PALETTE[(index + 1) % len(PALETTE)]},
            }
        )
    layout = _layout_spec("Indicator profile (radar: the shape depends on the axis order)", 460)
    return whole_figure(traces, layout | {"polar": {"radialaxis": {"range": [0, 100]}}})


def likert_bars(shares: pd.DataFrame, texts: dict[str, str], scale_labels: dict[int, str]) -> go.Figure:
    """Diverging stacked bars: disagreement left of zero, agreement right, the neutral
    point split across zero; items sorted by net agreement."""
    points = [column for column in shares.columns if isinstance(column, int)]
    middle = points[len(points) // 2]
    disagree, agree = [p for p in points if p < middle], [p for p in points if p > middle]
    data = shares.fillna(0)
    net = data[agree].sum(axis=1) - data[disagree].sum(axis=1)
    data = data.loc[net.sort_values().index]
    names = [f"{texts.get(code, code)} ({code}, n = {int(data.loc[code, 'n'])})" for code in data.index]
    # Left of zero, outwards from the middle: half of the neutral share, then 3, 2, 1.
    left = [(middle, data[middle] / 2), *[(p, data[p]) for p in reversed(disagree)]]
    right = [(middle, data[middle] / 2), *[(p, data[p]) for p in agree]]
    traces = [
        {
            "type": "bar",
            "x": (side * values).to_numpy(),
            "y": names,
            "orientation": "h",
            "name": scale_labels[point],
            "marker": {"color": AGREE_COLOURS[points.index(point)]},
            "showlegend": side == 1 or point != middle,
            "legendgroup": str(point),
            "customdata": data[point].round(1).to_numpy(),
            "hovertemplate": "%{y}<br>" + scale_labels[point] + ": %{customdata}%<extra></extra>",
        }
        for side, parts in ((-1, left), (1, right))
        for point, values in parts
    ]
    layout = _layout_spec("How customers answered each statement", 140 + 28 * len(names))
    layout["legend"] |= {"traceorder": "normal"}
    layout |= {
        "barmode": "relative",
        "xaxis": {
            "title": {"text": "Share of answers (%): disagreement ← 0 → agreement"},
            "range": [-100, 100],
        },
    }
    return whole_figure(traces, layout)


def heat_map(table: pd.DataFrame, labels: dict[str, str], touchpoints: dict[int, str]) -> go.Figure:
    """Touchpoint x indicator mean scores, coloured by distance from their overall mean
    (brown weaker, teal stronger); cells below the minimum n are left blank. The hover gives
    each cell's 95% interval, n and effective n."""

    def spread(values: str) -> pd.DataFrame:
        wide = table.pivot(index="touchpoint_id", columns="indicator", values=values)
        return wide.reindex(index=[tp for tp in touchpoints if tp in wide.index], columns=list(labels))

    grid = spread("mean")
    order = list(grid.index)
    low, high, counts, effective = (spread(name).to_numpy() for name in ("low", "high", "n", "n_eff"))
    text = [[("" if pd.isna(v) else f"{v:.0f}") for v in row] for row in grid.to_numpy()]
    hover = [
        [
            "hidden"
            if pd.isna(n)
            else f"95% CI {low[i, j]:.0f}–{high[i, j]:.0f}, n = {n:.0f}, effective n {effective[i, j]:.0f}"
            for j, n in enumerate(row)
        ]
        for i, row in enumerate(counts)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[labels[code] for code in grid.columns],
            y=[touchpoints[tp] for tp in grid.index],
            text=text,
            texttemplate="%{text}",
            # A hidden cell shows no figure and no n, only that it is hidden.
            customdata=hover,
            hovertemplate="%{y} · %{x}: %{text} (%{customdata})<extra></extra>",
            colorscale="BrBG",
            zmid=float(np.nanmean(grid.to_numpy())) if grid.notna().to_numpy().any() else 50.0,
            colorbar={"title": {"text": "0–100"}},
        )
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, "Where each indicator is weak: touchpoint × indicator", 120 + 45 * len(order))


@lru_cache(maxsize=1)
def _two_scales_layout() -> dict[str, Any]:
    """The layout of a plot with a second y axis on the right (Plotly's own geometry)."""
    return make_subplots(specs=[[{"secondary_y": True}]]).layout.to_plotly_json()


def nps_over_time(nps: pd.DataFrame) -> go.Figure:
    """Promoters, passives and detractors per period, with NPS and its 95% interval."""
    shares = nps[["promoters", "passives", "detractors"]].div(nps["n"], axis=0) * 100
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": nps["period"].to_numpy(),
            "y": shares[column].to_numpy(),
            "name": column.capitalize(),
            "marker": {"color": colour},
            "customdata": nps[[column, "n"]].to_numpy(),
            "hovertemplate": "%{x}: %{y:.0f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
            "xaxis": "x",
            "yaxis": "y",
        }
        for column, colour in (("detractors", "#D55E00"), ("passives", "#BBBBBB"), ("promoters", "#009E73"))
    ]
    traces.append(
        {
            "type": "scatter",
            "x": nps["period"].to_numpy(),
            "y": nps["nps"].to_numpy(),
            "name": "NPS",
            "mode": "lines+markers",
            "line": {"color": "#000000", "width": 3},
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": (nps["high"] - nps["nps"]).to_numpy(),
                "arrayminus": (nps["nps"] - nps["low"]).to_numpy(),
            },
            "customdata": nps.reindex(columns=["n", "low", "high", "n_eff"]).to_numpy(),
            "hovertemplate": "%{x}: NPS %{y:.0f} (95% CI %{customdata[1]:.0f} to %{customdata[2]:.0f}, "
            "n = %{customdata[0]}, effective n %{customdata[3]:.0f})<extra></extra>",
            "xaxis": "x",
            "yaxis": "y2",
        }
    )
    layout = deepcopy(_two_scales_layout())
    layout["yaxis"] |= {"title": {"text": "Share of respondents (%)"}, "range": [0, 100]}
    layout["yaxis2"] |= {"title": {"text": "NPS (−100 to 100)"}, "range": [-100, 100]}
    layout["xaxis"] |= {"type": "category"}
    layout |= {"barmode": "stack"} | _layout_spec(
        "Recommendation: promoters, passives, detractors and NPS", 400
    )
    return whole_figure(traces, layout)
