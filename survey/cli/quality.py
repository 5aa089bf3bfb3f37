"""``cfa``: confirmatory factor analysis and measurement invariance of any item data, or of the
app's own responses, as one JSON object."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import click


def _finite(value: Any) -> Any:
    """JSON has no NaN: undefined figures are ``null``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _factors(specs: tuple[str, ...]) -> dict[str, list[str]]:
    factors: dict[str, list[str]] = {}
    for spec in specs:
        name, sign, items = spec.partition("=")
        names = [item.strip() for item in items.split(",")]
        if not sign or not name.strip() or any(not item for item in names):
            raise click.ClickException(f"--factor {spec!r}: use NAME=ITEM,ITEM,… with no empty names")
        if name.strip() in factors:
            raise click.ClickException(f"--factor {name.strip()} is given twice")
        factors[name.strip()] = names
    return factors


def _month(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError as error:
        raise click.ClickException(f"--since {text!r}: use YYYY-MM, e.g. 2026-01") from error


@click.command("cfa")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file (UTF-8, header in row 1), one column per item; empty cells are missing answers.",
)
@click.option(
    "--responses",
    is_flag=True,
    help="Use the app's responses (DATABASE_URL) and the six indicators' statements, reverse-keyed.",
)
@click.option(
    "--factor",
    "factor_specs",
    multiple=True,
    help="NAME=ITEM,ITEM,… (repeatable); the first item is the marker. With --responses: item codes.",
)
@click.option(
    "--group", default=None, help="Column to test invariance across (--responses: language|version|segment)."
)
@click.option(
    "--since", default=None, help="With --responses: only responses submitted from this month, YYYY-MM."
)
def cfa_command(
    csv_path: Path | None,
    responses: bool,
    factor_specs: tuple[str, ...],
    group: str | None,
    since: str | None,
) -> None:
    """Confirmatory factor analysis by maximum likelihood, as lavaan's cfa() defaults.

    Prints one JSON object. Without --group: chisq, df, cfi, tli, rmsea, rmsea_ci90, srmr, n,
    omega, ave, loadings (standardised), factor_correlations and htmt ("A~B"). With --group:
    configural, metric and scalar (each chisq, df and fit), the difference tests
    (metric_vs_configural, scalar_vs_metric with delta_cfi and delta_rmsea), the level that
    holds, and the items whose intercepts differ. Rows missing any item are left out (listwise).
    """
    from survey.quality.cfa import fit_cfa
    from survey.quality.data import QualityInputError, Structure, read_item_csv
    from survey.quality.invariance import measure_invariance

    if (csv_path is None) == (not responses):
        raise click.ClickException("give either --csv FILE or --responses")
    try:
        if csv_path is not None:
            if not factor_specs:
                raise click.ClickException("--csv needs at least one --factor NAME=ITEM,ITEM,…")
            if since is not None:
                raise click.ClickException("--since applies to --responses only")
            structure = Structure.of(_factors(factor_specs))
            frame = read_item_csv(csv_path, structure.items, group)
        else:
            structure, frame = _responses(factor_specs, group, _month(since))
        if group is None:
            result: dict[str, Any] = fit_cfa(frame, structure).as_json_dict()
        else:
            result = measure_invariance(frame, structure, group).as_json_dict()
    except QualityInputError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(_finite(result), ensure_ascii=False, allow_nan=False))


def _responses(factor_specs: tuple[str, ...], group: str | None, since: date | None) -> tuple[Any, Any]:
    from models.db import session_scope
    from survey.instrument.definition import load_instrument
    from survey.operations.startup import prepare_database
    from survey.quality.data import Structure
    from survey.quality.responses import GROUP_COLUMNS, item_frame, shared_structure, six_factor_structure

    if group is not None and group not in GROUP_COLUMNS:
        raise click.ClickException(f"--group {group!r}: with --responses use language, version or segment")
    prepare_database()
    with session_scope() as session:
        if factor_specs:
            structure = Structure.of(_factors(factor_specs))
        else:
            structure = six_factor_structure(load_instrument())
        frame = item_frame(session, structure.items, since=since)
    if not factor_specs and group == "version":
        versions = sorted({int(v) for v in frame["version"].unique()})
        if len(versions) > 1:
            structure = shared_structure(versions)
    if frame.empty:
        raise click.ClickException("no responses" + (f" since {since:%Y-%m}" if since else ""))
    return structure, frame
