"""Plotly figures for behaviour: the account timeline, segments against the base and the
correlations of the predictors page, in the shared palette (survey/charts/common.py)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from survey.accounts.timeline import EACH_EVENT_LIMIT, Timeline, events_by_period, period_grain
from survey.charts.common import AGREE_COLOURS, PALETTE, _layout
from survey.imports.transactions import MEASURES

# A colour-blind-safe diverging scale (ColorBrewer BrBG, as the answer bars): brown low, teal high.
SCORE_SCALE = [[index / (len(AGREE_COLOURS) - 1), colour] for index, colour in enumerate(AGREE_COLOURS)]


def timeline_chart(timeline: Timeline, account: str) -> go.Figure:
    """Each interaction and survey result at its touchpoint (journey order, top to bottom)
    and time; a survey's colour is its mean score (0-100). Beyond ``EACH_EVENT_LIMIT`` events
    a mark is one period's events at a touchpoint (``timeline_by_period``)."""
    events = timeline.events
    if len(events) > EACH_EVENT_LIMIT:
        return timeline_by_period(timeline, account)
    figure = go.Figure()
    interactions = events[events["kind"] == "interaction"]
    figure.add_trace(
        go.Scatter(
            x=interactions["when"],
            y=interactions["touchpoint"],
            mode="markers",
            name="Interaction",
            marker={"symbol": "circle", "size": 9, "color": PALETTE[0]},
            customdata=interactions[["channel"]],
            hovertemplate="%{y}, %{x|%Y-%m-%d}: by %{customdata[0]}<extra>Interaction</extra>",
        )
    )
    surveys = events[events["kind"] == "survey"]
    figure.add_trace(
        go.Scatter(
            x=surveys["when"],
            y=surveys["touchpoint"],
            mode="markers",
            name="Survey answered (colour: mean score)",
            marker=_score_marker(surveys["score_100"], 13),
            customdata=surveys[["score_100"]],
            hovertemplate="%{y}, %{x|%Y-%m-%d}: mean score %{customdata[0]:.0f}<extra>Survey</extra>",
        )
    )
    return _timeline_layout(figure, timeline, account, "step by step")


def timeline_by_period(timeline: Timeline, account: str) -> go.Figure:
    """The timeline with one mark per period and touchpoint: a circle sized by the number of
    interactions, a diamond coloured by the survey results' mean score, whose details give
    its 95% interval and n."""
    grain = period_grain(timeline.events)
    periods = events_by_period(timeline.events, grain)
    figure = go.Figure()
    touched = periods[periods["interactions"] > 0]
    largest = max(1, int(touched["interactions"].max())) if not touched.empty else 1
    figure.add_trace(
        go.Scatter(
            x=touched["period"],
            y=touched["touchpoint"],
            mode="markers",
            name=f"Interactions in the {grain} (size: how many)",
            marker={
                "symbol": "circle",
                "color": PALETTE[0],
                "opacity": 0.7,
                "size": touched["interactions"],
                "sizemode": "area",
                "sizeref": 2.0 * largest / 22**2,
                "sizemin": 3,
            },
            customdata=touched[["interactions"]],
            hovertemplate=f"%{{y}}, {grain} of %{{x|%Y-%m-%d}}: %{{customdata[0]}} interactions"
            "<extra>Interactions</extra>",
        )
    )
    answered = periods[periods["surveys"] > 0]
    figure.add_trace(
        go.Scatter(
            x=answered["period"],
            y=answered["touchpoint"],
            mode="markers",
            name=f"Surveys answered in the {grain} (colour: mean score)",
            marker=_score_marker(answered["mean"], 11),
            customdata=answered[["mean", "low", "high", "surveys"]],
            hovertemplate=f"%{{y}}, {grain} of %{{x|%Y-%m-%d}}: mean score %{{customdata[0]:.0f}} "
            "(95% CI %{customdata[1]:.0f}–%{customdata[2]:.0f}), n = %{customdata[3]}<extra>Surveys</extra>",
        )
    )
    return _timeline_layout(figure, timeline, account, f"{grain} by {grain}")


def _score_marker(scores: pd.Series, size: int) -> dict[str, object]:
    return {
        "symbol": "diamond",
        "size": size,
        "color": scores,
        "colorscale": SCORE_SCALE,
        "cmin": 0,
        "cmax": 100,
        "line": {"width": 1, "color": "#000000"},
        "colorbar": {"title": {"text": "Score 0–100"}, "x": 1.02, "len": 0.6, "y": 0.35},
    }


def _timeline_layout(figure: go.Figure, timeline: Timeline, account: str, pace: str) -> go.Figure:
    events = timeline.events
    order = [name for name in timeline.touchpoints if name in set(events["touchpoint"])]
    figure.update_yaxes(categoryorder="array", categoryarray=order[::-1], title_text="Touchpoint")
    figure.update_xaxes(title_text="Date")
    figure = _layout(figure, f"What happened and how {account} felt, {pace}", 160 + 42 * len(order))
    figure.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"}
    )
    return figure


def segments_against_base(segments: pd.DataFrame) -> go.Figure:
    """For each measure, how much better (+) or worse (-) each segment does than the rest of
    the base, in percent, with its 95% interval; for the "days since" measures fewer days
    count as better."""
    figure = go.Figure()
    rows = segments[segments["segment"] != "Whole base"]
    names = [label for label, _ in MEASURES.values()]
    for index, row in enumerate(rows.itertuples(index=False)):
        values = [getattr(row, f"better_{code}") for code in MEASURES]
        lows = [getattr(row, f"better_{code}_low") for code in MEASURES]
        highs = [getattr(row, f"better_{code}_high") for code in MEASURES]
        counts = [[getattr(row, f"n_{code}"), getattr(row, f"n_rest_{code}")] for code in MEASURES]
        figure.add_trace(
            go.Bar(
                x=values,
                y=names,
                orientation="h",
                name=str(row.segment),
                marker={"color": PALETTE[index % len(PALETTE)]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [high - value for value, high in zip(values, highs, strict=True)],
                    "arrayminus": [value - low for value, low in zip(values, lows, strict=True)],
                },
                customdata=counts,
                hovertemplate="%{y}: %{x:+.0f}% against the rest of the base "
                "(n = %{customdata[0]:.0f} vs %{customdata[1]:.0f})<extra>" + str(row.segment) + "</extra>",
            )
        )
    figure.update_layout(barmode="group")
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(
        title_text="Better (+) or worse (−) than the rest of the base, % (95% CI)", zeroline=True
    )
    return _layout(
        figure, "Each segment against the rest of the base", 180 + 26 * len(rows) * len(names) // 2
    )


def correlation_forest(rows: pd.DataFrame, labels: Mapping[str, str], title: str) -> go.Figure:
    """Each correlation as a dot with its 95% interval; one colour per indicator. Rows that
    are not shown (too few pairs) are left out by the caller's table, not drawn as zero."""
    figure = go.Figure()
    drawn = rows[rows["shown"].astype(bool)]
    order: list[str] = []
    for index, (code, data) in enumerate(drawn.groupby("indicator", sort=False)):
        names = [f"{labels.get(str(code), str(code))} · {group}" for group in data["group"]]
        order += names
        figure.add_trace(
            go.Scatter(
                x=data["r"].astype(float),
                y=names,
                mode="markers",
                name=labels.get(str(code), str(code)),
                marker={"size": 10, "color": PALETTE[index % len(PALETTE)]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (data["high"] - data["r"]).astype(float),
                    "arrayminus": (data["r"] - data["low"]).astype(float),
                },
                customdata=data[["n", "low", "high"]].astype(float),
                hovertemplate="%{y}: r = %{x:.2f} (95% CI %{customdata[1]:.2f} to %{customdata[2]:.2f}, "
                "n = %{customdata[0]:.0f})<extra></extra>",
            )
        )
    figure.add_vline(x=0, line={"color": "#777777", "width": 1})
    figure.update_xaxes(range=[-1, 1], title_text="Correlation r with the next period (95% interval)")
    figure.update_yaxes(categoryorder="array", categoryarray=order[::-1])
    return _layout(figure, title, 140 + 24 * max(1, len(order)))


def correlation_grid(
    rows: pd.DataFrame, labels: Mapping[str, str], touchpoints: list[str], title: str
) -> go.Figure:
    """Touchpoint x indicator: r of each cell (blank where n is too small), teal positive,
    brown negative, with n beside r in every cell."""
    codes = [code for code in labels if code in set(rows["indicator"])]
    order = [name for name in touchpoints if name in set(rows["group"])]
    shown = rows[rows["shown"].astype(bool)]
    grid = shown.pivot(index="group", columns="indicator", values="r").reindex(index=order, columns=codes)
    counts = rows.pivot(index="group", columns="indicator", values="n").reindex(index=order, columns=codes)
    text = [
        ["" if pd.isna(r) else f"{r:.2f}<br>n = {int(n)}" for r, n in zip(r_row, n_row, strict=True)]
        for r_row, n_row in zip(grid.to_numpy(), counts.fillna(0).to_numpy(), strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=[labels[code] for code in codes],
            y=order,
            text=text,
            texttemplate="%{text}",
            customdata=counts.fillna(0).to_numpy(),
            hovertemplate="%{y} · %{x}: r = %{z:.2f} (n = %{customdata})<extra></extra>",
            colorscale="BrBG",
            zmin=-1,
            zmax=1,
            colorbar={"title": {"text": "r"}},
        )
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, title, 140 + 48 * len(order))
