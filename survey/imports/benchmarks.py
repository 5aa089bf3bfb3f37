"""Importing benchmark figures (industry studies, competitors' published scores).

A CSV row is one figure: who it describes, which indicator, which period, its value on a
stated scale, n, sd and the source. The whole file goes in, or nothing does, and the
report names every bad row and column.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from models.tables import Benchmark
from survey.imports.tabular import MAX_WHOLE, RowProblem, TableImportError, read_table, shown
from survey.imports.tabular import number as _number
from survey.instrument.definition import Instrument, load_instrument

COLUMNS = ("kind", "name", "indicator", "period", "value", "scale", "n", "sd", "source")
KINDS = ("competitor", "industry")
# ASCII digits only: int() and float() would also read other scripts' digits.
_PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?", re.ASCII)
_SCALE = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*[-–]\s*(-?\d+(?:\.\d+)?)\s*", re.ASCII)
_WHOLE = re.compile(r"[0-9]+")


class BenchmarkImportError(TableImportError):
    """A benchmark file was refused; ``problems`` names each bad row and column."""


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int


def period_bounds(period: str) -> tuple[date, date] | None:
    """First and last day of ``2026``, ``2026-Q2`` or ``2026-05``; None if not one of those."""
    match = _PERIOD.fullmatch(period.strip())
    if match is None:
        return None
    year = int(match["year"])
    if year < 1:  # there is no year 0
        return None
    if match["quarter"]:
        first_month = 3 * (int(match["quarter"]) - 1) + 1
        last_month = first_month + 2
    elif match["month"]:
        first_month = last_month = int(match["month"])
    else:
        first_month, last_month = 1, 12
    return date(year, first_month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])


def _indicator_code(instrument: Instrument, raw: str) -> str | None:
    wanted = raw.strip().lower().replace("-", " ").replace("_", " ")
    for indicator in instrument.indicators:
        names = {indicator.code, *indicator.label.values()}
        if wanted in {name.lower().replace("-", " ").replace("_", " ") for name in names}:
            return indicator.code
    return None


def _parse_row(number: int, cells: dict[str, str], instrument: Instrument) -> Benchmark | list[RowProblem]:
    """One figure, or every problem of its row."""
    problems: list[RowProblem] = []

    def bad(column: str, message: str) -> None:
        problems.append(RowProblem(number, column, message))

    if cells["kind"].lower() not in KINDS:
        bad("kind", f"'{shown(cells['kind'])}' is not competitor or industry")
    if not cells["name"] or len(cells["name"]) > 200:
        bad("name", "must be 1 to 200 characters")
    indicator = _indicator_code(instrument, cells["indicator"])
    if indicator is None:
        known = ", ".join(i.code for i in instrument.indicators)
        bad("indicator", f"'{shown(cells['indicator'])}' is not an indicator ({known})")
    bounds = period_bounds(cells["period"])
    if bounds is None:
        bad("period", f"'{shown(cells['period'])}' is not a year, quarter or month (2026, 2026-Q2, 2026-05)")
    scale = _SCALE.fullmatch(cells["scale"])
    low, high = (float(scale[1]), float(scale[2])) if scale else (0.0, 0.0)
    # A bound of hundreds of digits reads as infinity, and a figure on it has no 0-100 value.
    if not (low < high and math.isfinite(100 * (high - low))):
        bad("scale", f"'{shown(cells['scale'])}' is not a range such as 1-7 or 0-100")
        low = high = 0.0
    value = _number(cells["value"])
    if value is None:
        bad("value", f"'{shown(cells['value'])}' is not a number")
    elif low < high and not low <= value <= high:
        bad("value", f"{value:g} is outside the stated scale {low:g}-{high:g}")
    n: int | None = None
    if cells["n"]:
        whole = _WHOLE.fullmatch(cells["n"]) is not None
        # int() refuses thousands of digits; anything past ten is too large anyway.
        n = int(cells["n"]) if whole and len(cells["n"].lstrip("0")) <= 10 else None
        if whole and (n is None or n > MAX_WHOLE):
            bad("n", f"{shown(cells['n'])} is larger than {MAX_WHOLE:,}")
        elif n is None or n < 2:
            bad("n", f"'{shown(cells['n'])}' is not a whole number of at least 2")
    sd = _number(cells["sd"]) if cells["sd"] else None
    if cells["sd"] and (sd is None or not 0 <= sd < math.inf):
        bad("sd", f"'{shown(cells['sd'])}' is not a number of 0 or more")
    if not cells["source"] or len(cells["source"]) > 300:
        bad("source", "must say where the figure comes from (1 to 300 characters)")
    if problems or indicator is None or bounds is None or value is None:
        return problems
    return Benchmark(
        kind=cells["kind"].lower(),
        name=cells["name"],
        indicator=indicator,
        period=cells["period"],
        period_start=bounds[0],
        period_end=bounds[1],
        value=value,
        scale_min=low,
        scale_max=high,
        value_100=100 * (value - low) / (high - low),
        n=n,
        sd=sd,
        source=cells["source"],
        imported_at=datetime.now(UTC),
    )


def stored_benchmarks(session: Session) -> list[Benchmark]:
    """Every imported figure, by indicator and period."""
    return list(
        session.exec(select(Benchmark).order_by(col(Benchmark.indicator), col(Benchmark.period_start))).all()
    )


def parse_benchmarks(data: bytes, instrument: Instrument | None = None) -> list[Benchmark]:
    """Validate a benchmark CSV completely; raise ``BenchmarkImportError`` naming each problem."""
    instrument = instrument or load_instrument()
    try:
        table = read_table(data, COLUMNS)
    except TableImportError as exc:
        raise BenchmarkImportError(exc.problems) from exc
    problems: list[RowProblem] = list(table.problems)
    figures: list[Benchmark] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for number, cells in table.rows:
        parsed = _parse_row(number, cells, instrument)
        if isinstance(parsed, list):
            problems += parsed
            continue
        key = (parsed.name, parsed.indicator, parsed.period, parsed.source)
        if key in seen:
            problems.append(
                RowProblem(number, "row", f"repeats row {seen[key]} (same name, indicator, period, source)")
            )
            continue
        seen[key] = number
        figures.append(parsed)
    if problems:
        raise BenchmarkImportError(sorted(problems, key=lambda problem: problem.row))
    if not figures:
        raise BenchmarkImportError([RowProblem(2, "file", "has no figures")])
    return figures


def import_benchmarks(session: Session, data: bytes) -> ImportSummary:
    """Validate, then add or update every figure; a re-import creates no duplicates."""
    figures = parse_benchmarks(data)
    added = updated = 0
    for figure in figures:
        existing = session.exec(
            select(Benchmark).where(
                Benchmark.name == figure.name,
                Benchmark.indicator == figure.indicator,
                Benchmark.period == figure.period,
                Benchmark.source == figure.source,
            )
        ).first()
        if existing is None:
            session.add(figure)
            added += 1
            continue
        for field in ("kind", "period_start", "period_end", "value", "scale_min", "scale_max", "value_100"):
            setattr(existing, field, getattr(figure, field))
        existing.n, existing.sd, existing.imported_at = figure.n, figure.sd, figure.imported_at
        session.add(existing)
        updated += 1
    session.flush()
    return ImportSummary(added=added, updated=updated)
