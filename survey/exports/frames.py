"""Small tables a page offers for download (My accounts, comments): CSV or Excel, with every
text cell neutralised against spreadsheet formulas (``survey/exports/safety.py``)."""

from __future__ import annotations

import io

import pandas as pd

from survey.exports.safety import neutralise


def _safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = [neutralise(v) if isinstance(v, str) else v for v in out[column]]
    return out


def frame_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens it as UTF-8."""
    return _safe(frame).to_csv(index=False).encode("utf-8-sig")


def frame_xlsx(frame: pd.DataFrame, sheet: str) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        _safe(frame).to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()
