"""Plotly figures, in one colour-blind-safe palette."""
